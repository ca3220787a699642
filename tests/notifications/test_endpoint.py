"""Queueing, batching, retries, backoff, overflow and shutdown of one endpoint.

Delivery goes through ``httpx.MockTransport``, so these tests need no network. Nothing is
timed except one lower bound (a backoff must really wait); everything else checks the
order of what happened.
"""

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from dockyard.events import Event
from dockyard.notifications.endpoint import Endpoint
from dockyard.notifications.envelope import EVENTS_MEDIA_TYPE
from dockyard.notifications.sink import NotificationSink
from tests.notifications.helpers import BLOB, SOURCE, event, numbered, settings

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def run(scenario: Coroutine[Any, Any, None]) -> None:
    """Run one async scenario with a generous overall bound."""
    asyncio.run(asyncio.wait_for(scenario, 30))


async def wait_until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0.001)


class Sink:
    """A scripted webhook receiver: answers statuses (or raises) in order, then 200."""

    def __init__(self, *script: int | Exception | asyncio.Event) -> None:
        self.script: deque[int | Exception | asyncio.Event] = deque(script)
        self.requests: list[httpx.Request] = []
        self.trace: list[Any] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.trace.append("attempt")
        outcome = self.script.popleft() if self.script else 200
        if isinstance(outcome, asyncio.Event):
            await outcome.wait()
            outcome = 200
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def batches(self) -> list[list[str]]:
        return [[e["id"] for e in json.loads(r.content)["events"]] for r in self.requests]

    def recording_sleep(self) -> Callable[[float], Awaitable[None]]:
        async def sleep(seconds: float) -> None:
            self.trace.append(("backoff", seconds))
            await asyncio.sleep(0)
        return sleep


def endpoint_for(sink: Sink, **options: Any) -> Endpoint:
    limits = {k: options.pop(k) for k in ("max_queue", "max_batch") if k in options}
    return Endpoint(settings(**options), SOURCE, transport=sink.transport(), **limits)


def ids(events: list[Event]) -> list[str]:
    return [e.id for e in events]


def test_batches_keep_publish_order_and_carry_the_envelope() -> None:
    async def scenario() -> None:
        sink = Sink()
        endpoint = endpoint_for(sink, max_batch=2, url="http://sink.invalid/hook",
                                headers=(("Authorization", "Bearer x"), ("X-Two", "a"),
                                         ("X-Two", "b")))
        events = numbered(5)
        for item in events:
            endpoint.publish(item)
        assert endpoint.pending == 5
        endpoint.start()
        await wait_until(lambda: endpoint.delivered == 5)
        assert sink.batches == [ids(events[0:2]), ids(events[2:4]), ids(events[4:5])]
        first = sink.requests[0]
        assert first.method == "POST" and str(first.url) == "http://sink.invalid/hook"
        assert first.headers["content-type"] == EVENTS_MEDIA_TYPE
        assert first.headers.get_list("authorization") == ["Bearer x"]
        assert first.headers.get_list("x-two") == ["a", "b"]
        assert json.loads(first.content)["events"][0]["source"]["addr"] == SOURCE.addr
        assert (endpoint.pending, endpoint.failed, endpoint.received) == (0, 0, 5)
        await endpoint.stop()
    run(scenario())


def test_events_queued_during_a_delivery_form_the_next_batch() -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        sink = Sink(release)
        endpoint = endpoint_for(sink)
        events = numbered(4)
        endpoint.publish(events[0])
        endpoint.start()
        await wait_until(lambda: len(sink.requests) == 1)
        for item in events[1:]:
            endpoint.publish(item)  # returns at once although a delivery is stuck
        assert endpoint.pending == 4
        release.set()
        await wait_until(lambda: endpoint.delivered == 4)
        assert sink.batches == [ids(events[:1]), ids(events[1:])]
        await endpoint.stop()
    run(scenario())


