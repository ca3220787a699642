"""Prometheus counters of online collection (when metrics are on in this process).

* ``dockyard_gc_deleted_total{kind}``: objects deleted, ``kind`` being ``manifest``, ``link``,
  ``blob`` (rows) or ``file`` (blob files removed).
* ``dockyard_gc_freed_bytes_total``: bytes of the blob files removed.
* ``dockyard_gc_batches_total``: write transactions the collector ran.

They are created on the registry of :func:`dockyard.observability.metrics.active`, so in
multiprocess mode they are written to the same directory as every other metric and summed by
the scrape. Without metrics (``dockyard gc run`` from the CLI) recording costs nothing.
"""

from typing import Any

from dockyard.metadata.review_collect import Batch
from dockyard.observability.metrics import active

_counters: tuple[Any, Any, Any] | None = None


def _get() -> tuple[Any, Any, Any] | None:
    global _counters
    metrics = active()
    if metrics is None:
        return None
    if _counters is None:
        from prometheus_client import Counter

        _counters = (
            Counter("dockyard_gc_deleted", "Objects deleted by online garbage collection",
                    ["kind"], registry=metrics.registry),
            Counter("dockyard_gc_freed_bytes", "Bytes of blob files removed by online garbage "
                    "collection", registry=metrics.registry),
            Counter("dockyard_gc_batches", "Write transactions of online garbage collection",
                    registry=metrics.registry))
    return _counters


def record(batch: Batch, files: list[tuple[str, int]]) -> None:
    """Count one batch and the files removed after it."""
    counters = _get()
    if counters is None:
        return
    deleted, freed, batches = counters
    batches.inc()
    for kind, count in (("manifest", len(batch.manifests)), ("link", len(batch.links)),
                        ("blob", len(batch.blobs)), ("file", len(files))):
        if count:
            deleted.labels(kind).inc(count)
    freed.inc(sum(size for _digest, size in files))
