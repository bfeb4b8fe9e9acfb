"""Signing keys and the JWKS: generated or loaded from PEM, several at once for rotation."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ._jwt import b64url, rs256_sign


class KeyFileError(ValueError):
    """A key file that cannot be used."""


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """One RSA key pair; `kid` is its RFC 7638 thumbprint."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    kid: str

    @classmethod
    def from_private_key(cls, key: rsa.RSAPrivateKey) -> SigningKey:
        numbers = key.public_key().public_numbers()
        canonical = json.dumps(
            {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)},
            separators=(",", ":"),
            sort_keys=True,
        )
        return cls(key, b64url(hashlib.sha256(canonical.encode()).digest()))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
        }

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class KeySet:
    """The tenant's keys: all published in the JWKS, one of them signing."""

    _CACHE_SIZE = 4096

    def __init__(self, keys: Sequence[SigningKey], signing_kid: str | None = None) -> None:
        if not keys:
            raise ValueError("a key set needs at least one key")
        self._lock = threading.Lock()
        self._keys = list(keys)
        self._signing = self._find(signing_kid) if signing_kid else self._keys[0]
        # RS256 (PKCS#1 v1.5) signatures are deterministic, so remembering recent ones
        # changes no output; it spares re-signing identical claims within the same second.
        self._signatures: OrderedDict[bytes, bytes] = OrderedDict()

    @classmethod
    def generate(cls, count: int = 1) -> KeySet:
        return cls([SigningKey.generate() for _ in range(count)])

    @classmethod
    def from_pem_file(cls, path: str | Path) -> KeySet:
        """Load every RSA private key in a PEM file; the first one signs."""
        source = Path(path)
        try:
            text = source.read_bytes()
        except OSError as exc:
            raise KeyFileError(f"{source}: cannot read the key file ({exc.strerror})") from None
        blocks = _PEM_BLOCK.findall(text)
        keys = []
        for number, block in enumerate(blocks, 1):
            try:
                key = serialization.load_pem_private_key(block, password=None)
            except (ValueError, TypeError):
                raise KeyFileError(
                    f"{source}: PEM block {number} is not an unencrypted private key"
                ) from None
            if not isinstance(key, rsa.RSAPrivateKey):
                raise KeyFileError(
                    f"{source}: PEM block {number} is not an RSA key (RS256 needs RSA)"
                )
            keys.append(SigningKey.from_private_key(key))
        if not keys:
            raise KeyFileError(f"{source}: no PEM private key found")
        return cls(keys)

    def write_pem_file(self, path: str | Path) -> None:
        """Write every private key (signing key first) so later runs issue verifiable tokens."""
        ordered = [self._signing, *(k for k in self._keys if k is not self._signing)]
        Path(path).write_bytes(b"".join(k.private_pem() for k in ordered))

    def _find(self, kid: str) -> SigningKey:
        for key in self._keys:
            if key.kid == kid:
                return key
        raise KeyError(f"no key with kid {kid!r}")

    @property
    def signing_kid(self) -> str:
        return self._signing.kid

    @property
    def kids(self) -> list[str]:
        return [key.kid for key in self._keys]

    def use(self, kid: str) -> None:
        """Sign with the key `kid` from now on (it stays published, as do the others)."""
        with self._lock:
            self._signing = self._find(kid)

    def rotate(self) -> str:
        """Add a new key, sign with it, keep the old ones in the JWKS; return the new kid."""
        key = SigningKey.generate()
        with self._lock:
            self._keys.append(key)
            self._signing = key
        return key.kid

    def retire(self, kid: str) -> None:
        """Remove a key from the JWKS (tokens it signed stop verifying)."""
        with self._lock:
            key = self._find(kid)
            if key is self._signing:
                raise ValueError("cannot retire the signing key; use() another one first")
            self._keys.remove(key)

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        for key in self._keys:
            if key.kid == kid:
                return key.private_key.public_key()
        return None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self._keys]}

    def sign(self, data: bytes) -> bytes:
        """Sign `data` with the signing key (RS256)."""
        key = self._signing
        cache_key = key.kid.encode() + b"\0" + data
        with self._lock:
            cached = self._signatures.get(cache_key)
        if cached is not None:
            return cached
        signature = rs256_sign(key.private_key, data)
        with self._lock:
            self._signatures[cache_key] = signature
            if len(self._signatures) > self._CACHE_SIZE:
                self._signatures.popitem(last=False)
        return signature

    def __repr__(self) -> str:
        return f"KeySet(kids={self.kids!r}, signing={self.signing_kid!r})"


_PEM_BLOCK = re.compile(rb"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


@functools.lru_cache(maxsize=1)
def _shared_key() -> SigningKey:
    return SigningKey.generate()


def shared_keys() -> KeySet:
    """A key set over one key generated once per process (RSA generation is slow)."""
    return KeySet([_shared_key()])
