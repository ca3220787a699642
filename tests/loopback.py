"""Loopback test doubles shared by ``tests/client`` and ``tests/e2e``: never for what is tested.

* :class:`Background` — a thread serving between ``__enter__`` and ``__exit__``; the HTTP
  doubles below and the TCP proxy of ``tests/e2e/tcp_faults.py`` build on it.
* :class:`LoopbackHTTPServer` — a threading HTTP server on ``127.0.0.1:<free port>``.
* :class:`QuietHandler` — a request handler that does not log and answers JSON in one call.
* :func:`relay_response` — a reverse proxy's answer: the upstream's status, headers and body.
* :class:`TokenIssuer` — ``GET /token`` with Basic credentials: a JWT granting the scopes
  asked for (a registry's token service, as Distribution's ``auth.token`` expects it).
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from datetime import UTC, datetime
from http import server as http_server
from typing import Any, Self

from tests.auth.tokens import Issuer

# Headers a proxy must not pass on (RFC 9110 §7.6.1), and the length it sets itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer",
                        "upgrade", "proxy-connection", "content-length", "expect"})


class Background:
    """Runs ``target`` in a daemon thread while the object is used as a context manager."""

    def __init__(self, target: Any) -> None:
        self._thread = threading.Thread(target=target, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()
        self._thread.join(timeout=5)

    def _close(self) -> None:
        """Make the thread's target return (subclasses stop their server here)."""
        raise NotImplementedError


class LoopbackHTTPServer(Background):
    """``handler`` served on a free loopback port; ``port`` is known before ``__enter__``."""

    def __init__(self, handler: type[http_server.BaseHTTPRequestHandler]) -> None:
        self._server = http_server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        super().__init__(self._server.serve_forever)

    def _close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class QuietHandler(http_server.BaseHTTPRequestHandler):
    """No access log on stderr; JSON answers with their length."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def answer_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def relay_response(handler: http_server.BaseHTTPRequestHandler, status: int, reason: str,
                   headers: list[tuple[str, str]], data: bytes,
                   declared: int | None = None) -> None:
    """Send the upstream's answer on: its end-to-end headers, and ``data``.

    Content-Length is the upstream's for HEAD, else ``declared`` (default: ``len(data)``,
    a proxy that cuts a body short announces more than it sends); none on 1xx/204/304.
    """
    handler.send_response(status, reason)
    for key, value in headers:
        if key.lower() not in HOP_BY_HOP:
            handler.send_header(key, value)
    if handler.command == "HEAD":
        length = dict((k.lower(), v) for k, v in headers).get("content-length")
        handler.send_header("Content-Length", length or "0")
    elif status not in (204, 304) and status >= 200:
        handler.send_header("Content-Length", str(len(data) if declared is None else declared))
    handler.end_headers()
    if handler.command != "HEAD" and data:
        handler.wfile.write(data)


class TokenIssuer(LoopbackHTTPServer):
    """``GET /token?service=&scope=`` with Basic credentials in, a JWT out.

    Any other path or service is a 400, wrong credentials a 401. Repository and registry
    (catalog) scopes are granted, never a repository under ``secret/``. Subclasses name the
    ``service`` and ``issuer_name`` the registry's token configuration must carry.
    """

    service = "dockyard-test-service"
    issuer_name = "test-token-issuer"

    def __init__(self, signer: Issuer, user: str, password: str) -> None:
        self.signer = signer
        self.requests: list[dict[str, list[str]]] = []
        self.lifetime = 300  # expires_in of the tokens handed out
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        issuer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                issuer.requests.append(query)
                if url.path != "/token" or query.get("service") != [issuer.service]:
                    self.answer_json(400, {"errors": [{"code": "DENIED"}]})
                elif self.headers.get("Authorization") != expected:
                    self.answer_json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                else:
                    token = signer.token(iss=issuer.issuer_name, aud=issuer.service, sub=user,
                                         access_=grant(query.get("scope", [])))
                    self.answer_json(200, {"token": token, "access_token": token,
                                           "expires_in": issuer.lifetime,
                                           "issued_at": datetime.now(UTC).isoformat()})

        super().__init__(Handler)
        self.realm = f"http://127.0.0.1:{self.port}/token"

    def scopes(self) -> list[str]:
        """Every scope asked for so far, in order."""
        return [s for query in self.requests for s in query.get("scope", [])]


def grant(scopes: list[str]) -> list[dict[str, Any]]:
    """Every repository scope asked for, and the catalog; never ``secret/*``."""
    granted = []
    for scope in " ".join(scopes).split():
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind in ("repository", "registry") and not name.startswith("secret/"):
            granted.append({"type": kind, "name": name, "actions": actions.split(",")})
    return granted
