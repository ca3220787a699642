"""The reconciliation check reads one snapshot and never holds up pushes."""

from pathlib import Path

from dockyard.metadata.store import MetadataStore
from dockyard.quota.report import reconcile, snapshot_engine
from dockyard.quota.usage import Usage, recomputed_usage, running_usage
from tests.quota.helpers import d


def test_check_reads_a_snapshot_while_pushes_commit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/meta.sqlite3"
    store = MetadataStore(url)
    store.link_blob("team/app", d(1), 100)
    engine = snapshot_engine(url)
    with engine.begin() as conn:
        running = running_usage(conn)
        # A push commits in the middle of the check: it neither waits for the check nor
        # shows up in its recount, so both sides still describe the same state.
        store.link_blob("team/app", d(2), 50)
        assert recomputed_usage(conn) == running == {"team": Usage(100, 1)}
    assert reconcile(engine).clean
    with engine.begin() as conn:
        assert running_usage(conn) == {"team": Usage(150, 2)}
    engine.dispose()
    store.close()
