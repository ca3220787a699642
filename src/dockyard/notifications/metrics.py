"""Prometheus metrics of event delivery, named and labelled as Distribution's.

Distribution (``notifications/metrics.go``, namespace ``registry_notifications``) exports:

* ``registry_notifications_events_total{type,endpoint}``: ``type`` is ``Events`` (queued),
  ``Successes`` (delivered), ``Failures`` (answered with a non-2xx/3xx status) or
  ``Errors`` (no answer: connection error, timeout), counted per event;
* ``registry_notifications_pending_total{endpoint}``: a gauge of queued events;
* ``registry_notifications_status_total{code,endpoint}``: responses per status, with
  ``code`` as Go writes it (``"200 OK"``).

Dockyard adds ``registry_notifications_dropped_total{endpoint,reason}`` for events lost to
a full queue (``overflow``) or left undelivered at shutdown (``shutdown``); Distribution's
queue is unbounded and has no such counter.

The metrics live in prometheus_client's default registry.
"""

from http import HTTPStatus

from prometheus_client import Counter, Gauge

EVENTS = Counter("registry_notifications_events", "The number of total events",
                 ["type", "endpoint"])
PENDING = Gauge("registry_notifications_pending_total", "The gauge of pending events in queue",
                ["endpoint"], multiprocess_mode="livesum")
STATUS = Counter("registry_notifications_status", "The number of status code",
                 ["code", "endpoint"])
DROPPED = Counter("registry_notifications_dropped",
                  "Events lost: queue overflow or undelivered at shutdown",
                  ["endpoint", "reason"])


def status_label(status: int) -> str:
    """Go's ``fmt.Sprintf("%d %s", status, http.StatusText(status))``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"{status} {phrase}"
