"""Small helpers shared by the observability tests."""

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from dockyard.api.http import Request

T = TypeVar("T")


def eventually(probe: Callable[[], T], accept: Callable[[T], bool], timeout: float = 30,
               step: float = 0.05) -> T:
    """Call ``probe`` until ``accept`` likes its result; the last result either way.

    Waits for a state, never measures time: callers assert on the returned value.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if accept(result) or time.monotonic() > deadline:
            return result
        time.sleep(step)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse a Prometheus exposition into ``{(sample name, labels): value}``."""
    values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values


def value(parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return parsed.get((name, frozenset(labels.items())), 0.0)


def make_request(method: str = "GET", path: str = "/v2/", *, query: bytes = b"",
                 headers: list[tuple[bytes, bytes]] | None = None, route: str = "base",
                 status: int = 200, bytes_in: int = 0, bytes_out: int = 0,
                 user: str | None = None, client: tuple[str, int] = ("192.0.2.7", 41000),
                 ) -> Request:
    """A real :class:`Request` as the app leaves it after answering."""
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path,
                             "raw_path": path.encode(), "query_string": query,
                             "headers": headers or [], "client": client,
                             "dockyard.request_id": "req-1"}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    request = Request(scope, receive, send, [])
    request.route = route
    request.status = status
    request.bytes_in = bytes_in
    request.bytes_out = bytes_out
    request.user = user
    return request


class StatusServer:
    """A local HTTP server answering every request with ``status``; records methods."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.methods: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.methods.append(self.command)
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/health"

    @contextmanager
    def running(self) -> Iterator["StatusServer"]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


# A worker process that records a few values into the directory given, then exits.
WORKER = textwrap.dedent("""
    import os, sys
    import prometheus_client  # imported before the variable is set, as a parent might
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
    from dockyard.observability import metrics
    recorder = metrics.enable()
    for _ in range(int(sys.argv[2])):
        recorder.observe_request("GET", "blob", 200, 0.01, 0, 100)
    metrics.cache_hit()
    metrics.upload_started()  # left in flight: this process then exits
""")


def clean_environment() -> dict[str, str]:
    """This environment without the variable, which the scripts set themselves, late."""
    return {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}


def run_worker(directory: Path, requests: int) -> int:
    process = subprocess.run([sys.executable, "-c", WORKER, str(directory), str(requests)],
                             cwd=Path(__file__).parents[2], capture_output=True, text=True,
                             check=False, env=clean_environment())
    assert process.returncode == 0, process.stderr
    return requests
