"""What an access controller decides, independent of HTTP and of how credentials are checked.

The HTTP layer works out which accesses a request needs (Distribution's scopes:
``repository:<name>:pull,push``, ``registry:catalog:*``) and asks the controller; the
controller either grants them or raises :class:`Unauthorized` with the challenge to send.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Access:
    """One resource and the actions wanted on it, as in a token scope."""

    type: str
    name: str
    actions: tuple[str, ...]

    def scope(self) -> str:
        """The scope string, e.g. ``repository:team/app:pull,push``."""
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


class Unauthorized(Exception):
    """Credentials are missing, invalid or insufficient; ``challenge`` is WWW-Authenticate."""

    def __init__(self, challenge: str, message: str = "authentication required",
                 accesses: tuple[Access, ...] = ()):
        self.challenge = challenge
        self.message = message
        self.accesses = accesses
        super().__init__(message)


class Grant(Protocol):
    """What an authenticated request may do."""

    @property
    def user(self) -> str | None: ...

    def allows(self, access: Access) -> bool:
        """Whether this grant covers ``access`` (used for a mount's source repository)."""


class AccessController(Protocol):
    """Checks a request's Authorization header against the accesses it needs."""

    def authorize(self, authorization: str | None, accesses: list[Access]) -> Grant:
        """A grant covering ``accesses``, or raise :class:`Unauthorized`."""


@dataclass(frozen=True, slots=True)
class Anonymous:
    """The grant when no auth is configured: everything is allowed."""

    user: str | None = None

    def allows(self, access: Access) -> bool:
        return True
