"""Root conftest: the m2m-contract plugin itself is loaded through its pytest11 entry point."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci")

pytest_plugins = ["pytester"]
