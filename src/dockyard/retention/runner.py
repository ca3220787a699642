"""One retention run: read each repository, judge it, delete what goes, record the run.

The dry run and the real run call the same judging functions on the same reads, so a dry
run lists exactly what the real run deletes when nothing changed in between. Deletes go
through the metadata store's ``delete_tag`` and ``delete_manifest`` (the online collector
reviews what they orphan; retention never touches blobs). Right before each delete the
runner re-reads the row: a tag pushed again or moved since the read, or a manifest tagged
or adopted by an index since, is skipped and reported instead of deleted.

Real runs hold ``<root>/dockyard/retention.lock`` (``flock``), so the scheduler of each
worker and a CLI run never delete concurrently; dry runs need no lock.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from dockyard.core.immutability import ImmutableTagRule
from dockyard.gc.lock import try_exclusive
from dockyard.metadata.generation import ChangeMarker
from dockyard.retention.policy import TagVerdict, governing, judge_tags, repository_matches
from dockyard.retention.pulls import prune_pull_times
from dockyard.retention.runs import Deletion, finish_run, start_run
from dockyard.retention.settings import RetentionSettings
from dockyard.retention.snapshot import read_repository, repository_names
from dockyard.retention.untagged import ManifestVerdict, judge_untagged

log = logging.getLogger("dockyard.retention")


class Deleter(Protocol):
    """The two store methods retention deletes through (the store, or the cached store)."""

    def delete_tag(self, repository: str, tag: str,
                   if_unchanged: tuple[str, float] | None = None) -> bool: ...

    def delete_manifest(self, repository: str, digest: str, only_if_untagged: bool = False
                        ) -> bool: ...


class RetentionBusy(RuntimeError):
    """Another real run holds the retention lock."""


@dataclass
class RunReport:
    """What a run judged and did; ``deleted`` is what went (a dry run: what would go)."""

    run_id: int
    dry_run: bool
    started_at: float
    tags: list[TagVerdict] = field(default_factory=list)
    manifests: list[ManifestVerdict] = field(default_factory=list)
    deleted: list[Deletion] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    finished_at: float | None = None

    @property
    def kept(self) -> list[TagVerdict]:
        return [v for v in self.tags if v.kept]


@dataclass(frozen=True)
class RunTarget:
    """Where a run reads and deletes, and how it tells a serving cache about it."""

    engine: Engine
    deleter: Deleter
    root: Path
    marker: ChangeMarker | None = None


def run_retention(settings: RetentionSettings, immutable: tuple[ImmutableTagRule, ...],
                  target: RunTarget, dry_run: bool, trigger: str,
                  now: float | None = None) -> RunReport:
    """Judge every repository a policy matches and (unless ``dry_run``) delete; recorded."""
    lock = None
    if not dry_run:
        lock = try_exclusive(target.root / "dockyard" / "retention.lock")
        if lock is None:
            raise RetentionBusy("another retention run is deleting on this storage")
    try:
        started = time.time() if now is None else now
        report = RunReport(start_run(target.engine, dry_run, trigger, started), dry_run, started)
        try:
            for name in repository_names(target.engine):
                _one_repository(settings, immutable, target, report, name)
            if not dry_run:
                prune_pull_times(target.engine)
        except Exception as error:
            finish_run(target.engine, report.run_id, report.deleted, len(report.kept),
                       f"{type(error).__name__}: {error}")
            raise
        finish_run(target.engine, report.run_id, report.deleted, len(report.kept))
        report.finished_at = time.time()
        return report
    finally:
        if lock is not None:
            lock.close()


def _one_repository(settings: RetentionSettings, immutable: tuple[ImmutableTagRule, ...],
                    target: RunTarget, report: RunReport, name: str) -> None:
    cleanup = settings.untagged
    wants_untagged = cleanup is not None and repository_matches(cleanup.repositories, name)
    if not governing(settings.policies, name) and not wants_untagged:
        return
    snapshot = read_repository(target.engine, name, with_manifests=wants_untagged)
    verdicts = judge_tags(name, snapshot.tags, settings.policies, immutable, report.started_at)
    doomed = judge_untagged(name, snapshot.manifests, cleanup, report.started_at)
    report.tags += verdicts
    report.manifests += doomed
    before = len(report.deleted)
    try:
        for verdict in verdicts:
            if not verdict.kept:
                _delete_tag(target, report, verdict)
        for manifest in doomed:
            _delete_manifest(target, report, manifest)
    finally:  # Even when a read fails part-way: what was deleted must leave the cache.
        if len(report.deleted) > before and not report.dry_run and target.marker is not None:
            target.marker.bump()


def _delete_tag(target: RunTarget, report: RunReport, verdict: TagVerdict) -> None:
    # Conditional inside the delete's own transaction: a push that re-sets or moves the tag
    # after it was judged keeps it.
    _delete(report, Deletion(verdict.repository, verdict.tag, verdict.digest),
            f"{verdict.repository}:{verdict.tag}", "pushed, moved or deleted since it was judged",
            lambda: target.deleter.delete_tag(verdict.repository, verdict.tag,
                                              if_unchanged=(verdict.digest, verdict.pushed_at)))


def _delete_manifest(target: RunTarget, report: RunReport, manifest: ManifestVerdict) -> None:
    _delete(report, Deletion(manifest.repository, None, manifest.digest),
            f"{manifest.repository}@{manifest.digest}",
            "tagged, listed by an index or deleted since it was judged",
            lambda: target.deleter.delete_manifest(manifest.repository, manifest.digest,
                                                   only_if_untagged=True))


def _delete(report: RunReport, deletion: Deletion, reference: str, unchanged_reason: str,
            delete: Callable[[], bool]) -> None:
    """Record ``deletion`` if it is a dry run or ``delete()`` did it (never called dry)."""
    if report.dry_run or _attempt(report, reference, unchanged_reason, delete):
        report.deleted.append(deletion)


def _attempt(report: RunReport, reference: str, unchanged_reason: str,
             delete: Callable[[], bool]) -> bool:
    """Run one delete; a refusal (an online-GC or quota rule, say) skips it, never the run."""
    try:
        if delete():
            return True
        report.skipped.append(f"{reference}: {unchanged_reason}")
    except Exception as error:  # noqa: BLE001 - reported per item; the run goes on.
        log.warning("retention could not delete %s: %s", reference, error)
        report.skipped.append(f"{reference}: {type(error).__name__}: {error}")
    return False
