"""What ``dockyard quota`` shows and checks, as data: usage rows and reconciliation."""

from dataclasses import asdict, dataclass

from sqlalchemy import Engine

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


def reconcile(engine: Engine, fix: bool = False) -> Reconciliation:
    """Recount usage and compare it with the running figures; rewrite them with ``fix``.

    Runs in one write transaction (``BEGIN IMMEDIATE`` on SQLite), so both sides are read
    from the same state even while the registry serves pushes.
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
