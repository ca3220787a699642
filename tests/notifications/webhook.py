"""A real HTTP webhook receiver on loopback, run in a thread, that records what it gets."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    """One POST the receiver got, and the status it answered."""

    path: str
    headers: dict[str, list[str]]
    body: dict[str, Any]
    status: int = 0

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.body.get("events", []))


class Webhook:
    """Answers 500 to the first ``fail_first`` requests, then 200.

    With ``hang`` set, every request is held (connection open, no answer) until
    :meth:`release` is called.
    """

    def __init__(self, fail_first: int = 0, hang: bool = False) -> None:
        self.fail_first = fail_first
        self.deliveries: list[Delivery] = []
        self.started = 0
        self.answered = 0
        self._held = threading.Event()
        if not hang:
            self._held.set()
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

    def release(self) -> None:
        self._held.set()

    def accepted_events(self) -> list[dict[str, Any]]:
        """Events of the requests answered 2xx, in arrival order."""
        with self._changed:
            return [e for d in self.deliveries if 200 <= d.status < 300 for e in d.events]

    def wait_for(self, predicate: Callable[["Webhook"], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"webhook: condition not met in {timeout}s; got "
                                         f"{[d.events for d in self.deliveries]}")
                self._changed.wait(left)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                headers: dict[str, list[str]] = {}
                for name, value in self.headers.items():
                    headers.setdefault(name.lower(), []).append(value)
                delivery = Delivery(self.path, headers, body)
                with hook._changed:
                    hook.started += 1
                    status = 500 if hook.started <= hook.fail_first else 200
                    hook._changed.notify_all()
                hook._held.wait()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
                with hook._changed:
                    delivery.status = status
                    hook.deliveries.append(delivery)
                    hook.answered += 1
                    hook._changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_webhook(fail_first: int = 0, hang: bool = False) -> Iterator[Webhook]:
    hook = Webhook(fail_first, hang)
    hook.start()
    try:
        yield hook
    finally:
        hook.stop()
