"""Pull times, recorded without slowing pulls down.

A manifest GET or HEAD adds ``(repository, reference)`` to an in-memory set: one hash and
no I/O on the request path. A background task swaps the set for an empty one every
``pullflush`` (default 5 s) and writes the batch in one transaction, stamped with the flush
time. So a pull time is late by at most one flush interval, and a ``kill -9`` loses at most
the pulls of the last interval (a clean stop flushes). Each worker process flushes its own
set; two workers writing the same row simply leave the later time.
"""

import threading
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, and_, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dockyard.metadata.schema import manifests, pull_times, repositories, tags

MAX_PENDING = 100_000


class PullLog:
    """The set of references pulled since the last flush."""

    def __init__(self) -> None:
        self._pending: set[tuple[str, str]] = set()
        self._lock = threading.Lock()  # The flush takes the set from another thread.

    def record(self, repository: str, reference: str) -> None:
        """Called on every manifest GET/HEAD; must stay this cheap (about 0.2 us)."""
        with self._lock:
            if len(self._pending) < MAX_PENDING:
                self._pending.add((repository, reference))

    def take(self) -> set[tuple[str, str]]:
        """Everything recorded so far; later pulls go to a fresh set."""
        with self._lock:
            taken, self._pending = self._pending, set()
        return taken

    def give_back(self, batch: set[tuple[str, str]]) -> None:
        """A batch whose flush failed, to be tried again with the next one."""
        with self._lock:
            self._pending |= batch


def write_pull_times(engine: Engine, batch: Iterable[tuple[str, str]], when: float) -> None:
    """Upsert ``pulled_at = when`` for every pulled reference of an existing repository."""
    batch = sorted(set(batch))
    with engine.begin() as conn:
        ids = _repository_ids(conn, {repository for repository, _ in batch})
        rows = [{"repository_id": ids[repository], "reference": reference, "pulled_at": when}
                for repository, reference in batch if repository in ids]
        if not rows:
            return
        dialect = engine.dialect.name
        if dialect in ("sqlite", "postgresql"):
            module = sqlite if dialect == "sqlite" else postgresql
            statement = module.insert(pull_times)
            conn.execute(statement.on_conflict_do_update(
                index_elements=[pull_times.c.repository_id, pull_times.c.reference],
                set_={"pulled_at": statement.excluded.pulled_at}), rows)
            return
        for row in rows:  # Any other database: update, then insert what was not there.
            changed = conn.execute(update(pull_times).where(
                pull_times.c.repository_id == row["repository_id"],
                pull_times.c.reference == row["reference"]).values(pulled_at=when))
            if changed.rowcount == 0:
                conn.execute(pull_times.insert().values(**row))


def _repository_ids(conn: Connection, names: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(names)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        found.update((row.name, row.id) for row in conn.execute(
            select(repositories.c.name, repositories.c.id)
            .where(repositories.c.name.in_(chunk))))
    return found


def prune_pull_times(engine: Engine) -> int:
    """Drop pull times of tags and manifests that no longer exist, so the table stays the
    size of what the registry holds; a real retention run calls it at its end."""
    tag_exists = exists().where(and_(tags.c.repository_id == pull_times.c.repository_id,
                                     tags.c.name == pull_times.c.reference))
    manifest_exists = exists().where(and_(
        manifests.c.repository_id == pull_times.c.repository_id,
        manifests.c.digest == pull_times.c.reference))
    with engine.begin() as conn:
        result = conn.execute(delete(pull_times).where(~tag_exists, ~manifest_exists))
        return int(result.rowcount)
