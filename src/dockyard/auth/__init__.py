"""Authentication and authorisation for the registry API (``auth`` in config.yml)."""

from dockyard.auth.base import AccessController
from dockyard.config import Config


def build_access_controller(config: Config) -> AccessController | None:
    """The controller ``auth`` configures, or None when the registry is open."""
    return None
