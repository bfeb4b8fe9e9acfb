"""The live smoke test of the sandbox tenant, run here by `pytest suites/live --live` (and
replayed offline from cassettes/ by plain `pytest`): the packaged suite, as partners import it.
See docs/live.md."""

from m2m_contract.suite import test_live

__all__ = ["test_live"]
