"""Scrub recorded traffic before VCR.py writes it: no secret, credential or usable token.

`Scrubber.request` and `Scrubber.response` are VCR.py's `before_record_request` and
`before_record_response` hooks. Every part of a message goes through the one vocabulary of
secrets (`m2m_contract._secrets`): the URL (userinfo, query and fragment keys and values),
every header and cookie, and the body, decoded first (`decode`) and read as what it is,
whatever its Content-Type says: JSON when it parses (`+json` and text/plain too), a form or
multipart body when it says so, text otherwise. A body that cannot be decoded is refused
with a `ScrubError`, never written. Access tokens that are JWTs keep their header and claims
(replayed checks read them) but lose their signature; every other credential becomes
REDACTED. What is hidden as a token or a secret is learned, so later messages lose it too,
in any spelling; each message is walked twice, so what its body teaches also leaves its
headers.

`Walk` is one pass over the parts of a message. Given a `report`, it also says where each
thing it hides was: the cassette hygiene check (`_hygiene`) is the same walk, reporting.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from .._secrets import (
    AUTH_SCHEMES,
    MIN_SPELLED,
    REDACTED,
    URL,
    Finding,
    Kind,
    Known,
    find_structural,
    find_url,
    is_credential_cookie,
    is_credential_header,
    is_scrubbed,
    is_secret_key,
    is_token_key,
    is_url_header,
    looks_like_token,
    normalise_key,
    redact,
    redact_header,
    redact_url,
    unsign,
)
from ._codecs import CODINGS, DECOMPRESSORS, MAX_DECODED, ScrubError, decode, decode_body

__all__ = [
    "CODINGS",
    "DECOMPRESSORS",
    "MAX_DECODED",
    "Report",
    "ScrubError",
    "Scrubber",
    "Walk",
    "decode",
    "decode_body",
    "unsign",
]

# -- the walk ------------------------------------------------------------------------------

Report = Callable[[str, Finding], None]  # (where, what): never the value
Headers = dict[str, list[str]]

MAX_PARTS_DEPTH = 4  # multipart inside multipart, at most


class _NotJson:
    pass


_NOT_JSON = _NotJson()


def _field_kind(key: str) -> Kind | None:
    return "secret" if is_secret_key(key) else "token" if is_token_key(key) else None


class Walk:
    """One pass of the vocabulary over the parts of messages: returns each part scrubbed,
    learns into `known` every token or secret it hides, and tells `report` where it was."""

    def __init__(self, known: Known, report: Report | None = None) -> None:
        self.known, self.report = known, report

    # -- what is found ---------------------------------------------------------------------

    def learn(self, kind: Kind, value: str) -> None:
        """Seek `value` from now on; a short one (a word, a scheme) would blank out prose."""
        if len(value) >= MIN_SPELLED and not is_scrubbed(value):
            self.known.add(f"a {kind} seen in the traffic", value, kind=kind)

    def token(self, value: str) -> str:
        """An access token made unusable (the vocabulary's `on_token`), learned first."""
        self.learn("token", value)
        return unsign(value, self.known)

    def _note(self, where: str, *found: Finding) -> None:
        if self.report is not None:
            for finding in found:
                self.report(where, finding)

    def _seek(self, where: str, text: str, structural: list[Finding]) -> None:
        """Report the structural findings of a place, or else the known values in it."""
        if self.report is not None:
            self._note(where, *(structural or self.known.find(text)))

    def _hide(self, where: str, kind: Kind, key: str, value: Any, spelling: str) -> Any:
        """The value of a secret or token field: REDACTED, or unsigned if a JWT token; unless
        it is a placeholder already, reported and learned first."""
        if isinstance(value, str) and is_scrubbed(value):
            return unsign(value, self.known) if kind == "token" else REDACTED
        self._note(where, Finding(f"the {normalise_key(key)} field's value", spelling, kind))
        if isinstance(value, str):
            return self.token(value) if kind == "token" else self._secret(value)
        return REDACTED

    def _secret(self, value: str) -> str:
        self.learn("secret", value)
        return REDACTED

    # -- the parts -------------------------------------------------------------------------

    def text(self, text: str, where: str = "") -> str:
        """Free text: known values, secret and token fields, credentials, JWTs, URLs."""
        if self.report is not None:
            found = find_structural(text)
            for url in URL.finditer(text):
                found += find_url(url.group())
            self._seek(where, text, found)
        text = URL.sub(lambda m: redact_url(m.group(), self.known, on_token=self.token), text)
        return redact(text, self.known, on_token=self.token)

    def url(self, url: str, where: str = "") -> str:
        """A URL, absolute or not: userinfo, query and fragment, path."""
        if self.report is not None:
            self._seek(where, url, find_url(url))
        return redact_url(url, self.known, on_token=self.token)

    def json(self, value: Any, where: str = "") -> Any:
        """Parsed JSON: secret and token fields by key at any depth, every string as text.
        As in JSON text, a number is hidden too, true, false and null are not."""
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, list):
            return [self.json(item, where) for item in value]
        if not isinstance(value, dict):
            return value
        clean: dict[str, Any] = {}
        for key, item in value.items():
            kind = _field_kind(str(key))
            hidden = isinstance(item, str | int | float) and not isinstance(item, bool)
            if kind is not None and hidden:
                item = self._hide(where, kind, str(key), item, "in JSON")
            else:
                item = self.json(item, where)
            clean[self.text(str(key), where)] = item
        return clean

    def form(self, text: str, where: str = "") -> str:
        """A form (or query) body: each key and value decoded, judged, encoded again."""
        out = []
        for piece in text.split("&"):
            key, eq, value = piece.partition("=")
            name = unquote_plus(key, errors="surrogateescape")
            decoded = unquote_plus(value, errors="surrogateescape")
            kind = _field_kind(name)
            if kind is not None and decoded:
                clean = self._hide(where, kind, name, decoded, "in a form")
            else:
                clean = self.text(decoded, where)
            if clean != decoded:
                value = quote_plus(clean, safe="-._~", errors="surrogateescape")
            if (clean_name := self.text(name, where)) != name:
                key = quote_plus(clean_name, safe="-._~", errors="surrogateescape")
            out.append(f"{key}{eq}{value}")
        return "&".join(out)

    def header(self, name: str, value: str, where: str = "") -> str:
        """One header value: cookies and credentials become REDACTED (credentials keep their
        scheme), URL headers are URLs, any other header is text."""
        lower = name.strip().lower()
        if lower in ("cookie", "set-cookie"):
            self._cookies(value, where, set_cookie=lower == "set-cookie")
            return redact_header(name, value, self.known)
        if is_credential_header(name):
            self._credentials(lower, value, where)
            return redact_header(name, value, self.known)
        return self.url(value, where) if is_url_header(name) else self.text(value, where)

    def _cookies(self, value: str, where: str, *, set_cookie: bool) -> None:
        pairs = value.split(";")[:1] if set_cookie else value.split(";")
        found = []
        for pair in pairs:
            name, _, cookie = pair.strip().partition("=")
            cookie = cookie.strip().strip('"')
            if cookie and not is_scrubbed(cookie) and is_credential_cookie(name, cookie):
                self.learn("token", cookie)
                named = is_credential_cookie(name, "")
                label = f"the {normalise_key(name)} cookie's value" if named else ""
                label = label or "a token-shaped cookie value"
                found.append(Finding(label, "in a cookie", "token"))
        self._seek(where, value, found)

    def _credentials(self, name: str, value: str, where: str) -> None:
        scheme, space, credentials = value.strip().partition(" ")
        if not (space and scheme.lower() in AUTH_SCHEMES):
            scheme, credentials = "", value.strip()
        credentials = credentials.strip()
        if not credentials or is_scrubbed(credentials):
            return
        basic = scheme.lower() == "basic"
        kind: Kind = "secret" if basic or is_secret_key(name) else "token"
        self.learn(kind, credentials)
        if basic:
            try:
                pair = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            if ":" in pair:
                self.learn("secret", unquote_plus(pair.partition(":")[2]))
        self._note(where, Finding(f"the {name} header's credentials", "in a header", kind))

    def headers(self, headers: Mapping[str, list[str]], where: str = "") -> Headers:
        """Every header: its name through the known values, each of its values judged."""
        clean: Headers = {}
        for name, values in headers.items():
            shown = "(a token-shaped name)" if looks_like_token(name) else name.strip().lower()
            place = f"{where} header {shown}".strip()
            self._seek(place, name, [])
            clean[self.known.redact(name)] = [self.header(name, v, place) for v in values]
        return clean

    def body(self, body: bytes, content_type: str, where: str = "", depth: int = 0) -> bytes:
        """A decoded body, read as JSON if it parses, else as its Content-Type says."""
        if not body:
            return body
        media, params = _media_type(content_type)
        if media.startswith("multipart/") and params.get("boundary") and depth < MAX_PARTS_DEPTH:
            return self._multipart(body, params["boundary"], where, depth)
        charset = _charset(params.get("charset"))
        text = body.decode(charset, "surrogateescape")
        parsed = _json(text)
        if not isinstance(parsed, _NotJson):
            clean = self.json(parsed, where)
            changed = clean != parsed or find_structural(text) or self.known.find(text)
            # Re-serialised only when something was hidden: duplicate keys collapse then.
            if changed:
                text = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
        elif media == "application/x-www-form-urlencoded":
            text = self.form(text, where)
        else:
            text = self.text(text, where)
        try:
            return text.encode(charset, "surrogateescape")
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogateescape")

    def _multipart(self, body: bytes, boundary: str, where: str, depth: int) -> bytes:
        delimiter = b"--" + boundary.encode("latin-1", "replace")
        chunks = body.split(delimiter)
        out = [self._bytes(chunks[0], where)]  # the preamble
        for number, chunk in enumerate(chunks[1:], 1):
            if chunk.startswith(b"--"):  # the closing delimiter, then the epilogue
                out.append(b"--" + self._bytes(chunk[2:], where))
            else:
                out.append(self._part(chunk, f"{where} (multipart part {number})", depth))
        return delimiter.join(out)

    def _part(self, chunk: bytes, where: str, depth: int) -> bytes:
        crlf = chunk.find(b"\r\n\r\n")
        lf = chunk.find(b"\n\n")
        if crlf < 0 and lf < 0:
            return self._bytes(chunk, where)
        cut, blank = (crlf, b"\r\n\r\n") if crlf >= 0 and (lf < 0 or crlf < lf) else (lf, b"\n\n")
        head, content = chunk[:cut], chunk[cut + len(blank) :]
        newline = blank[: len(blank) // 2]
        ending = newline if content.endswith(newline) else b""
        content = content[: len(content) - len(ending)]
        headers = _part_headers(head.decode("utf-8", "surrogateescape"))
        clean_head = newline.join(
            f"{name}: {self.header(name, value, where)}".encode("utf-8", "surrogateescape")
            if name
            else value.encode("utf-8", "surrogateescape")
            for name, value in headers
        )
        info = Message()
        for name, value in headers:
            if name:
                info[name] = value
        field = collapse_rfc2231_value(info.get_param("name", "", header="content-disposition"))
        kind = _field_kind(field)
        text = content.decode("utf-8", "surrogateescape").strip()
        if kind is not None and text:
            hidden = self._hide(where, kind, field, text, "in a multipart field")
            content = str(hidden).encode()
        elif str(info.get("content-transfer-encoding", "")).strip().lower() == "base64":
            content = self._base64_part(content, info.get_content_type(), where, depth)
        else:
            content = self.body(content, str(info.get("content-type", "")), where, depth + 1)
        return clean_head + blank + content + ending

    def _base64_part(self, content: bytes, content_type: str, where: str, depth: int) -> bytes:
        try:
            decoded = base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError):
            return self._bytes(content, where)
        clean = self.body(decoded, content_type, where, depth + 1)
        return content if clean == decoded else base64.encodebytes(clean).rstrip(b"\n")

    def _bytes(self, raw: bytes, where: str) -> bytes:
        if not raw.strip():
            return raw
        return self.text(raw.decode("utf-8", "surrogateescape"), where).encode(
            "utf-8", "surrogateescape"
        )

    def message(
        self, headers: Mapping[str, list[str]], body: bytes | None, where: str = ""
    ) -> tuple[Headers, bytes | None]:
        """A message's headers and (decoded) body, scrubbed; Content-Length made to fit."""
        clean = self.headers(headers, where)
        if body is None:
            return clean, None
        content_type = _first(headers, "content-type") or ""
        body = self.body(body, content_type, f"{where} body".strip())
        if _first(clean, "content-length") is not None:
            _set(clean, "content-length", str(len(body)))
        return clean, body


