"""Metrics, access log, health checks and the debug server (``http.debug``, ``health``).

* :func:`build_observer` (each worker): per-request metrics and the access log.
* :func:`build_health` (each worker): the ``health`` checks that gate the API with 503.
* :func:`start_debug_server` (the parent, before workers start): ``/debug/health`` and the
  Prometheus endpoint, and ``PROMETHEUS_MULTIPROC_DIR`` for the workers.

Storage and service code record through :mod:`dockyard.observability.metrics`
(:func:`observe_storage`, :func:`time_storage`, :func:`cache_hit`, :func:`cache_miss`,
:func:`track_upload`); those are no-ops while metrics are off.
"""

from __future__ import annotations

import logging
from typing import Any

from dockyard.config import Config, ConfigError
from dockyard.config_env import split_host_port
from dockyard.observability import metrics
from dockyard.observability.access_log import AccessLog, access_log_enabled
from dockyard.observability.debug_server import DebugServer
from dockyard.observability.health import Health, ThreadedHealth, build_checks
from dockyard.observability.metrics import (
    cache_error,
    cache_hit,
    cache_miss,
    observe_storage,
    time_storage,
    track_upload,
    upload_finished,
    upload_started,
)

__all__ = [
    "AlwaysHealthy",
    "NullObserver",
    "Observer",
    "build_health",
    "build_observer",
    "cache_error",
    "cache_hit",
    "cache_miss",
    "metrics_enabled",
    "observe_storage",
    "start_debug_server",
    "time_storage",
    "track_upload",
    "upload_finished",
    "upload_started",
]

log = logging.getLogger("dockyard.observability")


class NullObserver:
    """Records nothing: metrics off and the access log disabled."""

    def on_request(self, request: Any, duration: float) -> None:
        return None


class Observer:
    """Runs after every request: metrics first, then the access-log line."""

    __slots__ = ("metrics", "access_log")

    def __init__(self, recorder: metrics.Metrics | None, access_log: AccessLog | None) -> None:
        self.metrics = recorder
        self.access_log = access_log

    def on_request(self, request: Any, duration: float) -> None:
        try:
            if self.metrics is not None:
                self.metrics.observe_request(request.method, request.route, request.status,
                                             duration, request.bytes_in, request.bytes_out)
            if self.access_log is not None:
                self.access_log.log(request, duration)
        except Exception:  # observing must never turn into the request's failure
            log.exception("could not record %s %s", request.method, request.path)


class AlwaysHealthy:
    """Health when no check is configured."""

    healthy = True

    def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def failures(self) -> dict[str, str]:
        return {}


def metrics_enabled(config: Config) -> bool:
    """Metrics are recorded when the debug server exposes them."""
    debug = config.http.debug
    return bool(debug.addr) and debug.prometheus.enabled


def build_observer(config: Config) -> Observer | NullObserver:
    """The per-request observer: metrics and the access log."""
    recorder = metrics.enable() if metrics_enabled(config) else None
    access = AccessLog() if access_log_enabled(config) else None
    if recorder is None and access is None:
        return NullObserver()
    return Observer(recorder, access)


def build_health(config: Config) -> Health | AlwaysHealthy:
    """The health checks ``health`` configures, run in each worker."""
    checks = build_checks(config)
    return Health(checks) if checks else AlwaysHealthy()


def start_debug_server(config: Config) -> DebugServer | None:
    """Start the ``http.debug.addr`` server in the parent process; None when not configured.

    Returns once the socket listens (a busy address is a :class:`ConfigError`, as
    Distribution exits on it); requests are served by daemon threads.
    """
    debug = config.http.debug
    if not debug.addr:
        return None
    metrics_path = None
    metrics_dir = None
    if debug.prometheus.enabled:
        # Before anything imports prometheus_client, and before granian forks workers.
        metrics_dir = metrics.prepare_multiprocess_dir()
        metrics_path = debug.prometheus.path or "/metrics"
        if not metrics_path.startswith("/"):
            metrics_path = "/" + metrics_path
    host, port = split_host_port(debug.addr)
    try:
        server = DebugServer(host, port, ThreadedHealth(build_checks(config)), metrics_path,
                             metrics_dir)
    except OSError as error:
        raise ConfigError(f"config: http.debug.addr: cannot listen on {debug.addr}: "
                          f"{error.strerror or error}", ["http.debug.addr"]) from None
    if server.registry is not None:
        from dockyard.quota.gauges import register_quota_gauges
        register_quota_gauges(server.registry, config)
    server.start()
    return server
