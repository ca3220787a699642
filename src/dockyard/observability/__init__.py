"""Metrics, access log, health checks and the debug server (``http.debug``, ``health``)."""

from typing import Any

from dockyard.config import Config


class NullObserver:
    """Records nothing; replaced by the metrics and access-log observer."""

    def on_request(self, request: Any, duration: float) -> None:
        return None


class AlwaysHealthy:
    """Health when no check is configured."""

    healthy = True

    def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def build_observer(config: Config) -> NullObserver:
    """The per-request observer: metrics and the access log."""
    return NullObserver()


def build_health(config: Config) -> AlwaysHealthy:
    """The health checks ``health`` configures, run in each worker."""
    return AlwaysHealthy()


def start_debug_server(config: Config) -> Any:
    """Start the ``http.debug.addr`` server in the parent process; None when not configured."""
    return None
