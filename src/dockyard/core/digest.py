"""Content digests (``algorithm:hex``) as the OCI image spec defines them.

Only the algorithms registries actually exchange are accepted, with their exact hex lengths
and lowercase hex, because a digest is also a storage path.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Any

HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_DIGEST = re.compile(r"(sha256|sha512):([a-f0-9]+)", re.ASCII)


class InvalidDigest(ValueError):
    """The text is not a digest Dockyard accepts."""


@dataclass(frozen=True, slots=True)
class Digest:
    """A parsed digest; ``str(d)`` is its canonical text."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> "Digest":
        """Parse ``text`` or raise :class:`InvalidDigest` saying why."""
        match = _DIGEST.fullmatch(text)
        if match is None:
            raise InvalidDigest(f"invalid digest {text[:200]!r}: expected sha256:<64 hex> "
                                "or sha512:<128 hex> in lowercase")
        algorithm, hexpart = match.groups()
        if len(hexpart) != HEX_LENGTHS[algorithm]:
            raise InvalidDigest(f"invalid digest {text[:200]!r}: {algorithm} needs "
                                f"{HEX_LENGTHS[algorithm]} hex characters, got {len(hexpart)}")
        return cls(algorithm, hexpart)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> "Digest":
        """The digest of ``data``."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> Any:
        """A fresh hashlib object of this digest's algorithm."""
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def is_valid_digest(text: str) -> bool:
    """True when ``text`` parses as a :class:`Digest`."""
    try:
        Digest.parse(text)
    except InvalidDigest:
        return False
    return True
