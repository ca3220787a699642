"""Checking that bytes hash to the digest they were asked for."""

from __future__ import annotations

from dockyard.client.errors import DigestMismatch
from dockyard.core.digest import Digest, InvalidDigest


def parse(digest: str) -> Digest:
    """``Digest.parse`` with the client's error type (a registry sent a malformed digest)."""
    try:
        return Digest.parse(digest)
    except InvalidDigest as error:
        raise DigestMismatch(digest, "(malformed)", str(error)) from None


def compute(data: bytes, algorithm: str = "sha256") -> str:
    return str(Digest.of_bytes(data, algorithm))


def verify(data: bytes, expected: str, what: str = "content") -> None:
    """Raise :class:`DigestMismatch` unless ``data`` hashes to ``expected``."""
    wanted = parse(expected)
    actual = compute(data, wanted.algorithm)
    if actual != str(wanted):
        raise DigestMismatch(str(wanted), actual, what)


class StreamVerifier:
    """Hash chunks as they pass; :meth:`check` at the end raises on a mismatch."""

    def __init__(self, expected: str, what: str = "blob") -> None:
        self.expected = parse(expected)
        self.what = what
        self._hash = self.expected.hasher()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    def check(self) -> None:
        actual = f"{self.expected.algorithm}:{self._hash.hexdigest()}"
        if actual != str(self.expected):
            raise DigestMismatch(str(self.expected), actual, self.what)
