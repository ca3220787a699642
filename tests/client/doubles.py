"""Test doubles for the network (never for the registry): a reverse proxy that injects faults.

``FaultProxy`` forwards every request to a real registry and records what passed. On demand it
answers some requests itself with 429/503 + ``Retry-After``, cuts the connection in the middle
of a PATCH body after the registry received part of it, or flips one byte of a response body.
The token service the registry trusts is the shared loopback issuer (``TokenService``).
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from http import client as http_client
from http import server as http_server

from tests.auth.tokens import Issuer
from tests.loopback import (
    HOP_BY_HOP,
    LoopbackHTTPServer,
    QuietHandler,
    TokenIssuer,
    relay_response,
)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    content_range: str | None
    body_size: int
    range: str | None = None  # the request's Range header


@dataclass
class Faults:
    """What the proxy does to the traffic; each list is consumed as requests match."""

    # (predicate(method, path), status, Retry-After or None) answered by the proxy itself.
    refusals: list[tuple[Callable[[str, str], bool], int, str | None]] = field(
        default_factory=list)
    # (first offset, bytes): cut the first PATCH whose Content-Range starts at or after the
    # offset, once that many of its body bytes reached the registry.
    drop_patch: tuple[int, int] | None = None
    # Flip one byte in the body of responses whose path matches.
    corrupt: Callable[[str, str], bool] | None = None
    # (predicate, bytes): send the full headers of the first matching response, then only
    # that many body bytes, then close the connection.
    cut_response: tuple[Callable[[str, str], bool], int] | None = None


class FaultProxy(LoopbackHTTPServer):
    """A loopback HTTP/1.1 reverse proxy in a thread; use as a context manager."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults = Faults()
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        super().__init__(_handler(self))
        self.host = f"127.0.0.1:{self.port}"

    def record(self, entry: Seen) -> None:
        with self.lock:
            self.seen.append(entry)

    def requests(self, method: str, contains: str = "") -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == method and contains in s.path]

    def refusal_for(self, method: str, path: str) -> tuple[int, str | None] | None:
        with self.lock:
            for index, (matches, status, retry_after) in enumerate(self.faults.refusals):
                if matches(method, path):
                    del self.faults.refusals[index]
                    return status, retry_after
        return None


def _handler(proxy: FaultProxy) -> type[http_server.BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            refusal = proxy.refusal_for(self.command, url.path)
            length = int(self.headers.get("Content-Length") or 0)
            if refusal is not None:
                self.rfile.read(length)
                self._refuse(*refusal)
                proxy.record(Seen(self.command, url.path, query, refusal[0],
                                  self.headers.get("Content-Range"), length))
                return
            upstream = http_client.HTTPConnection(proxy.upstream, timeout=60)
            upstream.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    upstream.putheader(key, value)
            if length or self.command in ("POST", "PUT", "PATCH"):
                upstream.putheader("Content-Length", str(length))
            upstream.endheaders()
            if self.command == "PATCH" and self._should_drop(length):
                assert proxy.faults.drop_patch is not None
                cut = proxy.faults.drop_patch[1]
                proxy.faults.drop_patch = None
                upstream.send(self.rfile.read(cut))
                proxy.record(Seen(self.command, url.path, query, 0,
                                  self.headers.get("Content-Range"), cut))
                upstream.close()  # The registry sees a short body; the client a dead socket.
                self.close_connection = True
                self.connection.close()
                return
            sent = 0
            while sent < length:
                piece = self.rfile.read(min(65536, length - sent))
                upstream.send(piece)
                sent += len(piece)
            response = upstream.getresponse()
            data = response.read()
            headers = response.getheaders()
            upstream.close()
            if proxy.faults.corrupt and data and proxy.faults.corrupt(self.command, url.path):
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            proxy.record(Seen(self.command, url.path, query, response.status,
                              self.headers.get("Content-Range"), length,
                              self.headers.get("Range")))
            declared = len(data)
            cut = proxy.faults.cut_response
            if cut is not None and cut[0](self.command, url.path) and declared > cut[1]:
                proxy.faults.cut_response = None
                data = data[:cut[1]]  # Announce everything, send a part, hang up.
                self.close_connection = True
            relay_response(self, response.status, response.reason, headers, data, declared)

        def _should_drop(self, length: int) -> bool:
            plan = proxy.faults.drop_patch
            start = (self.headers.get("Content-Range") or "-").split("-")[0]
            return plan is not None and start.isdigit() and int(start) >= plan[0] \
                and length > plan[1]

        def _refuse(self, status: int, retry_after: str | None) -> None:
            code = "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE"
            self.answer_json(status, {"errors": [{"code": code, "message": "try later",
                                                  "detail": None}]},
                             {} if retry_after is None else {"Retry-After": retry_after})

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    return Handler


def byte_source(data: bytes, opened: list[int], piece: int) -> Callable[
        [int], AbstractAsyncContextManager[AsyncIterator[bytes]]]:
    """``open_from(offset)`` over ``data`` in ``piece``-byte chunks (what a resumable upload
    reads from), recording in ``opened`` each offset it was opened at."""

    @asynccontextmanager
    async def open_from(offset: int) -> AsyncIterator[AsyncIterator[bytes]]:
        opened.append(offset)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(offset, len(data), piece):
                yield data[start:start + piece]

        yield chunks()

    return open_from


class TokenService(TokenIssuer):
    """The shared issuer, under the names the client tests' token registry is configured with."""

    service = "dockyard-client-test"
    issuer_name = "client-test-issuer"

    def __init__(self, user: str, password: str) -> None:
        super().__init__(Issuer.new("client-test-signer"), user, password)
