"""What partners import into their own pytest suites.

    # tests/test_m2m_conformance.py
    from m2m_contract.suite import test_conformance

then `pytest --m2m-client-cmd ./my-client` (or `--m2m-client-py mypkg.m2m:run`) puts that
client through every scenario; `m2m-contract verify` runs this same test. See
docs/conformance.md ("In your own pytest suite").
"""

from .test_conformance import test_conformance

__all__ = ["test_conformance"]
