"""Cassettes: record scrubbed live traffic with VCR.py, replay it with the network blocked."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from ._scrub import Scrubber, ScrubError

Mode = Literal["live", "record", "replay"]
# No body matching: a replayed request carries a placeholder secret, and a failed match must
# not print a body. Each cassette holds one exchange, so method and URL are enough.
MATCH_ON = ("method", "scheme", "host", "port", "path", "query")
RECORD_HINT = "pytest suites/live --live --record-mode=rewrite"


class CassetteMissing(LookupError):
    """Replay was asked for, but the cassette was never recorded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"no cassette {path}: record it against the sandbox with `{RECORD_HINT}` "
            "(see docs/live.md)"
        )


class ReplayError(RuntimeError):
    """The cassette cannot answer what the suite asked; the message holds no body."""


def vcr_config(secrets: Iterable[str] = (), scrubber: Scrubber | None = None) -> dict[str, Any]:
    """VCR.py options (also a pytest-recording `vcr_config`) that scrub before writing.

    `secrets` are hidden wherever they appear, in any spelling; credentials, secret and token
    fields, token-shaped values in token places and token signatures are removed whatever the
    body's Content-Type or compression (a body that cannot be decoded raises `ScrubError`).
    """
    scrub = scrubber or Scrubber(secrets)
    return {
        "before_record_request": scrub.request,
        "before_record_response": scrub.response,
        "match_on": MATCH_ON,
        # The scrubber decodes compressed bodies itself: it must see them decoded.
        "decode_compressed_response": False,
    }


class Recorder:
    """Opens the cassette of one exchange as the mode asks: none, recording or replaying."""

    def __init__(self, mode: Mode, directory: Path, scrubber: Scrubber) -> None:
        self.mode, self.directory, self.scrubber = mode, directory, scrubber

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.yaml"

    @contextmanager
    def cassette(self, name: str) -> Iterator[Any]:
        """Yield the VCR.py cassette for exchange `name` (None when live, unrecorded)."""
        if self.mode == "live":
            yield None
            return
        import vcr
        from pytest_recording.network import blocking_context
        from vcr.errors import CannotOverwriteExistingCassetteException

        path = self.path(name)
        recorder = vcr.VCR(**vcr_config(scrubber=self.scrubber))
        if self.mode == "record":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # a token and its verdict come from one run
            try:
                with recorder.use_cassette(str(path), record_mode="all") as cassette:
                    yield cassette
            except ScrubError as exc:  # what could not be scrubbed was not written
                raise ScrubError(f"{path}: {exc}", exc.codec) from None
            return
        if not path.is_file():
            raise CassetteMissing(path)
        try:
            with (
                blocking_context(),
                recorder.use_cassette(str(path), record_mode="none") as cassette,
            ):
                yield cassette
        except CannotOverwriteExistingCassetteException as exc:
            # VCR.py's own message may quote the request; say what is missing instead.
            reason = getattr(exc, "reason", "no_match")
            raise ReplayError(
                f"{path} has no recorded answer for a request of this run ({reason}); "
                f"the suite and the cassette disagree: re-record with `{RECORD_HINT}`"
            ) from None


def remember(cassette: Any, key: str, value: Any) -> Any:
    """Store `value` in the cassette when recording; return the recorded one when replaying."""
    if cassette is None:
        return value
    from vcr.errors import CannotOverwriteExistingCassetteException

    try:
        return cassette.get_metadata(key, value)
    except CannotOverwriteExistingCassetteException:
        raise ReplayError(
            f"{cassette.path} lacks the recorded {key!r}: it was not recorded by this suite; "
            f"re-record with `{RECORD_HINT}`"
        ) from None
