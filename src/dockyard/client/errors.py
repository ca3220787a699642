"""The client's errors: each ``str()`` is one human line that says what went wrong.

The CLI prefixes the verb and the image (``tags localhost:5000/team/app: ...``), so these
messages name the registry's reason, not the image.
"""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error the client raises on purpose; ``str()`` is one line."""


class TransportError(ClientError):
    """The registry could not be reached, or the connection broke, after the retries."""


class RegistryError(ClientError):
    """The registry answered with an error status (and usually the spec's error envelope)."""

    def __init__(self, registry: str, status: int, code: str | None, message: str) -> None:
        self.registry = registry
        self.status = status
        self.code = code
        self.message = message
        super().__init__(self._line())

    def _line(self) -> str:
        reason = " ".join(part for part in (self.code, self.message) if part)
        if self.code:
            return f"registry refused: {reason}"
        return f"registry answered HTTP {self.status}" + (f": {reason}" if reason else "")


class NotFound(RegistryError):
    """404 for a manifest, blob or repository."""


class Unsupported(RegistryError):
    """The registry does not implement the operation (405, or 400 with UNSUPPORTED)."""


class DigestMismatch(ClientError):
    """Bytes received did not hash to the digest that was asked for."""

    def __init__(self, expected: str, actual: str, what: str = "content") -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"digest mismatch: {what} should be {expected} but hashes to {actual}")
