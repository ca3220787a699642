"""Prometheus metrics, named and labelled as Distribution's where Distribution has them.

Exported (namespace ``registry``, as Distribution's ``docker/go-metrics``):

* ``registry_http_requests_total{method,handler,code}``: requests answered. ``handler`` is
  the router's label (``base``, ``catalog``, ``manifest``, ``blob``, ``blob_upload``,
  ``blob_upload_chunk``, ``tags``, ``referrers``, ``unknown``): Distribution's handler
  names, so registry:2 dashboards keep working; never the raw path.
* ``registry_http_request_duration_seconds{method,handler}``: latency histogram.
* ``registry_http_in_bytes_total{handler}`` / ``registry_http_out_bytes_total{handler}``:
  request and response body bytes (Dockyard's; Distribution has size summaries instead).
* ``registry_storage_action_seconds{driver,action}``: storage operation latency histogram;
  its ``_count`` is the number of operations (:func:`observe_storage`, :func:`time_storage`).
* ``registry_storage_cache_total{type}``: blob-descriptor cache lookups, ``type`` being
  ``Request``, ``Hit``, ``Miss`` or ``Error`` as Distribution counts them
  (:func:`cache_hit`, :func:`cache_miss`, :func:`cache_error`).
* ``registry_uploads_in_flight``: blob upload requests receiving data right now, summed
  over live workers (:func:`track_upload`).

Workers are separate processes (granian), so prometheus-client runs in multiprocess mode:
the parent sets ``PROMETHEUS_MULTIPROC_DIR`` (:func:`prepare_multiprocess_dir`) before the
workers start, each worker writes its values to files there, and the debug server sums them
(:func:`scrape`). ``prometheus_client`` is imported lazily on purpose: it picks its value
store when first imported, which must happen after the variable is set.

Until :func:`enable` runs (metrics configured), every recording function is a no-op costing
one global lookup, so storage code can call them unconditionally.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import shutil
import tempfile
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Prometheus' default buckets, extended for blob transfers that take minutes.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0, float("inf"))
STORAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0, 30.0, float("inf"))
METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"})
MAX_CACHED_LABELS = 4096
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]*_(\d+)\.db$")


class Metrics:
    """The metric objects of one process, with label children cached for the hot path."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        _use_multiprocess_values_if_configured()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter("registry_http_requests", "Requests answered, by method, "
                                "handler and status code", ["method", "handler", "code"],
                                registry=self.registry)
        self.duration = Histogram("registry_http_request_duration_seconds",
                                  "Time from a request's arrival to the end of its answer",
                                  ["method", "handler"], buckets=DURATION_BUCKETS,
                                  registry=self.registry)
        self.bytes_in = Counter("registry_http_in_bytes", "Request body bytes received",
                                ["handler"], registry=self.registry)
        self.bytes_out = Counter("registry_http_out_bytes", "Response body bytes sent",
                                 ["handler"], registry=self.registry)
        self.storage = Histogram("registry_storage_action_seconds",
                                 "The number of seconds that the storage action takes",
                                 ["driver", "action"], buckets=STORAGE_BUCKETS,
                                 registry=self.registry)
        self.cache = Counter("registry_storage_cache", "The number of cache request received",
                             ["type"], registry=self.registry)
        self.uploads = Gauge("registry_uploads_in_flight",
                             "Blob upload requests receiving data right now",
                             registry=self.registry, multiprocess_mode="livesum")
        self._cache_request = self.cache.labels("Request")
        self._cache_hit = self.cache.labels("Hit")
        self._cache_miss = self.cache.labels("Miss")
        self._cache_error = self.cache.labels("Error")
        self._per_request: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}
        self._per_storage: dict[tuple[str, str], Any] = {}

    def observe_request(self, method: str, handler: str, status: int, duration: float,
                        bytes_in: int, bytes_out: int) -> None:
        """Count one answered request; a dict lookup and four increments once warm."""
        key = (method, handler, status)
        children = self._per_request.get(key)
        if children is None:
            children = self._children(key)
        children[0].inc()
        children[1].observe(duration)
        if bytes_in:
            children[2].inc(bytes_in)
        if bytes_out:
            children[3].inc(bytes_out)

    def _children(self, key: tuple[str, str, int]) -> tuple[Any, Any, Any, Any]:
        method, handler, status = key
        label = method if method in METHODS else "other"  # clients choose methods freely
        children = (self.requests.labels(label, handler, str(status)),
                    self.duration.labels(label, handler),
                    self.bytes_in.labels(handler), self.bytes_out.labels(handler))
        if len(self._per_request) < MAX_CACHED_LABELS:
            self._per_request[key] = children
        return children

    def observe_storage(self, action: str, seconds: float, driver: str) -> None:
        child = self._per_storage.get((driver, action))
        if child is None:
            child = self.storage.labels(driver, action)
            if len(self._per_storage) < MAX_CACHED_LABELS:
                self._per_storage[(driver, action)] = child
        child.observe(seconds)


