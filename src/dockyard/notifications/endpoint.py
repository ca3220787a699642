"""One webhook endpoint: a bounded in-memory queue and the task that delivers it.

Delivery follows Distribution's pipeline (ignore filter -> queue -> retrying sink with a
breaker -> HTTP sink):

* ``publish`` applies the ignore rules and appends to the queue; it never awaits and never
  waits for the network. When the queue holds ``max_queue`` events the oldest is dropped
  (counted and logged): Distribution's queue is unbounded, Dockyard's memory is not.
* One task per endpoint POSTs what is queued, up to ``max_batch`` events per request, in
  publish order, with ``Content-Type: application/vnd.docker.distribution.events.v2+json``
  and the configured headers. Any 2xx or 3xx answer means delivered (redirects are not
  followed). Anything else - another status, a connection error, the per-request
  ``timeout`` - is a failure and the same batch is sent again: at once while fewer than
  ``threshold`` consecutive failures have happened, then after waiting ``backoff`` before
  each further attempt (go-events' breaker). Events are therefore delivered at least once
  and in order; a batch is never split or reordered by a retry.
* ``stop`` gives the queue a short grace period to drain, then cancels the task; what is
  left is counted as dropped.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable

import httpx

from dockyard.events import Event
from dockyard.notifications import metrics
from dockyard.notifications.envelope import (
    EVENTS_MEDIA_TYPE,
    Source,
    envelope,
    ignored_media_type,
)
from dockyard.notifications.settings import EndpointSettings

log = logging.getLogger("dockyard.notifications")

MAX_QUEUE = 10_000
MAX_BATCH = 100
USER_AGENT = "dockyard-notifications"
_OVERFLOW_LOG_EVERY = 1000


class Endpoint:
    """Queue and delivery for one configured endpoint.

    Counters (plain ints, read them at any time from the event loop's thread):

    * ``received``: events queued (after the ignore rules);
    * ``ignored``: events the ignore rules discarded;
    * ``delivered``: events the endpoint accepted (2xx/3xx);
    * ``failed``: delivery attempts (requests) that failed and will be retried;
    * ``dropped``: events lost to a full queue or left undelivered at shutdown;
    * ``overflowed``: the part of ``dropped`` lost to a full queue;
    * ``pending``: events queued or in flight now.
    """

    def __init__(self, settings: EndpointSettings, source: Source, *,
                 max_queue: int = MAX_QUEUE, max_batch: int = MAX_BATCH,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if max_queue < 1 or max_batch < 1:
            raise ValueError("max_queue and max_batch must be positive")
        self.settings = settings
        self.name = settings.name
        self.source = source
        self.max_queue = max_queue
        self.max_batch = max_batch
        self._transport = transport
        self._queue: deque[Event] = deque()
        self._inflight: list[Event] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests replace it
        self.received = 0
        self.ignored = 0
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self.overflowed = 0
        self.consecutive_failures = 0
        self.statuses: Counter[str] = Counter()

    # -- publishing (request path) -------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._inflight)

    def accepts(self, event: Event) -> bool:
        """False when the endpoint's ignore rules drop ``event``."""
        return (event.action not in self.settings.ignored_actions
                and ignored_media_type(event) not in self.settings.ignored_media_types)

    def publish(self, event: Event) -> None:
        """Queue ``event``; O(1), never awaits, safe from any thread."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._thread_id:
            try:
                loop.call_soon_threadsafe(self._enqueue, event)
            except RuntimeError:  # the loop is closed: the process is shutting down
                self._count_dropped(1, "shutdown")
            return
        self._enqueue(event)

    def _enqueue(self, event: Event) -> None:
        if not self.accepts(event):
            self.ignored += 1
            return
        if len(self._queue) >= self.max_queue:
            self._queue.popleft()
            self._count_dropped(1, "overflow")
            self.overflowed += 1
            if self.overflowed % _OVERFLOW_LOG_EVERY == 1:
                log.warning("notification endpoint %s: queue full (%d events), dropped the "
                            "oldest event (%d dropped so far)", self.name, self.max_queue,
                            self.overflowed)
        self._queue.append(event)
        self.received += 1
        metrics.EVENTS.labels("Events", self.name).inc()
        metrics.PENDING.labels(self.name).inc()
        self._idle.clear()
        self._wakeup.set()

    def _count_dropped(self, count: int, reason: str) -> None:
        self.dropped += count
        metrics.DROPPED.labels(self.name, reason).inc(count)
        if reason == "overflow":
            metrics.PENDING.labels(self.name).dec(count)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering; must be called from the running event loop."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self._client = httpx.AsyncClient(
            transport=self._transport, follow_redirects=False,
            timeout=httpx.Timeout(self.settings.timeout), headers={"user-agent": USER_AGENT})
        self._task = asyncio.create_task(self._run(), name=f"notifications:{self.name}")

    async def stop(self, grace: float = 2.0) -> None:
        """Let the queue drain for up to ``grace`` seconds, then cancel delivery."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
        left = self.pending
        if left:
            log.warning("notification endpoint %s: %d events not delivered at shutdown",
                        self.name, left)
            metrics.PENDING.labels(self.name).dec(left)
            self._count_dropped(left, "shutdown")
            self._queue.clear()
            self._inflight = []
        self._loop = None
        self._thread_id = None

    # -- delivery ------------------------------------------------------------------------

    async def _run(self) -> None:
        body = b""
        while True:
            if not self._inflight:
                while not self._queue:
                    self._idle.set()
                    self._wakeup.clear()
                    await self._wakeup.wait()
                count = min(len(self._queue), self.max_batch)
                self._inflight = [self._queue.popleft() for _ in range(count)]
                try:
                    body = envelope(self._inflight, self.source)
                except Exception:  # a bug, not the endpoint's fault: retrying cannot help
                    log.exception("notification endpoint %s: cannot encode %d events; "
                                  "dropped", self.name, count)
                    metrics.PENDING.labels(self.name).dec(count)
                    self._count_dropped(count, "error")
                    self._inflight = []
                    continue
            if await self._attempt(body, len(self._inflight)):
                count = len(self._inflight)
                self._inflight = []
                self.delivered += count
                metrics.PENDING.labels(self.name).dec(count)
                if self.consecutive_failures:
                    log.info("notification endpoint %s: delivering again after %d failed "
                             "attempts", self.name, self.consecutive_failures)
                self.consecutive_failures = 0
                continue
            self.failed += 1
            self.consecutive_failures += 1
            if self.consecutive_failures >= self.settings.threshold:
                await self._sleep(self.settings.backoff)

    async def _attempt(self, body: bytes, count: int) -> bool:
        """POST one batch; True when the endpoint answered 2xx or 3xx."""
        assert self._client is not None
        headers = [("content-type", EVENTS_MEDIA_TYPE), *self.settings.headers]
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.settings.timeout):
                response = await self._client.post(self.settings.url, content=body,
                                                   headers=headers)
        except Exception as exc:  # connection refused, reset, timeout, TLS, bad URL...
            metrics.EVENTS.labels("Errors", self.name).inc(count)
            reason = "timed out" if isinstance(exc, TimeoutError | httpx.TimeoutException) \
                else f"{type(exc).__name__}: {exc}"
            log.warning("notification endpoint %s: POST %s failed after %.1fs (%s); %d events "
                        "will be retried (%d consecutive failures)", self.name,
                        self.settings.url, time.monotonic() - started, reason, count,
                        self.consecutive_failures + 1)
            return False
        status = response.status_code
        label = metrics.status_label(status)
        self.statuses[label] += 1
        metrics.STATUS.labels(label, self.name).inc()
        if 200 <= status < 400:
            metrics.EVENTS.labels("Successes", self.name).inc(count)
            return True
        metrics.EVENTS.labels("Failures", self.name).inc(count)
        log.warning("notification endpoint %s: POST %s answered %s; %d events will be retried "
                    "(%d consecutive failures)", self.name, self.settings.url, label, count,
                    self.consecutive_failures + 1)
        return False
