"""``dockyard gc run --orphans``: find blob files that no row names, and queue them.

The review queue finds every blob whose *row* the collector deleted. Files that never got a
row are invisible to it: a server killed between an upload's rename and its link transaction,
or bytes written by hand. The walk lists ``blobs/`` and queues a ``file`` entry for every
digest without a row; the collector's file stage then removes them with its usual care (the
digest's stripe lock, and a re-read that no row exists), so a push committing one of those
digests right now keeps its bytes.

Two kinds of row-less files are not garbage and are never queued: the files of a registry:2
tree not yet indexed (the walk refuses to run until ``dockyard import`` has caught up, and
holds the import lock while it runs), and manifests the importer could not index, with
everything they reference (the collector's protected digests).
"""

import time
from pathlib import Path

from dockyard.config import Config
from dockyard.gc.sweep import _stored_digests
from dockyard.metadata.gc_queries import iter_blobs
from dockyard.metadata.importer import import_lock, pending_repositories
from dockyard.metadata.review_queries import FILE, GLOBAL, queue
from dockyard.metadata.store import MetadataStore
from dockyard.storage.layout import Layout


class TreeNotIndexed(Exception):
    """Repositories of a registry:2 tree are not indexed yet: their files look like orphans."""


def find_orphans(config: Config, store: MetadataStore, protected: frozenset[str],
                 enqueue: bool) -> list[str]:
    """Digests stored without a row (and not protected); queued for removal if ``enqueue``."""
    with import_lock(config):
        pending = pending_repositories(config, store)
        if pending:
            raise TreeNotIndexed(", ".join(pending[:5]))
        stored = _stored_digests(Layout(Path(config.root_directory)))
        rows = {digest for digest, _size in iter_blobs(store.write_engine)}
        orphans = [d for d in stored if d not in rows and d not in protected]
        if enqueue and orphans:
            with store.write_engine.begin() as conn:
                queue(conn, FILE, GLOBAL, orphans, time.time())
    return orphans
