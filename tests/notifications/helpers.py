"""Events and endpoint settings for the notification tests."""

from datetime import UTC, datetime
from typing import Any

from dockyard.events import Event, EventRequest, EventTarget
from dockyard.notifications.envelope import Source
from dockyard.notifications.settings import EndpointSettings

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
BLOB = "application/octet-stream"
SOURCE = Source(addr="node1:5000", instance_id="0b7a5b4c-0000-4000-8000-000000000001")
REQUEST = EventRequest(id="req-1", addr="10.0.0.7:51234", host="registry.example:5000",
                       method="PUT", useragent="docker/27.0")


def event(action: str = "push", *, repository: str = "lib/app", digest: str = "sha256:aa",
          media_type: str = OCI_MANIFEST, size: int = 10, tag: str | None = None,
          from_repository: str | None = None, actor: str | None = "alice",
          number: int = 0) -> Event:
    url = f"http://registry.example:5000/v2/{repository}/manifests/{digest}"
    return Event(action, EventTarget(media_type, digest, size, repository, url, tag=tag,
                                     from_repository=from_repository),
                 REQUEST, actor, id=f"event-{number}",
                 timestamp=datetime(2024, 5, 1, 12, 0, 0, number, tzinfo=UTC))


def numbered(count: int, start: int = 0) -> list[Event]:
    return [event(number=n) for n in range(start, start + count)]


def settings(**overrides: Any) -> EndpointSettings:
    values: dict[str, Any] = {"name": "test", "url": "http://sink.invalid/events"}
    values.update(overrides)
    return EndpointSettings(**values)