def test_failures_retry_the_same_batch_and_back_off_after_threshold() -> None:
    async def scenario() -> None:
        refused = httpx.ConnectError("connection refused")
        sink = Sink(500, refused, 503, 404, refused)
        endpoint = endpoint_for(sink, threshold=3, backoff=7.0)
        endpoint._sleep = sink.recording_sleep()
        events = numbered(2)
        for item in events:
            endpoint.publish(item)
        endpoint.start()
        await wait_until(lambda: endpoint.delivered == 2)
        assert sink.trace == ["attempt", "attempt", "attempt", ("backoff", 7.0),
                              "attempt", ("backoff", 7.0), "attempt", ("backoff", 7.0),
                              "attempt"]
        assert sink.batches == [ids(events)] * 6
        assert (endpoint.failed, endpoint.consecutive_failures) == (5, 0)
        assert endpoint.statuses == {"500 Internal Server Error": 1,
                                     "503 Service Unavailable": 1, "404 Not Found": 1,
                                     "200 OK": 1}
        await endpoint.stop()
    run(scenario())


def test_a_success_resets_the_consecutive_failure_count() -> None:
    async def scenario() -> None:
        sink = Sink(500, 200, 500, 200)
        endpoint = endpoint_for(sink, threshold=2, backoff=7.0)
        endpoint._sleep = sink.recording_sleep()
        endpoint.start()
        endpoint.publish(event(number=1))
        await wait_until(lambda: endpoint.delivered == 1)
        endpoint.publish(event(number=2))
        await wait_until(lambda: endpoint.delivered == 2)
        assert sink.trace == ["attempt"] * 4  # never two failures in a row: no backoff
        assert sink.batches == [["event-1"], ["event-1"], ["event-2"], ["event-2"]]
        await endpoint.stop()
    run(scenario())


def test_backoff_really_waits() -> None:
    async def scenario() -> None:
        sink = Sink(500)
        moments: list[float] = []
        handle = sink.handle

        async def timed(request: httpx.Request) -> httpx.Response:
            moments.append(time.monotonic())
            return await handle(request)

        endpoint = Endpoint(settings(threshold=1, backoff=0.3), SOURCE,
                            transport=httpx.MockTransport(timed))
        endpoint.publish(event())
        endpoint.start()
        await wait_until(lambda: endpoint.delivered == 1)
        assert len(moments) == 2
        assert moments[1] - moments[0] >= 0.29
        await endpoint.stop()
    run(scenario())


def test_any_2xx_or_3xx_is_delivered_and_4xx_is_not() -> None:
    async def scenario() -> None:
        sink = Sink(204, 302, 399, 404)
        endpoint = endpoint_for(sink)
        endpoint.start()
        for number in range(4):
            endpoint.publish(event(number=number))
            await wait_until(lambda n=number: endpoint.delivered == n + 1)  # type: ignore[misc]
        assert sink.batches == [["event-0"], ["event-1"], ["event-2"], ["event-3"],
                                ["event-3"]]
        assert endpoint.failed == 1
        await endpoint.stop()
    run(scenario())


def test_a_request_that_outlives_the_timeout_is_a_failure() -> None:
    async def scenario() -> None:
        never = asyncio.Event()
        sink = Sink(never)
        endpoint = endpoint_for(sink, timeout=0.05)
        endpoint.publish(event())
        endpoint.start()
        await wait_until(lambda: endpoint.delivered == 1)
        assert endpoint.failed == 1
        assert sink.batches == [["event-0"], ["event-0"]]
        await endpoint.stop()
    run(scenario())


def test_a_full_queue_drops_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        sink = Sink()
        endpoint = endpoint_for(sink, max_queue=3)
        events = numbered(5)
        with caplog.at_level(logging.WARNING, "dockyard.notifications"):
            for item in events:
                endpoint.publish(item)
        assert (endpoint.pending, endpoint.dropped, endpoint.overflowed) == (3, 2, 2)
        assert "queue full" in caplog.text
        endpoint.start()
        await wait_until(lambda: endpoint.delivered == 3)
        assert sink.batches == [ids(events[2:])]
        await endpoint.stop()
    run(scenario())


