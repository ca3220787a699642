"""A thin layer over raw ASGI for the hot registry routes.

A framework on these routes cost 25-40% of the request rate in measurements
(docs/../python-server-performance), so requests and responses are handled by hand here:
headers are kept as the server's byte pairs, bodies are streamed, never read whole.
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from dockyard.core.errors import RegistryError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"


class ClientDisconnected(Exception):
    """The client went away before its request body ended."""


class Request:
    """One HTTP request: its scope, body stream and a way to answer."""

    __slots__ = ("scope", "receive", "send", "base_headers", "method", "path", "started",
                 "body_ended", "route", "status", "bytes_in", "bytes_out", "user", "grant",
                 "_query")

    def __init__(self, scope: Scope, receive: Receive, send: Send, base_headers: Headers):
        self.scope = scope
        self.receive = receive
        self.send = send
        self.base_headers = base_headers
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.started = False
        self.body_ended = False
        self.route = "unknown"  # Set by the router: the metrics label for this endpoint.
        self.status = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.user: str | None = None
        self.grant: Any = None  # The auth Grant, once the router has checked access.
        self._query: dict[str, list[str]] | None = None

    def header(self, name: bytes) -> str | None:
        """The first value of a (lower-case) header, decoded as Latin-1."""
        for key, value in self.scope["headers"]:
            if key == name:
                return str(value.decode("latin-1"))
        return None

    def header_values(self, name: bytes) -> list[str]:
        """Every value of a (lower-case) header."""
        return [v.decode("latin-1") for k, v in self.scope["headers"] if k == name]

    def query(self, name: str) -> str | None:
        """The first value of a query parameter."""
        if self._query is None:
            raw = self.scope.get("query_string", b"").decode("latin-1")
            self._query = parse_qs(raw, keep_blank_values=True)
        values = self._query.get(name)
        return values[0] if values else None

    def content_length(self) -> int | None:
        """The declared body length, or None; a malformed value is the client's error."""
        value = self.header(b"content-length")
        if value is None:
            return None
        if not value.isascii() or not value.isdigit():
            raise RegistryError("SIZE_INVALID", f"invalid Content-Length {value[:40]!r}")
        return int(value)

    async def body(self) -> AsyncIterator[bytes]:
        """The request body as the server delivers it, chunk by chunk."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            if chunk:
                self.bytes_in += len(chunk)
                yield chunk
            if not message.get("more_body", False):
                self.body_ended = True
                return

    def has_unread_body(self) -> bool:
        """Whether the client sent (or is sending) a body nobody has read to its end."""
        if self.body_ended:
            return False
        if self.header(b"transfer-encoding") is not None:
            return True
        length = self.header(b"content-length")
        return length is not None and length.strip() not in ("", "0")

    async def read_body(self, limit: int) -> bytes:
        """The whole body when it is at most ``limit`` bytes (manifests), else a 413."""
        declared = self.content_length()
        if declared is not None and declared > limit:
            raise RegistryError("MANIFEST_INVALID", f"body is larger than {limit} bytes",
                                status=413)
        parts, total = [], 0
        async for chunk in self.body():
            total += len(chunk)
            if total > limit:
                raise RegistryError("MANIFEST_INVALID", f"body is larger than {limit} bytes",
                                    status=413)
            parts.append(chunk)
        return b"".join(parts)

    async def start(self, status: int, headers: Headers) -> None:
        """Send the status line and headers (with the registry's own headers first)."""
        self.started = True
        self.status = status
        await self.send({"type": "http.response.start", "status": status,
                         "headers": self.base_headers + headers})

    async def respond(self, status: int, headers: Headers, body: bytes = b"",
                      content_length: int | None = None) -> None:
        """Send a whole response; ``content_length`` overrides it for HEAD answers."""
        length = len(body) if content_length is None else content_length
        await self.start(status, [*headers, (b"content-length", str(length).encode())])
        if self.method == "HEAD":
            body = b""
        self.bytes_out += len(body)
        await self.send({"type": "http.response.body", "body": body})

    async def respond_json(self, status: int, document: Any, headers: Headers | None = None
                           ) -> None:
        """Send a JSON document."""
        await self.respond(status, [(b"content-type", JSON), *(headers or [])],
                           json.dumps(document).encode())

    async def send_body(self, chunk: bytes, more: bool = True) -> None:
        """Send one piece of a streamed response body."""
        self.bytes_out += len(chunk)
        await self.send({"type": "http.response.body", "body": chunk, "more_body": more})

    def url_for(self, path: str) -> str:
        """An absolute URL on this registry, as the client addressed it."""
        host = self.header(b"host") or "localhost"
        return f"{self.scope.get('scheme', 'http')}://{host}{path}"

    def client_address(self) -> str:
        """The peer's address, ``host:port``."""
        client = self.scope.get("client")
        return f"{client[0]}:{client[1]}" if client else ""

    async def drain(self) -> None:
        """Read and drop whatever body the client sent, so an early answer stays polite."""
        try:
            async for _chunk in self.body():
                pass
        except ClientDisconnected:
            pass
