"""Compact JWS (RS256) encoding and decoding; pure apart from the keys handed in."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not text or any(ch in text for ch in "=+/ \t\r\n"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def _json(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def signing_input(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bytes:
    return f"{b64url(_json(header))}.{b64url(_json(claims))}".encode("ascii")


def rs256_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def rs256_verify(key: rsa.RSAPublicKey, data: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class ParsedJWT:
    """A JWS split into its parts; nothing verified yet."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse(token: str) -> ParsedJWT:
    """Split and decode a compact JWS; raise ValueError with a short reason."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("the token is not a JWT (it must have three dot-separated parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a header such as b64url("[[[[...") nests deeper than json allows.
        raise ValueError("the token's parts are not base64url-encoded JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("the token's header and claims must be JSON objects")
    return ParsedJWT(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)
