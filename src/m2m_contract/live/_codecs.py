"""Undo a recorded body's Content-Encoding, or refuse it: what cannot be decoded cannot be
scrubbed, so it is never written. gzip (several members), x-gzip, deflate (zlib or raw), br
and zstd (several frames; brotli and zstandard are dependencies), stacked codings; a decoded
body over MAX_DECODED is refused too (no decompression bomb is written)."""

from __future__ import annotations

import importlib
import re
import zlib
from collections.abc import Callable
from typing import cast

__all__ = ["CODINGS", "DECOMPRESSORS", "MAX_DECODED", "ScrubError", "decode", "decode_body"]

MAX_DECODED = 64 << 20  # a larger decoded body is refused: no decompression bomb is written


class ScrubError(ValueError):
    """A message that cannot be scrubbed, so it is not recorded: the error says why (the
    Content-Encoding it names, say), never what the body holds. VCR.py lets it through."""

    def __init__(self, message: str, codec: str = "") -> None:
        super().__init__(message)
        self.codec = codec


def _inflate(body: bytes, wbits: int, *, members: bool = False) -> bytes:
    out, data = bytearray(), body
    while True:
        stream = zlib.decompressobj(wbits)
        out += stream.decompress(data, MAX_DECODED + 1 - len(out))
        if stream.unconsumed_tail or len(out) > MAX_DECODED:
            raise _TooLarge
        if not stream.eof:
            raise zlib.error("the stream is cut short")
        data = stream.unused_data
        if not (members and data.strip(b"\0")):  # some servers pad gzip with zeros
            return bytes(out)


def _deflate(body: bytes) -> bytes:
    try:
        return _inflate(body, zlib.MAX_WBITS)
    except zlib.error:  # raw deflate, as some servers send it
        return _inflate(body, -zlib.MAX_WBITS)


def _brotli() -> Callable[[bytes], bytes] | None:
    # Optional, as for httpx (which only asks for br when it is installed).
    for name in ("brotli", "brotlicffi"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return cast(Callable[[bytes], bytes], module.decompress)
    return None


def _zstd() -> Callable[[bytes], bytes] | None:
    try:
        import zstandard
    except ImportError:
        return None

    def decompress(body: bytes) -> bytes:  # every frame: a server may send several
        out, data = bytearray(), body
        while data:
            stream = zstandard.ZstdDecompressor().decompressobj()
            out += stream.decompress(data)
            if len(out) > MAX_DECODED:
                raise _TooLarge
            if not stream.eof:
                raise ValueError("the stream is cut short")
            data = stream.unused_data
        return bytes(out)

    return decompress


class _TooLarge(Exception):
    pass


def _decompressors() -> dict[str, Callable[[bytes], bytes]]:
    found: dict[str, Callable[[bytes], bytes] | None] = {
        "identity": lambda body: body,
        "gzip": lambda body: _inflate(body, 16 + zlib.MAX_WBITS, members=True),
        "x-gzip": lambda body: _inflate(body, 16 + zlib.MAX_WBITS, members=True),
        "deflate": _deflate,
        "br": _brotli(),
        "zstd": _zstd(),
    }
    return {name: codec for name, codec in found.items() if codec is not None}


CODINGS = ("identity", "gzip", "x-gzip", "deflate", "br", "zstd")
DECOMPRESSORS = _decompressors()
_MISSING = {"br": "brotli", "zstd": "zstandard"}


def decode(body: bytes, content_encoding: str) -> bytes:
    """Undo a Content-Encoding (codings applied left to right, so undone right to left);
    `ScrubError` naming the coding when one is unknown, missing or does not decode."""
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",")]):
        shown = re.sub(r"[^a-z0-9.+-]", "?", coding)[:24]
        decompress = DECOMPRESSORS.get(coding) if coding else DECOMPRESSORS["identity"]
        if decompress is None:
            reason = (
                f"needs the {_MISSING[coding]!r} package, not installed"
                if coding in _MISSING
                else f"is unknown (known: {', '.join(CODINGS)})"
            )
            raise ScrubError(f"Content-Encoding {shown!r} {reason}", shown)
        try:
            body = decompress(body)
            if coding not in ("", "identity") and len(body) > MAX_DECODED:  # brotli's check
                raise _TooLarge
        except _TooLarge:
            raise ScrubError(
                f"Content-Encoding {shown!r}: decoded, the body is over {MAX_DECODED} bytes", shown
            ) from None
        except Exception:  # every codec has its own errors; none is shown (it may quote data)
            reason = f"the body does not decode as Content-Encoding {shown!r}"
            raise ScrubError(reason, shown) from None
    return body


def decode_body(body: bytes, content_encoding: str) -> bytes | None:
    """`decode`, or None when the body cannot be decoded."""
    try:
        return decode(body, content_encoding)
    except ScrubError:
        return None
