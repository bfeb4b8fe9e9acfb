"""The conformance suite, run by plain `pytest` (options: see `pytest --help`, group
m2m-contract). The same test `m2m-contract verify` runs from an installed package."""

from m2m_contract.harness._suite.test_conformance import test_conformance

__all__ = ["test_conformance"]
