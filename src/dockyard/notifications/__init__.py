"""Delivery of registry events to webhook endpoints (``notifications`` in config.yml).

Behaves like Distribution's notifications (``docs/content/about/notifications.md``): one
in-memory queue per enabled endpoint, events POSTed as ``{"events": [...]}`` with the
``application/vnd.docker.distribution.events.v2+json`` content type, retries with a
threshold and backoff, per-endpoint ignore rules. Queued events are lost on restart.
"""

import logging

from dockyard.config import Config
from dockyard.events import EventSink, NullSink
from dockyard.notifications.endpoint import Endpoint
from dockyard.notifications.envelope import EVENTS_MEDIA_TYPE, Source, source_for
from dockyard.notifications.settings import EndpointSettings, parse_endpoints
from dockyard.notifications.sink import NotificationSink

__all__ = [
    "EVENTS_MEDIA_TYPE",
    "Endpoint",
    "EndpointSettings",
    "NotificationSink",
    "Source",
    "build_event_sink",
    "parse_endpoints",
]

log = logging.getLogger("dockyard.notifications")


def build_event_sink(config: Config) -> EventSink:
    """The sink for the configured endpoints (a no-op when there are none).

    Raises :class:`dockyard.config.ConfigError` when the ``notifications`` section is
    invalid.
    """
    settings = parse_endpoints(config.notifications)
    if not settings:
        return NullSink()
    source = source_for(config)
    for endpoint in settings:
        log.info("notification endpoint %s: %s, timeout=%gs, threshold=%d, backoff=%gs",
                 endpoint.name, endpoint.url, endpoint.timeout, endpoint.threshold,
                 endpoint.backoff)
    return NotificationSink([Endpoint(endpoint, source) for endpoint in settings])
