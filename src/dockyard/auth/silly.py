"""``auth.silly``: Distribution's development-only controller.

Any ``Authorization`` header is accepted (user ``silly``); a request without one gets a
``Bearer`` challenge naming the realm, service and scopes. Never use it in production.
"""

from dockyard.auth.base import Access, Grant, Unauthorized
from dockyard.auth.challenge import FullAccess, bearer_challenge


class SillyAccessController:
    """Grants everything to any request that carries an Authorization header."""

    def __init__(self, realm: str, service: str):
        self.realm = realm
        self.service = service

    def authorize(self, authorization: str | None, accesses: list[Access]) -> Grant:
        if not authorization:
            needed = tuple(accesses)
            raise Unauthorized(bearer_challenge(self.realm, self.service, needed),
                               "authentication required", needed)
        return FullAccess("silly")
