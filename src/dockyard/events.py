"""Registry events (push, pull, mount, delete) as the HTTP layer reports them.

Publishing must never block or fail a request: sinks queue events and deliver them elsewhere.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from uuid import uuid4


@dataclass(frozen=True, slots=True)
class EventTarget:
    """The object an event is about."""

    media_type: str
    digest: str
    size: int
    repository: str
    url: str
    tag: str | None = None
    from_repository: str | None = None


@dataclass(frozen=True, slots=True)
class EventRequest:
    """The request that caused an event."""

    id: str
    addr: str
    host: str
    method: str
    useragent: str


@dataclass(frozen=True, slots=True)
class Event:
    """One event in Distribution's model."""

    action: str
    target: EventTarget
    request: EventRequest
    actor: str | None
    id: str = field(default_factory=lambda: str(uuid4()))
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


class EventSink(Protocol):
    """Receives events; must return at once."""

    def publish(self, event: Event) -> None: ...


class NullSink:
    """The sink when no notification endpoint is configured."""

    def publish(self, event: Event) -> None:
        return None
