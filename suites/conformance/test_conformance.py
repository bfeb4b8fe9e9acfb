"""The conformance suite of the reference client, run by plain `pytest` here.

The client under test is named in pyproject.toml (`m2m_client_py`); a partner's repository
names its own with --m2m-client-cmd / --m2m-client-py, or the same ini keys.
"""

from m2m_contract.suite import test_conformance

__all__ = ["test_conformance"]
