"""The online collector: drain the review queue in bounded batches while the registry serves.

One run repeats, until nothing is due: one write transaction re-checks up to ``batch`` due
candidates and deletes the free ones (:func:`~dockyard.metadata.review_collect.collect_batch`);
the change marker is bumped so serving processes drop cached look-ups; then the bytes of the
blobs whose rows went are removed (:mod:`dockyard.gc.online.files`); then a short pause, so
requests waiting for the write lock get it. The caller holds the collector lock
(:mod:`dockyard.gc.online.locks`) and runs this in a thread: it blocks.

A dry run does the same re-checks and cascades, then throws its changes away, so it lists
exactly what a real run would delete at that moment, consumes nothing and touches no file. On
SQLite it runs on a private copy of the database (:mod:`dockyard.gc.online.snapshot`), so it
never holds the live write lock; elsewhere it runs in one transaction that is rolled back.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from dockyard.gc.online import metrics
from dockyard.gc.online.files import FileRemover
from dockyard.gc.online.snapshot import sqlite_copy
from dockyard.gc.settings import GcSettings
from dockyard.metadata.generation import ChangeMarker, change_marker
from dockyard.metadata.review_collect import Batch, Rules, collect_batch

log = logging.getLogger("dockyard.gc")
Emit = Callable[[str], None]


@dataclass
class Totals:
    """Everything one run deleted (or would delete)."""

    dry_run: bool = False
    manifests: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    blobs: list[tuple[str, int]] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    examined: int = 0
    batches: int = 0
    busy_files: int = 0
    seconds: float = 0.0

    @property
    def bytes(self) -> int:
        """Bytes of the blob rows deleted (a file's size is what its row recorded)."""
        return sum(size for _digest, size in self.blobs)

    @property
    def objects(self) -> int:
        return len(self.manifests) + len(self.links) + len(self.blobs)

    def add(self, batch: Batch) -> None:
        self.examined += batch.examined
        self.batches += 1
        self.manifests += batch.manifests
        self.links += batch.links
        self.blobs += batch.blobs

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (f"{verb} {len(self.manifests)} manifests, {len(self.links)} blob links, "
                f"{len(self.blobs)} blobs ({self.bytes} bytes); examined {self.examined} "
                f"candidates in {self.batches} batches, {self.seconds:.2f}s")


class Collector:
    """Runs collections on one storage root with one set of rules."""

    def __init__(self, engine: Engine, root: Path, settings: GcSettings,
                 protected: frozenset[str] = frozenset(), stop: threading.Event | None = None):
        self._engine = engine
        self._root = Path(root)
        self._settings = settings
        self._rules = Rules(delay=settings.delay.total_seconds(), batch=settings.batch,
                            untagged=settings.untagged, protected=protected,
                            link_grace=settings.link_grace.total_seconds())
        self._stop = stop or threading.Event()
        self._files = FileRemover(engine, self._root)

    def run(self, dry_run: bool = False, emit: Emit | None = None) -> Totals:
        started = time.monotonic()
        totals = self._dry_run() if dry_run else self._run(emit or (lambda _line: None))
        totals.seconds = time.monotonic() - started
        level = logging.INFO if totals.objects or totals.files else logging.DEBUG
        log.log(level, "garbage collection: %s", totals.summary())
        return totals

    def _dry_run(self) -> Totals:
        if self._engine.dialect.name == "sqlite":
            with sqlite_copy(self._engine) as copy:
                return self._preview(copy)
        return self._preview(self._engine)

    def _preview(self, engine: Engine) -> Totals:
        totals = Totals(dry_run=True)
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                now = time.time()
                while True:
                    batch = collect_batch(conn, now, self._rules)
                    if not batch.examined:
                        break
                    totals.add(batch)
            finally:
                transaction.rollback()
        return totals

    def _run(self, emit: Emit) -> Totals:
        totals = Totals()
        marker = change_marker(self._root)
        self._files.empty_trash()
        try:
            self._loop(totals, marker, emit)
        finally:
            self._files.finish()
        return totals

    def _loop(self, totals: Totals, marker: ChangeMarker, emit: Emit) -> None:
        while not self._stop.is_set():
            with self._engine.begin() as conn:
                batch = collect_batch(conn, time.time(), self._rules)
            if batch.changed:
                marker.bump()  # Committed: serving caches must forget before bytes go.
            totals.add(batch)
            _report(batch, emit)
            # Entries left by an earlier (killed) run need a bump of their own.
            files = self._files.run_round(
                self._rules.batch, (lambda: None) if batch.changed else marker.bump)
            totals.files += files.removed
            totals.busy_files = files.busy
            metrics.record(batch, files.removed)
            if batch.changed or files.removed:
                log.info("garbage collection batch: %d manifests, %d links, %d blobs, "
                         "%d files removed", len(batch.manifests), len(batch.links),
                         len(batch.blobs), len(files.removed))
            if not batch.examined and not files.settled:
                break
            self._stop.wait(self._settings.pause.total_seconds())


def _report(batch: Batch, emit: Emit) -> None:
    for repository, digest in batch.manifests:
        emit(f"manifest {repository}@{digest}")
    for repository, digest in batch.links:
        emit(f"link {repository} {digest}")
    for digest, size in batch.blobs:
        emit(f"blob {digest} {size}")
