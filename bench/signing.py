"""The RS256 signing limit of this machine, and the emulator's in-process token rate.

`openssl speed rsa2048` (one core) is the reference; Python's `cryptography` (what the
emulator signs with) is measured beside it; the in-process door (the httpx transport, no
sockets) is timed as shipped, and with its signature cache sized 0 (every token signed), on
one thread and on one thread per core. Used by bench/emulator_http.py.
"""

from __future__ import annotations

import importlib.metadata
import shlex
import shutil
import subprocess
import time
from typing import Any

import httpx
from common import SetupError

INPROC_MAX_REQUESTS = 1_000_000
INPROC_BASE_URL = "https://loyaltyone-sandbox-pin.auth0.com"
TOKEN_BODY: dict[str, str] = {
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "grant_type": "client_credentials",
    "scope": "read:members",
}


def openssl_rsa2048(seconds: int) -> dict[str, Any]:
    openssl = shutil.which("openssl")
    if openssl is None:
        return {"error": "openssl not found"}
    argv = [openssl, "speed", "-seconds", str(seconds), "rsa2048"]
    completed = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=seconds * 8 + 60,
        check=False,
    )
    header: list[str] | None = None
    values: list[str] | None = None
    for line in completed.stdout.splitlines():
        parts = line.split()
        if "sign/s" in parts:
            header = parts
        elif len(parts) > 3 and parts[0] == "rsa" and parts[1] == "2048" and parts[2] == "bits":
            values = parts[3:]
    if completed.returncode != 0 or header is None or values is None:
        return {"error": f"could not parse `{shlex.join(argv)}`: {completed.stdout[-500:]}"}
    table = dict(zip(header, values, strict=False))
    version = subprocess.run(
        [openssl, "version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    return {
        "command": shlex.join(argv),
        "version": version,
        "sign_per_s": float(table["sign/s"]),
        "verify_per_s": float(table["verify/s"]),
    }


def python_rs256_sign_rate(seconds: float) -> dict[str, Any]:
    """RS256 signatures/s through `cryptography` (what the emulator signs with), one core."""
    from cryptography.hazmat.backends.openssl import backend
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 400
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while count < INPROC_MAX_REQUESTS and time.perf_counter() < deadline:
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    elapsed = time.perf_counter() - start
    return {
        "sign_per_s": round(count / elapsed, 1),
        "cryptography": importlib.metadata.version("cryptography"),
        "openssl": backend.openssl_version_text(),
    }


def in_process_rate(
    seconds: float, *, signature_cache: bool = True, workers: int = 1
) -> dict[str, Any]:
    """Tokens/s of the emulator through its httpx transport: no sockets, `workers` threads.

    With `signature_cache=False` the emulator gets a fresh key set whose signature cache is
    sized 0 for the duration, so that every token is signed afresh. Several workers share one
    emulator (each with its own httpx client), as the threads of a test suite would.
    """
    import threading

    from m2m_contract.emulator import Emulator, EmulatorTransport, KeySet, _keys

    saved: int | None = getattr(_keys.KeySet, "_CACHE_SIZE", None)
    uncached = not signature_cache and saved is not None
    if uncached:
        _keys.KeySet._CACHE_SIZE = 0
    counts = [0] * workers
    failures = [0] * workers
    try:
        emulator = Emulator(keys=KeySet.generate()) if uncached else Emulator()
        transport = EmulatorTransport(emulator)
        with httpx.Client(transport=transport, base_url=INPROC_BASE_URL) as client:
            sample = client.post("/oauth/token", json=TOKEN_BODY)
            if sample.status_code != 200:
                raise SetupError(
                    f"in-process POST /oauth/token answered {sample.status_code}: "
                    f"{sample.text[:300]}"
                )
            for _ in range(50):  # warm-up
                client.post("/oauth/token", json=TOKEN_BODY)
        start = time.perf_counter()
        deadline = start + seconds

        def work(index: int) -> None:
            with httpx.Client(transport=transport, base_url=INPROC_BASE_URL) as own:
                while counts[index] < INPROC_MAX_REQUESTS and time.perf_counter() < deadline:
                    if own.post("/oauth/token", json=TOKEN_BODY).status_code != 200:
                        failures[index] += 1
                    counts[index] += 1

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 30)
        elapsed = time.perf_counter() - start
    finally:
        if saved is not None:
            _keys.KeySet._CACHE_SIZE = saved
    count = sum(counts)
    return {
        "requests": count,
        "duration_s": round(elapsed, 3),
        "tokens_per_s": round(count / elapsed, 1),
        "non_200": sum(failures),
        "signature_cache": not uncached,
        "workers": workers,
        "base_url": INPROC_BASE_URL,
    }
