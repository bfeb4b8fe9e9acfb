"""Throwaway TLS material for the HTTPS door: a CA and a server certificate it signed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway CA and a server certificate it signed, written to a directory."""

    ca_bundle: Path
    certfile: Path
    keyfile: Path


def make_tls_files(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
) -> TLSFiles:
    """Create a CA (trustme) and a certificate for `hosts`; return the file paths (the private
    key is readable by its owner only)."""
    import trustme

    ca = trustme.CA(organization_name="m2m-contract throwaway CA")
    cert = ca.issue_cert(*hosts)
    files = TLSFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_bundle))
    fd = os.open(files.keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(cert.private_key_pem.bytes())
    with files.certfile.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    return files
