"""The event sink the application uses: fans every event out to each endpoint's queue."""

import asyncio
import logging
from collections.abc import Sequence

from dockyard.events import Event
from dockyard.notifications.endpoint import Endpoint

log = logging.getLogger("dockyard.notifications")

SHUTDOWN_GRACE = 2.0


class NotificationSink:
    """Broadcasts events to the configured endpoints (Distribution's broadcaster)."""

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        self.endpoints = list(endpoints)

    def publish(self, event: Event) -> None:
        """Queue ``event`` on every endpoint; never blocks and never raises."""
        for endpoint in self.endpoints:
            try:
                endpoint.publish(event)
            except Exception:  # a request must not fail because of a notification
                log.exception("notification endpoint %s: could not queue an event",
                              endpoint.name)

    def start(self) -> None:
        """Start one delivery task per endpoint (called inside the running event loop)."""
        for endpoint in self.endpoints:
            endpoint.start()

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Flush for at most ``grace`` seconds in total, then stop delivering."""
        await asyncio.gather(*(endpoint.stop(grace) for endpoint in self.endpoints))
