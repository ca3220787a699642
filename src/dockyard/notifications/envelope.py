"""Distribution's JSON for events (``notifications/event.go``) and the envelope they travel in.

Field names, nesting and the ``omitempty`` rules follow Distribution's Go structs, so a
webhook written for ``registry:2`` reads Dockyard's events unchanged:

* ``target``, ``request``, ``actor`` and ``source`` are always present (Go never omits a
  struct); ``request.id``, ``request.method`` and ``request.useragent`` are always present;
  every other field is left out when empty or zero, as ``omitempty`` does (so a zero-byte
  blob has no ``size``/``length``).
* ``length`` repeats ``size`` (kept by Distribution for old consumers).
* Delete events carry only ``digest`` and ``repository`` in ``target`` (plus ``tag`` for a
  tag delete), because that is all Distribution's bridge fills in for them.
* ``timestamp`` is RFC 3339 with nanosecond precision in UTC, trailing zeros trimmed, as
  Go's ``time.Time`` marshals it.
"""

import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from dockyard.config import Config
from dockyard.config_env import split_host_port
from dockyard.events import Event

EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v2+json"
DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Source:
    """The registry node that generated the events (``source`` in the JSON)."""

    addr: str
    instance_id: str


def source_for(config: Config, hostname: str | None = None,
               instance_id: str | None = None) -> Source:
    """``hostname:port`` of this node, as Distribution computes it, and a fresh instance id.

    Distribution takes ``os.Hostname()`` and appends the port of ``http.addr`` when that
    address has one (a unix socket path has none, so the hostname stands alone).
    """
    host = hostname if hostname is not None else socket.gethostname()
    addr = host
    if config.http.net == "tcp":
        try:
            _, port = split_host_port(config.http.addr)
        except ValueError:
            port = None
        if port is not None:
            addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Source(addr=addr, instance_id=instance_id or str(uuid4()))


def rfc3339_nano(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: ``2024-05-01T12:00:00.5Z`` (zeros trimmed)."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _set(record: dict[str, Any], key: str, value: Any) -> None:
    """``omitempty``: keep ``value`` only when it is not empty/zero."""
    if value:
        record[key] = value


def target_record(event: Event) -> dict[str, Any]:
    """The ``target`` object of ``event``."""
    target = event.target
    record: dict[str, Any] = {}
    if event.action == DELETE:
        _set(record, "digest", target.digest)
        _set(record, "repository", target.repository)
        _set(record, "tag", target.tag)
        return record
    _set(record, "mediaType", target.media_type)
    _set(record, "digest", target.digest)
    _set(record, "size", target.size)
    _set(record, "length", target.size)
    _set(record, "repository", target.repository)
    _set(record, "fromRepository", target.from_repository)
    _set(record, "url", target.url)
    _set(record, "tag", target.tag)
    return record


def event_record(event: Event, source: Source) -> dict[str, Any]:
    """``event`` as one element of the envelope's ``events`` list."""
    request: dict[str, Any] = {"id": event.request.id}
    _set(request, "addr", event.request.addr)
    _set(request, "host", event.request.host)
    request["method"] = event.request.method
    request["useragent"] = event.request.useragent
    actor: dict[str, Any] = {}
    _set(actor, "name", event.actor)
    origin: dict[str, Any] = {}
    _set(origin, "addr", source.addr)
    _set(origin, "instanceID", source.instance_id)
    record: dict[str, Any] = {}
    _set(record, "id", event.id)
    record["timestamp"] = rfc3339_nano(event.timestamp)
    _set(record, "action", event.action)
    record["target"] = target_record(event)
    record["request"] = request
    record["actor"] = actor
    record["source"] = origin
    return record


def envelope(events: Iterable[Event], source: Source) -> bytes:
    """The request body for a batch: ``{"events": [...]}`` in the order given."""
    body = {"events": [event_record(event, source) for event in events]}
    return json.dumps(body, separators=(",", ":")).encode()


def ignored_media_type(event: Event) -> str:
    """The media type the ignore rules compare: the one the event's JSON carries."""
    return "" if event.action == DELETE else event.target.media_type
