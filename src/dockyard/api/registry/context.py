"""What every registry handler may use: the services, access control and the event sink."""

from dataclasses import dataclass

from dockyard.api.http import Request
from dockyard.auth.base import AccessController
from dockyard.events import Event, EventRequest, EventSink, EventTarget
from dockyard.services.registry import Registry


@dataclass(frozen=True, slots=True)
class Context:
    """Shared by all requests of one application."""

    registry: Registry
    auth: AccessController | None
    events: EventSink
    read_only: bool = False

    def emit(self, request: Request, action: str, target: EventTarget) -> None:
        """Publish an event about ``target`` caused by ``request`` (never blocks)."""
        origin = EventRequest(id=request.scope.get("dockyard.request_id", ""),
                              addr=request.client_address(),
                              host=request.header(b"host") or "", method=request.method,
                              useragent=request.header(b"user-agent") or "")
        self.events.publish(Event(action, target, origin, request.user))
