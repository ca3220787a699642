"""What ``dockyard quota`` shows and checks, as data: usage rows and reconciliation."""

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.url import make_url

from dockyard.quota.limits import QuotaLimits, human_size
from dockyard.quota.usage import (
    Usage,
    blob_differences,
    recomputed_usage,
    refill,
    running_usage,
)


@dataclass(frozen=True, slots=True)
class QuotaRow:
    """One namespace: running usage against its limit."""

    namespace: str
    used_bytes: int
    limit_bytes: int | None
    percent: float | None
    blobs: int

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    def cells(self) -> tuple[str, str, str, str, str]:
        return (self.namespace, human_size(self.used_bytes),
                "-" if self.limit_bytes is None else human_size(self.limit_bytes),
                "-" if self.percent is None else f"{self.percent:.1f}%", str(self.blobs))


def usage_rows(engine: Engine, limits: QuotaLimits | None,
               namespace: str | None = None) -> list[QuotaRow]:
    """Namespaces with usage or a configured limit, by name (one, with ``namespace``)."""
    with engine.connect() as conn:
        usage = running_usage(conn)
    names = set(usage) | set(limits.namespaces if limits else ())
    if namespace is not None:
        names = {namespace}
    rows = []
    for name in sorted(names):
        used = usage.get(name, Usage(0, 0))
        limit = limits.limit_of_namespace(name) if limits else None
        percent = None if not limit else round(100 * used.bytes / limit, 1)
        rows.append(QuotaRow(name, used.bytes, limit, percent, used.blobs))
    return rows


@dataclass(frozen=True, slots=True)
class Difference:
    """A namespace whose running figure differs from the recount."""

    namespace: str
    running: Usage
    recomputed: Usage

    def describe(self) -> str:
        return (f"{self.namespace}: running {human_size(self.running.bytes)} "
                f"({self.running.bytes} bytes, {self.running.blobs} blobs), recomputed "
                f"{human_size(self.recomputed.bytes)} ({self.recomputed.bytes} bytes, "
                f"{self.recomputed.blobs} blobs)")


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The outcome of recounting every namespace from the link and manifest tables."""

    namespaces: int
    differences: list[Difference]
    blob_rows_differing: int
    fixed: bool

    @property
    def clean(self) -> bool:
        return not self.differences and not self.blob_rows_differing


def snapshot_engine(url: str) -> Engine:
    """An engine whose transactions read one snapshot without blocking writers.

    SQLite in WAL mode gives a deferred ``BEGIN`` a consistent snapshot from its first read
    while pushes keep committing; PostgreSQL gets the same from REPEATABLE READ. A recount
    of 100,000 blobs takes seconds, which must not hold the write lock.
    """
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, isolation_level="REPEATABLE READ")
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _manual(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def reconcile(engine: Engine, fix: bool = False) -> Reconciliation:
    """Recount usage and compare it with the running figures; rewrite them with ``fix``.

    Both sides are read in one transaction, so they describe the same state even while the
    registry serves pushes: give a :func:`snapshot_engine` to check, and the store's write
    engine (``BEGIN IMMEDIATE``) to fix.
    """
    with engine.begin() as conn:
        running, recomputed = running_usage(conn), recomputed_usage(conn)
        empty = Usage(0, 0)
        differences = [
            Difference(name, running.get(name, empty), recomputed.get(name, empty))
            for name in sorted(set(running) | set(recomputed))
            if running.get(name, empty) != recomputed.get(name, empty)]
        rows = blob_differences(conn)
        if fix and (differences or rows):
            refill(conn)
    return Reconciliation(len(recomputed), differences, rows, fix and bool(differences or rows))
