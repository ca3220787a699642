"""Runs the registry under granian, the ASGI server measured fastest for this workload.

The parent process validates the configuration and migrates the database once; workers
rebuild the application from the effective configuration handed over in the environment, so
every worker serves exactly what ``dockyard serve`` checked.
"""

import logging
import os
from pathlib import Path
from typing import Any

from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops

from dockyard.app import build_app
from dockyard.auth import build_access_controller
from dockyard.config import Config
from dockyard.config_support import unsupported_settings
from dockyard.gc.lock import hold_serving_lock
from dockyard.logs import configure_logging
from dockyard.metadata.importer import import_distribution_tree
from dockyard.metadata.store import MetadataStore
from dockyard.notifications.settings import parse_endpoints
from dockyard.observability import start_debug_server
from dockyard.tls import granian_tls_options

EFFECTIVE_CONFIG_ENV = "DOCKYARD_EFFECTIVE_CONFIG"
WORKERS_ENV = "DOCKYARD_WORKERS"
log = logging.getLogger("dockyard.server")


def serve(config: Config, workers: int = 1) -> None:
    """Serve until SIGINT/SIGTERM; granian then finishes in-flight requests before exiting."""
    _configure_logging(config)
    for line in unsupported_settings(config):
        log.warning("unsupported config: %s", line)
    parse_endpoints(config.notifications)  # Bad settings stop the start here, not in workers;
    build_access_controller(config)        # this also creates a missing htpasswd file once.
    MetadataStore(config.metadata_url, migrate=True).close()
    imported = import_distribution_tree(config)
    if imported.manifests or imported.blob_links:
        log.info("indexed an existing registry:2 tree: %d repositories, %d manifests, %d tags, "
                 "%d blob links, %d skipped", imported.repositories, imported.manifests,
                 imported.tags, imported.blob_links, len(imported.skipped))
    serving_lock = hold_serving_lock(config)  # noqa: F841 - held until the process exits
    start_debug_server(config)
    os.environ[EFFECTIVE_CONFIG_ENV] = config.to_json()
    os.environ[WORKERS_ENV] = str(workers)
    tls = granian_tls_options(config)
    scheme = "https" if tls else "http"
    where = _listen_options(config)
    log.info("listening on %s://%s, storage at %s", scheme,
             where.get("uds") or f"{where.get('address')}:{where.get('port')}",
             config.root_directory)
    Granian(
        target="dockyard.server:app_from_environment",
        factory=True,
        **where,
        interface=Interfaces.ASGI,
        loop=Loops.uvloop,
        http=HTTPModes.auto if tls else HTTPModes.http1,  # HTTP/2 needs ALPN, so TLS.
        websockets=False,
        workers=workers,
        log_level=_granian_level(config.log.level),
        workers_kill_timeout=_drain_seconds(config),
        **tls,
    ).serve()


def _listen_options(config: Config) -> dict[str, Any]:
    """A TCP address, or a unix socket when ``http.net: unix`` (``http.addr`` is its path)."""
    if config.http.net == "unix":
        return {"uds": Path(config.http.addr)}
    host, port = config.listen_address()
    return {"address": host, "port": port}


def _drain_seconds(config: Config) -> int | None:
    """``http.draintimeout``: how long shutdown waits for requests in flight (None: no limit)."""
    seconds = config.http.draintimeout.total_seconds()
    return max(int(seconds), 1) if seconds > 0 else None


def app_from_environment() -> Any:
    """The worker-side factory: the app for the configuration the parent validated."""
    config = Config.from_json(os.environ[EFFECTIVE_CONFIG_ENV])
    _configure_logging(config)
    # The metadata cache is exact only when one process makes every write.
    return build_app(config, migrate=False, cache=os.environ.get(WORKERS_ENV, "1") == "1")


def _configure_logging(config: Config) -> None:
    configure_logging(config.log.level, config.log.formatter, dict(config.log.fields))


def _granian_level(level: str) -> Any:
    from granian.log import LogLevels

    return {"error": LogLevels.error, "warn": LogLevels.warning, "debug": LogLevels.debug}.get(
        level, LogLevels.info)
