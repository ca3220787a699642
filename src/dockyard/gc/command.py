"""``dockyard garbage-collect``: mark and sweep over the metadata database and blob store.

Like Distribution's ``registry garbage-collect``, it runs offline: the mark phase cannot see
uploads in flight, so it refuses to start while a registry serves writes on the same storage
(:mod:`dockyard.gc.lock`) unless ``--force``. Steps:

1. Index any registry:2 link files not yet imported (a dry run refuses instead, since it
   must not change the database): otherwise their blobs would look unreferenced.
2. With ``--delete-untagged``, delete the manifests no tag reaches (:func:`unreachable`).
3. Mark every remaining manifest's digest, its config and layer blobs and its children,
   plus the registry:2 manifests the importer could not index.
4. Sweep every blob row and blob file outside the mark set.
"""

import sys
from collections.abc import Callable

from sqlalchemy import Engine

from dockyard.config import Config
from dockyard.gc.lock import serving_lock_path, try_exclusive
from dockyard.gc.mark import mark, mark_unindexed, unreachable
from dockyard.gc.sweep import sweep
from dockyard.metadata.gc_queries import Graph, delete_untagged, load_graph
from dockyard.metadata.importer import (
    import_lock,
    import_tree_locked,
    pending_repositories,
    unindexed_manifests,
)
from dockyard.metadata.store import MetadataStore
from dockyard.storage.layout import Layout


def run_garbage_collect(config: Config, dry_run: bool, delete_untagged: bool, quiet: bool,
                        force: bool) -> int:
    """Collect garbage; returns the process exit code."""
    lock = try_exclusive(serving_lock_path(config))
    if lock is None:
        if not force:
            _error(f"a registry is serving writes on {config.root_directory} (it holds "
                   f"{serving_lock_path(config)}); stop it or restart it with "
                   "storage.maintenance.readonly.enabled: true, then run garbage-collect "
                   "again (--force runs anyway and can lose blobs being pushed)")
            return 1
        _error("warning: --force: a registry is serving writes on this storage; blobs "
               "pushed during the collection can be lost")
    try:
        metadata = MetadataStore(config.metadata_url, migrate=True)
        try:
            return _collect(config, metadata, dry_run, delete_untagged, quiet, force)
        finally:
            metadata.close()
    finally:
        if lock is not None:
            lock.close()


def _collect(config: Config, metadata: MetadataStore, dry_run: bool, delete_untagged: bool,
             quiet: bool, force: bool) -> int:
    def emit(line: str) -> None:
        if not quiet:
            print(line)

    engine = metadata.write_engine
    if not _index_tree(config, metadata, dry_run, emit):
        return 1
    graph = load_graph(engine)
    layout = Layout(config.root_directory)
    unindexed = unindexed_manifests(config)
    protected = mark_unindexed(layout, unindexed, set(), lambda _line: None)
    dropped: set[int] = set()
    if delete_untagged:
        dropped = _drop_untagged(engine, graph, protected, dry_run, emit)
    marked = mark(graph, dropped, emit)
    mark_unindexed(layout, unindexed, marked, emit)
    result = sweep(engine, config.root_directory, marked, dry_run, force, emit)
    freed = (f"{result.bytes_freed} bytes would be freed (dry run)" if dry_run
             else f"{result.bytes_freed} bytes freed")
    summary = f"{len(marked)} blobs marked, {result.eligible} blobs eligible for deletion, {freed}"
    if delete_untagged:
        verb = "eligible for deletion" if dry_run else "deleted"
        summary += f"; {len(dropped)} untagged manifests {verb}"
    print(summary)
    for error in result.errors:
        _error(f"could not delete blob {error}")
    return 1 if result.errors else 0


def _index_tree(config: Config, metadata: MetadataStore, dry_run: bool,
                emit: Callable[[str], None]) -> bool:
    """Make sure every registry:2 link file is in the database before anything is marked."""
    if dry_run:
        pending = pending_repositories(config, metadata)
        if pending:
            _error(f"{len(pending)} repositories of the registry:2 tree are not indexed yet "
                   f"({', '.join(pending[:5])}); run `dockyard import` first: a dry run "
                   "changes nothing, and their blobs would look unreferenced")
            return False
        return True
    with import_lock(config):
        imported = import_tree_locked(config, metadata)
    if imported.failed:
        _error(f"cannot index registry:2 repositories {', '.join(imported.failed[:5])}; "
               "nothing was deleted (their blobs would look unreferenced)")
        return False
    if imported.manifests or imported.blob_links or imported.tags:
        emit(f"indexed registry:2 link files: {imported.manifests} manifests, "
             f"{imported.tags} tags, {imported.blob_links} blob links")
    return True


def _drop_untagged(engine: Engine, graph: Graph, protected: set[str], dry_run: bool,
                   emit: Callable[[str], None]) -> set[int]:
    untagged = unreachable(graph, protected)
    if dry_run:
        for manifest in untagged:
            emit(f"manifest eligible for deletion: {manifest.repository}@{manifest.digest}")
        return {m.id for m in untagged}
    deleted = delete_untagged(engine, (m.id for m in untagged))
    for manifest in untagged:
        if manifest.id in deleted:
            emit(f"deleting manifest {manifest.repository}@{manifest.digest}")
    return deleted


def _error(message: str) -> None:
    print(f"dockyard garbage-collect: {message}", file=sys.stderr)
