"""One collection on a configured registry: the collector lock, the protected set, the run.

Manifests of a registry:2 tree that the importer could not index (a schema1 image, say) are
still served by registry:2 from their link files, so neither they nor what they reference
may be collected: they are passed to the collector as protected digests, as the offline
``garbage-collect`` marks them (:func:`dockyard.gc.mark.mark_unindexed`).
"""

import threading
from pathlib import Path

from sqlalchemy import Engine

from dockyard.config import Config
from dockyard.gc.online.collector import Collector, Emit, Totals
from dockyard.gc.online.locks import collector_lock


def protected_digests(config: Config) -> frozenset[str]:
    """Unindexed registry:2 manifests and every digest they reference."""
    from dockyard.gc.mark import mark_unindexed
    from dockyard.metadata.importer import unindexed_manifests
    from dockyard.storage.layout import Layout

    unindexed = unindexed_manifests(config)
    if not unindexed:
        return frozenset()
    return frozenset(mark_unindexed(Layout(Path(config.root_directory)), unindexed, set(),
                                    lambda _line: None))


def collect_once(config: Config, engine: Engine, dry_run: bool = False, wait: bool = False,
                 stop: threading.Event | None = None, emit: Emit | None = None
                 ) -> Totals | None:
    """Run one collection under the collector lock; None when another one holds it."""
    lock = collector_lock(config.root_directory, wait=wait)
    if lock is None:
        return None
    try:
        collector = Collector(engine, config.root_directory, config.dockyard.gc,
                              protected_digests(config), stop)
        return collector.run(dry_run=dry_run, emit=emit)
    finally:
        lock.close()