def test_ignore_rules_drop_matching_events() -> None:
    async def scenario() -> None:
        sink = Sink()
        endpoint = endpoint_for(sink, ignored_media_types=frozenset({BLOB, OCI_INDEX}),
                                ignored_actions=frozenset({"pull"}))
        published = [
            event("push", number=0),                                  # kept
            event("push", media_type=BLOB, number=1),                 # media type
            event("pull", number=2),                                  # action
            event("mount", media_type=BLOB, from_repository="a", number=3),
            event("delete", media_type="", size=0, number=4),         # kept
            event("push", media_type=OCI_INDEX, number=5),            # media type
            event("delete", media_type=BLOB, size=0, number=6),       # kept: no mediaType
        ]
        for item in published:
            endpoint.publish(item)
        assert (endpoint.received, endpoint.ignored) == (3, 4)
        endpoint.start()
        await wait_until(lambda: endpoint.delivered == 3)
        assert sink.batches == [["event-0", "event-4", "event-6"]]
        await endpoint.stop()
    run(scenario())


def test_publish_from_another_thread_is_handed_to_the_loop() -> None:
    async def scenario() -> None:
        sink = Sink()
        endpoint = endpoint_for(sink)
        endpoint.start()
        worker = threading.Thread(target=endpoint.publish, args=(event(number=9),))
        worker.start()
        await asyncio.to_thread(worker.join)
        await wait_until(lambda: endpoint.delivered == 1)
        assert sink.batches == [["event-9"]]
        await endpoint.stop()
    run(scenario())


def test_stop_flushes_what_is_queued() -> None:
    async def scenario() -> None:
        sink = Sink(500)
        endpoint = endpoint_for(sink, threshold=5)
        endpoint.start()
        events = numbered(3)
        for item in events:
            endpoint.publish(item)
        await endpoint.stop()
        assert endpoint.delivered == 3 and endpoint.dropped == 0
        assert sink.batches == [ids(events), ids(events)]
    run(scenario())


def test_stop_gives_up_after_the_grace_period(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        never = asyncio.Event()
        sink = Sink(never)
        first = endpoint_for(sink, timeout=3600)
        second = endpoint_for(Sink(never), name="other", timeout=3600)
        both = NotificationSink([first, second])
        both.start()
        both.publish(event(number=1))
        both.publish(event(number=2))
        await wait_until(lambda: len(sink.requests) == 1)
        with caplog.at_level(logging.WARNING, "dockyard.notifications"):
            await asyncio.wait_for(both.stop(grace=0.1), 10)
        for endpoint in (first, second):
            assert (endpoint.delivered, endpoint.dropped, endpoint.pending) == (0, 2, 0)
        assert "2 events not delivered at shutdown" in caplog.text
    run(scenario())


def test_prometheus_counters() -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"endpoint": "metered", **labels}) or 0.0

    async def scenario() -> None:
        endpoint = endpoint_for(Sink(500, httpx.ConnectError("refused")), name="metered",
                                max_queue=2)
        before = {t: sample("registry_notifications_events_total", type=t)
                  for t in ("Events", "Successes", "Failures", "Errors")}
        for item in numbered(3):
            endpoint.publish(item)
        assert sample("registry_notifications_pending_total") == 2
        assert sample("registry_notifications_dropped_total", reason="overflow") == 1
        endpoint.start()
        await wait_until(lambda: endpoint.delivered == 2)
        after = {t: sample("registry_notifications_events_total", type=t) for t in before}
        assert {t: after[t] - before[t] for t in before} == \
            {"Events": 3, "Successes": 2, "Failures": 2, "Errors": 2}
        assert sample("registry_notifications_status_total", code="500 Internal Server Error") \
            >= 1
        assert sample("registry_notifications_pending_total") == 0
        await endpoint.stop()
    run(scenario())
