"""The slim process that runs granian, after ``dockyard serve`` has prepared everything.

``serve`` validates the configuration, migrates and indexes the metadata, takes the serving
lock, then replaces itself (``exec``) with this module, so the long-lived parent that
supervises the workers carries granian and the debug server, not the whole registry and its
database libraries: the serving process tree is about 40 MiB lighter for it.
"""

import logging
import os
from pathlib import Path
from typing import Any

from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.log import LogLevels

from dockyard.config import Config
from dockyard.logs import configure_logging
from dockyard.observability import start_debug_server
from dockyard.tls import granian_tls_options

EFFECTIVE_CONFIG_ENV = "DOCKYARD_EFFECTIVE_CONFIG"
WORKERS_ENV = "DOCKYARD_WORKERS"
log = logging.getLogger("dockyard.server")


def run_granian(config: Config, workers: int) -> None:
    """Serve until SIGINT/SIGTERM; granian then finishes in-flight requests before exiting."""
    start_debug_server(config)
    tls = granian_tls_options(config)
    where = listen_options(config)
    log.info("listening on %s://%s, storage at %s", "https" if tls else "http",
             where.get("uds") or f"{where.get('address')}:{where.get('port')}",
             config.root_directory)
    Granian(
        target="dockyard.worker:app_from_environment",
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


def listen_options(config: Config) -> dict[str, Any]:
    """A TCP address, or a unix socket when ``http.net: unix`` (``http.addr`` is its path)."""
    if config.http.net == "unix":
        return {"uds": Path(config.http.addr)}
    host, port = config.listen_address()
    return {"address": host, "port": port}


def _drain_seconds(config: Config) -> int | None:
    """``http.draintimeout``: how long shutdown waits for requests in flight (None: no limit)."""
    seconds = config.http.draintimeout.total_seconds()
    return max(int(seconds), 1) if seconds > 0 else None


def _granian_level(level: str) -> LogLevels:
    return {"error": LogLevels.error, "warn": LogLevels.warning, "debug": LogLevels.debug}.get(
        level, LogLevels.info)


def main() -> None:
    """Entry point after ``exec``: the configuration comes from the environment."""
    config = Config.from_json(os.environ[EFFECTIVE_CONFIG_ENV])
    configure_logging(config.log.level, config.log.formatter, dict(config.log.fields))
    run_granian(config, int(os.environ.get(WORKERS_ENV, "1")))


if __name__ == "__main__":
    main()
