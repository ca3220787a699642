"""The record of every retention run: when, dry or real, what it deleted, the counts.

A run's row is written when it starts (status ``running``) and completed when it ends, so
a run cut short by a crash stays visible as ``running`` with no finish time.
"""

import time
from dataclasses import asdict, dataclass, field

from sqlalchemy import Engine, delete, func, insert, select, update

from dockyard.metadata.schema import retention_deletions, retention_runs


@dataclass(frozen=True, slots=True)
class Deletion:
    """A tag (``tag`` set) or an untagged manifest (``tag`` None) a run removed."""

    repository: str
    tag: str | None
    digest: str


@dataclass
class RunRecord:
    id: int
    started_at: float
    finished_at: float | None
    dry_run: bool
    trigger: str
    status: str
    tags_deleted: int
    tags_kept: int
    manifests_deleted: int
    error: str | None
    deleted: list[Deletion] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def start_run(engine: Engine, dry_run: bool, trigger: str, now: float | None = None) -> int:
    with engine.begin() as conn:
        result = conn.execute(insert(retention_runs).values(
            started_at=time.time() if now is None else now, dry_run=int(dry_run),
            trigger=trigger, status="running", tags_deleted=0, tags_kept=0,
            manifests_deleted=0))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(engine: Engine, run_id: int, deleted: list[Deletion], tags_kept: int,
               error: str | None = None) -> None:
    """Store the counts and the deleted list; ``error`` marks a run that stopped early."""
    with engine.begin() as conn:
        conn.execute(delete(retention_deletions).where(retention_deletions.c.run_id == run_id))
        if deleted:
            conn.execute(insert(retention_deletions), [
                {"run_id": run_id, "position": i, "repository": d.repository, "tag": d.tag,
                 "digest": d.digest} for i, d in enumerate(deleted)])
        conn.execute(update(retention_runs).where(retention_runs.c.id == run_id).values(
            finished_at=time.time(), status="failed" if error else "finished",
            tags_deleted=sum(1 for d in deleted if d.tag is not None),
            manifests_deleted=sum(1 for d in deleted if d.tag is None),
            tags_kept=tags_kept, error=error))


def list_runs(engine: Engine, limit: int = 50, with_deleted: bool = True) -> list[RunRecord]:
    """The latest ``limit`` runs, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(retention_runs).order_by(retention_runs.c.id.desc())
                            .limit(limit)).all()
        records = [RunRecord(r.id, r.started_at, r.finished_at, bool(r.dry_run), r.trigger,
                             r.status, r.tags_deleted, r.tags_kept, r.manifests_deleted,
                             r.error) for r in rows]
        if with_deleted and records:
            by_id = {record.id: record for record in records}
            for row in conn.execute(
                    select(retention_deletions)
                    .where(retention_deletions.c.run_id.in_(list(by_id)))
                    .order_by(retention_deletions.c.run_id, retention_deletions.c.position)):
                by_id[row.run_id].deleted.append(Deletion(row.repository, row.tag, row.digest))
    return records


def last_real_run_start(engine: Engine) -> float | None:
    """When the latest real (not dry) run started, from any process; the schedule's anchor."""
    with engine.connect() as conn:
        found = conn.execute(select(func.max(retention_runs.c.started_at))
                             .where(retention_runs.c.dry_run == 0)).scalar()
    return None if found is None else float(found)
