"""What partners import into their own pytest suites.

    # tests/test_m2m_conformance.py
    from m2m_contract.suite import test_conformance

then `pytest --m2m-client-cmd ./my-client` (or `--m2m-client-py mypkg.m2m:run`) puts that
client through every scenario; `m2m-contract verify` runs this same test.

    # tests/test_m2m_live.py
    from m2m_contract.suite import test_live

then `pytest --live` checks the sandbox tenant (recording cassettes with
`--record-mode=rewrite`), and plain `pytest` replays them offline; `m2m-contract live` runs
this same test. See docs/conformance.md and docs/live.md.
"""

from .test_conformance import test_conformance
from .test_live import test_live

__all__ = ["test_conformance", "test_live"]
