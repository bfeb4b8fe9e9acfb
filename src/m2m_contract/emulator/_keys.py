"""Signing keys and the JWKS: generated or loaded from PEM; the signing key and the next one.

Auth0 publishes two keys, the current (signing) one and the next; rotating promotes the next
and publishes a new next, the previous key staying published until it is retired. Each key
is published with a self-signed certificate (`x5c`) and its SHA-1 thumbprint (`x5t`), as
Auth0's JWKS carries them, under an opaque 21-character `kid` derived from the public key
(so a key file gives the same `kid`, certificate and thumbprint on every run).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ._jwt import b64url, rs256_sign

CERT_SUBJECT = "m2m-contract emulator"
# Fixed dates: the same key always gives the same certificate, byte for byte.
CERT_NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
CERT_NOT_AFTER = dt.datetime(2044, 1, 1, tzinfo=dt.UTC)
KID_LENGTH = 21  # Auth0's kids look like tMQzailSAdaW4nojXxES9


class KeyFileError(ValueError):
    """A key file that cannot be used."""


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _spki(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class SigningKey:
    """One RSA key pair; `kid` is opaque, derived from the public key."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    kid: str

    @classmethod
    def from_private_key(cls, key: rsa.RSAPrivateKey) -> SigningKey:
        return cls(key, b64url(hashlib.sha256(_spki(key)).digest())[:KID_LENGTH])

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @functools.cached_property
    def certificate(self) -> bytes:
        """A self-signed X.509 certificate of this key, DER-encoded (the JWK's x5c[0])."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_SUBJECT)])
        public = self.private_key.public_key()
        serial = int.from_bytes(hashlib.sha256(_spki(self.private_key)).digest()[:9], "big")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(serial | 1)  # positive and non-zero, as RFC 5280 asks
            .not_valid_before(CERT_NOT_BEFORE)
            .not_valid_after(CERT_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.private_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)

    @functools.cached_property
    def _jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        der = self.certificate
        # The order of a real Auth0 tenant's JWKS.
        return {
            "kty": "RSA",
            "use": "sig",
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
            "kid": self.kid,
            "x5t": b64url(hashlib.sha1(der).digest()),  # RFC 7517 §4.8 names SHA-1
            "x5c": [base64.b64encode(der).decode("ascii")],
            "alg": "RS256",
        }

    def jwk(self) -> dict[str, Any]:
        return dict(self._jwk, x5c=list(self._jwk["x5c"]))

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class KeySet:
    """The tenant's keys: all published in the JWKS; one signs, the one after it is next."""

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
    def generate(cls, count: int = 2) -> KeySet:
        """`count` new keys: the first signs, the second is next (as Auth0 publishes)."""
        return cls([SigningKey.generate() for _ in range(count)])

    @classmethod
    def from_pem_file(cls, path: str | Path) -> KeySet:
        """Load every RSA private key in a PEM file; the first one signs, the second is next."""
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
        """Write every private key (signing key first, then the next) so that later runs
        issue verifiable tokens; the file is readable by its owner only (mode 0600)."""
        with self._lock:
            upcoming = self._next()
            first = [self._signing, *([upcoming] if upcoming else [])]
            ordered = [*first, *(k for k in self._keys if k not in first)]
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
            out.write(b"".join(k.private_pem() for k in ordered))

    def _find(self, kid: str) -> SigningKey:
        for key in self._keys:
            if key.kid == kid:
                return key
        raise KeyError(f"no key with kid {kid!r}")

    def _next(self) -> SigningKey | None:
        at = self._keys.index(self._signing)
        return self._keys[at + 1] if at + 1 < len(self._keys) else None

    @property
    def signing_kid(self) -> str:
        return self._signing.kid

    @property
    def next_kid(self) -> str | None:
        """The key published after the signing key: the one rotation promotes."""
        with self._lock:
            key = self._next()
        return key.kid if key else None

    @property
    def kids(self) -> list[str]:
        return [key.kid for key in self._keys]

    def ensure_next(self) -> None:
        """Publish a new next key if none follows the signing key (Auth0 always has one)."""
        if self.next_kid is None:
            key = SigningKey.generate()
            with self._lock:
                self._keys.insert(self._keys.index(self._signing) + 1, key)

    def use(self, kid: str) -> None:
        """Sign with the key `kid` from now on (it stays published, as do the others)."""
        with self._lock:
            self._signing = self._find(kid)

    def rotate(self) -> str:
        """Promote the next key to signing and publish a new next one (the previous key stays
        published until retired); return the new signing kid."""
        fresh = SigningKey.generate()
        spare = None if self.next_kid else SigningKey.generate()
        with self._lock:
            promoted = self._next()
            if promoted is None:  # no next key yet: the spare becomes the signing key
                assert spare is not None
                self._keys.append(spare)
                promoted = spare
            self._signing = promoted
            self._keys.insert(self._keys.index(promoted) + 1, fresh)
        return promoted.kid

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
        return {"keys": [key.jwk() for key in list(self._keys)]}

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


_SHARED: dict[int, SigningKey] = {}
_SHARED_LOCK = threading.Lock()


def _shared_key(slot: int) -> SigningKey:
    # One generation per slot: emulators starting side by side wait for it rather than each
    # generating its own (lru_cache would let every thread generate at once).
    with _SHARED_LOCK:
        if slot not in _SHARED:
            _SHARED[slot] = SigningKey.generate()
        return _SHARED[slot]


def shared_keys() -> KeySet:
    """A key set over two keys (signing and next) generated once per process (RSA generation
    is slow); each call gives a fresh set, so a rotation stays with its emulator."""
    return KeySet([_shared_key(0), _shared_key(1)])