class Scrubber:
    """Removes the given secrets (in any spelling), every credential and every token
    signature it sees, and whatever it learns on the way; thread-safe.

    `Scrubber(secrets)`, or `Scrubber(known=...)` to share a `Known` with other redaction.
    """

    def __init__(
        self,
        secrets: Iterable[str | tuple[str, str]] = (),
        *,
        client_id: str | None = None,
        known: Known | None = None,
    ) -> None:
        self.known = known if known is not None else Known()
        for item in secrets:
            label, value = item if isinstance(item, tuple) else ("a secret", item)
            self.known.add(label, value, client_id=client_id)

    def __repr__(self) -> str:
        return f"Scrubber({len(self.known)} known values)"

    def __deepcopy__(self, memo: dict[int, Any]) -> Scrubber:
        # pytest-recording deep-copies `vcr_config`; its hooks must keep sharing what they
        # learned.
        return self

    def learn(self, secret: str) -> None:
        """Hide `secret` (in any spelling) from now on."""
        if isinstance(secret, str):
            self.known.add("a secret", secret)

    # -- parts, for callers that scrub text of their own -----------------------------------

    def text(self, text: str) -> str:
        return Walk(self.known).text(text)

    def token(self, token: str) -> str:
        return Walk(self.known).token(token)

    def value(self, value: Any) -> Any:
        return Walk(self.known).json(value)

    def url(self, url: str) -> str:
        return Walk(self.known).url(url)

    def headers(self, headers: Mapping[str, list[str]]) -> Headers:
        return Walk(self.known).headers(headers)

    def body(self, body: bytes, content_type: str) -> bytes:
        return Walk(self.known).body(body, content_type)

    def message(
        self, headers: Mapping[str, list[str]], body: bytes | None, url: str | None = None
    ) -> tuple[Headers, bytes | None, str | None]:
        """Decode, then walk twice (the first walk learns), one message; `ScrubError` when
        its body cannot be decoded."""
        headers = {name: list(values) for name, values in headers.items()}
        encoding = _first(headers, "content-encoding")
        if body and encoding is not None:
            body = decode(body, encoding)
            _drop(headers, "content-encoding")
        walk = Walk(self.known)
        try:
            for _ in range(2):
                clean_url = walk.url(url) if url is not None else None
                clean, clean_body = walk.message(headers, body)
        except RecursionError:
            raise ScrubError("the body is nested too deeply to be scrubbed") from None
        return clean, clean_body, clean_url

    # -- the VCR.py hooks ------------------------------------------------------------------

    def request(self, request: Any) -> Any:
        """VCR.py `before_record_request`: a scrubbed copy of the request."""
        from vcr.request import Request

        body = _body_bytes(getattr(request, "body_bytes", request.body))
        headers = {str(k): [str(v)] for k, v in request.headers.items()}
        try:
            clean, clean_body, uri = self.message(headers, body, str(request.uri))
        except ScrubError as exc:
            raise ScrubError(f"refusing to record a request: {exc}", exc.codec) from None
        return Request(request.method, uri, clean_body, {k: v[0] for k, v in clean.items()})

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """VCR.py `before_record_response`: decoded, its tokens learned, scrubbed (a copy)."""
        body_field = response.get("body")
        body = body_field.get("string") if isinstance(body_field, dict) else None
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        headers = {str(k): _values(v) for k, v in (response.get("headers") or {}).items()}
        url = response.get("url")
        try:
            clean, clean_body, clean_url = self.message(
                headers, body, url if isinstance(url, str) else None
            )
        except ScrubError as exc:
            raise ScrubError(f"refusing to record a response: {exc}", exc.codec) from None
        out = {**response, "headers": clean}
        if isinstance(body_field, dict):
            out["body"] = {**body_field, "string": clean_body}
        if clean_url is not None:
            out["url"] = clean_url
        status = response.get("status")
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            out["status"] = {**status, "message": self.text(status["message"])}
        return out


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    info = Message()
    info["content-type"] = content_type or "application/octet-stream"
    params = {str(k).lower(): str(v) for k, v in info.get_params(failobj=[])[1:]}
    return content_type.split(";", 1)[0].strip().lower(), params


def _charset(name: str | None) -> str:
    """The declared charset if Python knows it and it is a text one, else UTF-8."""
    try:
        found = codecs.lookup(name or "utf-8")
    except (LookupError, ValueError):
        return "utf-8"
    return found.name if found._is_text_encoding else "utf-8"


def _part_headers(head: str) -> list[tuple[str, str]]:
    """A part's header lines as (name, value); a line that is no header as ("", line)."""
    out = []
    for line in head.splitlines():
        name, colon, value = line.partition(":")
        fine = colon and name.strip() and " " not in name.strip()
        out.append((name.strip(), value.strip()) if fine else ("", line))
    return out


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _body_bytes(raw: Any) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    if hasattr(raw, "getvalue"):
        return bytes(raw.getvalue())
    if isinstance(raw, list):
        return b"".join(p.encode() if isinstance(p, str) else bytes(p) for p in raw)
    return bytes(raw)


def _first(headers: Mapping[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name and values:
            return values[0]
    return None


def _drop(headers: Headers, name: str) -> None:
    for key in [k for k in headers if k.lower() == name]:
        del headers[key]


def _set(headers: Headers, name: str, value: str) -> None:
    key = next((k for k in headers if k.lower() == name), name)
    headers[key] = [value]
