"""The ``http.debug.addr`` server, run by the parent process in daemon threads.

* ``/debug/health``: 200 ``{}``, or 503 with ``{check name: error}`` of the failing checks,
  which the parent runs itself (the same ``health`` checks each worker runs).
* ``http.debug.prometheus.path`` (default ``/metrics``), when
  ``http.debug.prometheus.enabled``: every worker's metrics, summed.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from dockyard.observability import metrics
from dockyard.observability.health import ThreadedHealth

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger("dockyard.debug")
HEALTH_PATH = "/debug/health"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class DebugServer:
    """Listening as soon as it is built; :meth:`start` serves in a daemon thread."""

    def __init__(self, host: str, port: int, health: ThreadedHealth,
                 metrics_path: str | None = None, metrics_dir: str | None = None) -> None:
        self.health = health
        self.metrics_path = metrics_path
        self.metrics_dir = metrics_dir
        self.registry: CollectorRegistry | None = None
        if metrics_path is not None:
            self.registry = (metrics.multiprocess_registry(metrics_dir) if metrics_dir
                             else metrics.enable().registry)
        server_class = _IPv6Server if ":" in host else _Server
        self.httpd = server_class((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self.health.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.1,), daemon=True,
                                        name="dockyard-debug-server")
        self._thread.start()
        log.info("debug server listening on %s:%d", *self.address)

    def stop(self) -> None:
        self.health.stop()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread = None
        self.httpd.server_close()

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """``(status, content type, body)`` for a GET of ``path``."""
        path = path.split("?", 1)[0]
        if path == HEALTH_PATH:
            failures = self.health.failures()
            return (503 if failures else 200), "application/json; charset=utf-8", \
                json.dumps(failures).encode()
        if self.registry is not None and path == self.metrics_path:
            from prometheus_client import CONTENT_TYPE_LATEST

            return 200, CONTENT_TYPE_LATEST, metrics.scrape(self.registry, self.metrics_dir)
        return 404, "text/plain; charset=utf-8", b"404 page not found\n"


def _handler_for(server: DebugServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(send_body=False)

        def _answer(self, send_body: bool) -> None:
            try:
                status, content_type, body = server.answer(self.path)
            except Exception:
                log.exception("debug server failed on %s", self.path)
                status, content_type, body = 500, "text/plain; charset=utf-8", b"error\n"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("debug server: " + format, *args)

    return Handler