_active: Metrics | None = None


def enable() -> Metrics:
    """Start recording in this process (idempotent); called by the worker's observer."""
    global _active
    if _active is None:
        _active = Metrics()
    return _active


def active() -> Metrics | None:
    """The metrics this process records, or None while metrics are off."""
    return _active


# ----------------------------------------------------------------- recording API


def observe_storage(action: str, seconds: float, driver: str = "filesystem") -> None:
    """Record one storage operation (``stat``, ``read``, ``put``, ``delete``, ...)."""
    metrics = _active
    if metrics is not None:
        metrics.observe_storage(action, seconds, driver)


class time_storage:  # noqa: N801 - used like a function: ``with time_storage("put"):``
    """Time the block as one storage ``action``, failed or not."""

    __slots__ = ("action", "driver", "_started")

    def __init__(self, action: str, driver: str = "filesystem") -> None:
        self.action = action
        self.driver = driver
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        metrics = _active
        if metrics is not None:
            metrics.observe_storage(self.action, time.perf_counter() - self._started,
                                    self.driver)


def cache_hit() -> None:
    """A blob-descriptor cache lookup that found the descriptor."""
    metrics = _active
    if metrics is not None:
        metrics._cache_request.inc()
        metrics._cache_hit.inc()


def cache_miss() -> None:
    """A blob-descriptor cache lookup that fell through to storage."""
    metrics = _active
    if metrics is not None:
        metrics._cache_request.inc()
        metrics._cache_miss.inc()


def cache_error() -> None:
    """A blob-descriptor cache lookup that failed (counted besides its hit or miss)."""
    metrics = _active
    if metrics is not None:
        metrics._cache_error.inc()


def upload_started() -> None:
    """A blob upload request began receiving data; pair with :func:`upload_finished`."""
    metrics = _active
    if metrics is not None:
        metrics.uploads.inc()


def upload_finished() -> None:
    metrics = _active
    if metrics is not None:
        metrics.uploads.dec()


class track_upload:  # noqa: N801 - used like a function: ``with track_upload():``
    """Count the block in ``registry_uploads_in_flight``, however it ends."""

    __slots__ = ("_metrics",)

    def __enter__(self) -> None:
        self._metrics = _active
        if self._metrics is not None:
            self._metrics.uploads.inc()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._metrics is not None:
            self._metrics.uploads.dec()


# -------------------------------------------------------------- multiprocess mode


def prepare_multiprocess_dir() -> str:
    """Give the workers a clean ``PROMETHEUS_MULTIPROC_DIR``; the parent calls this first.

    An operator's directory is kept but emptied of stale ``*.db`` files (values of a
    previous run would be summed in); otherwise a fresh temporary directory is made and
    removed when the parent exits.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(stale)
    else:
        directory = tempfile.mkdtemp(prefix="dockyard-metrics-")
        os.environ[MULTIPROC_ENV] = directory
        owner = os.getpid()

        def remove() -> None:
            if os.getpid() == owner:  # forked workers inherit atexit handlers
                shutil.rmtree(directory, ignore_errors=True)

        atexit.register(remove)
    _use_multiprocess_values_if_configured()
    return directory


def _use_multiprocess_values_if_configured() -> None:
    """Make new metrics write to files when the variable is set.

    prometheus-client chooses its value class when first imported; if that happened before
    the parent set the variable, forked workers would inherit in-memory values that no
    scrape can see.
    """
    if not os.environ.get(MULTIPROC_ENV):
        return
    from prometheus_client import values

    if values.ValueClass.__name__ != "MmapedValue":
        values.ValueClass = values.get_value_class()


def multiprocess_registry(directory: str) -> CollectorRegistry:
    """A registry that sums every worker's files in ``directory``."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


def scrape(registry: CollectorRegistry, directory: str | None = None) -> bytes:
    """The text exposition of ``registry``; dead workers' live gauges are dropped first."""
    from prometheus_client import generate_latest

    if directory:
        forget_dead_processes(directory)
    return bytes(generate_latest(registry))


def forget_dead_processes(directory: str) -> None:
    """Remove the ``livesum`` gauge files of workers that are gone (crashed or respawned)."""
    from prometheus_client import multiprocess

    for path in glob.glob(os.path.join(directory, "gauge_live*.db")):
        match = _LIVE_GAUGE_FILE.search(os.path.basename(path))
        if match is not None and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
