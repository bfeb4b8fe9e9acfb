"""Root conftest: the m2m-contract plugin itself is loaded through its pytest11 entry point."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci")

pytest_plugins = ["pytester"]

# The modules that take longest (each puts clients through many scenarios, or waits out
# deadlines) start first, so that the xdist workers finish together rather than one of them
# running these alone at the end. A stable sort: the order within each part is unchanged.
SLOW_FIRST = (
    "tests/stress/test_determinism.py",
    "suites/conformance/",
    "tests/conformance/test_good_clients.py",
    "tests/client/test_deadline.py",
    "tests/conformance/test_mutants.py",
    "tests/harness/test_boot.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, part in enumerate(SLOW_FIRST) if item.nodeid.startswith(part)),
            len(SLOW_FIRST),
        )

    items.sort(key=rank)
