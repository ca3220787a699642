"""Shared checks of the quota tests: the running figures against a recount from scratch."""

from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from dockyard.quota.report import reconcile, usage_rows
from dockyard.quota.usage import Usage, recomputed_usage, running_usage


def d(n: int) -> str:
    return f"sha256:{n:064x}"


def engine_of(root: Path) -> Engine:
    """An engine on the metadata database of a registry whose storage root is ``root``."""
    return create_engine(f"sqlite:///{root}/dockyard/metadata.sqlite3")


def assert_reconciled(engine: Engine) -> dict[str, Usage]:
    """Running figures equal the recount (per namespace and per blob row); returns them."""
    result = reconcile(engine)
    assert result.clean, (result.differences, result.blob_rows_differing)
    with engine.connect() as conn:
        running = {k: v for k, v in running_usage(conn).items() if v.blobs or v.bytes}
        assert running == recomputed_usage(conn)
    return running


def used(engine: Engine, namespace: str) -> int:
    rows = usage_rows(engine, None, namespace)
    return rows[0].used_bytes


def python_usage(engine: Engine, root: Path) -> dict[str, Usage]:
    """Usage by the definition, computed in Python from the raw rows and the files' sizes."""
    held: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for name, digest in conn.execute(text(
                "SELECT r.name, rb.digest FROM repository_blobs rb "
                "JOIN repositories r ON r.id = rb.repository_id")):
            held.setdefault(name.split("/")[0], {})[digest] = _file_size(root, digest)
        for name, digest, size in conn.execute(text(
                "SELECT r.name, m.digest, m.size FROM manifests m "
                "JOIN repositories r ON r.id = m.repository_id")):
            held.setdefault(name.split("/")[0], {})[digest] = size
    return {ns: Usage(sum(blobs.values()), len(blobs)) for ns, blobs in held.items()}


def _file_size(root: Path, digest: str) -> int:
    algorithm, hex_ = digest.split(":")
    return (root / "docker/registry/v2/blobs" / algorithm / hex_[:2] / hex_ / "data").stat().st_size
