"""One log line per answered request, with Distribution's field names.

Distribution logs ``msg="response completed"`` with ``http.request.*`` / ``http.response.*``
fields on every request; log shippers that parse registry:2 output keep working with
these lines. They go through the ``dockyard.access`` logger, so ``log.formatter`` (text or
JSON) and ``log.fields`` apply. Like Distribution's access log, they do not depend on
``log.level``; ``log.accesslog.disabled: true`` turns them off.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from dockyard.config import Config

LOGGER_NAME = "dockyard.access"
MESSAGE = "response completed"


def access_log_enabled(config: Config) -> bool:
    """False when ``log.accesslog.disabled`` is true (a model field or a raw extra key)."""
    section = getattr(config.log, "accesslog", None)
    if isinstance(section, BaseModel):
        disabled: Any = getattr(section, "disabled", False)
    elif isinstance(section, dict):
        disabled = section.get("disabled", False)
    else:
        disabled = False
    if isinstance(disabled, str):
        disabled = disabled.strip().lower() in ("true", "1", "yes", "on", "t")
    return not disabled


def access_fields(request: Any, duration: float) -> dict[str, Any]:
    """The structured fields of one request's line."""
    scope = request.scope
    raw_path = scope.get("raw_path")
    uri = raw_path.decode("latin-1") if raw_path else request.path
    query = scope.get("query_string")
    if query:
        uri += "?" + query.decode("latin-1")
    host = agent = forwarded = real_ip = b""
    for name, value in scope["headers"]:  # one pass instead of a lookup per header
        if name == b"host":
            host = host or value
        elif name == b"user-agent":
            agent = agent or value
        elif name == b"x-forwarded-for":
            forwarded = forwarded or value
        elif name == b"x-real-ip":
            real_ip = real_ip or value
    fields: dict[str, Any] = {
        "http.request.method": request.method,
        "http.request.uri": uri,
        "http.request.host": host.decode("latin-1"),
        "http.request.remoteaddr": remote_address(request, forwarded, real_ip),
        "http.request.useragent": agent.decode("latin-1"),
        "http.request.read": request.bytes_in,
        "http.response.status": request.status,
        "http.response.written": request.bytes_out,
        "http.response.duration": f"{duration * 1000:.3f}ms",
    }
    request_id = scope.get("dockyard.request_id")
    if request_id:
        fields["http.request.id"] = request_id
    if request.user:
        fields["auth.user.name"] = request.user
    return fields


def remote_address(request: Any, forwarded: bytes, real_ip: bytes) -> str:
    """The client as Distribution reports it: X-Forwarded-For, X-Real-Ip, then the peer."""
    first = forwarded.split(b",", 1)[0].strip()
    if first:
        return first.decode("latin-1")
    if real_ip.strip():
        return real_ip.strip().decode("latin-1")
    return str(request.client_address())


class AccessLog:
    """Writes the line for each request."""

    __slots__ = ("logger",)

    def __init__(self) -> None:
        self.logger = logging.getLogger(LOGGER_NAME)
        # Independent of log.level, as Distribution's access log is; records still go
        # through the "dockyard" handler and its formatter.
        self.logger.setLevel(logging.INFO)

    def log(self, request: Any, duration: float) -> None:
        self.logger.info(MESSAGE, extra=access_fields(request, duration))
