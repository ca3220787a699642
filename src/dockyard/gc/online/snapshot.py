"""A private copy of the metadata database for dry runs, so previews never block writers.

A dry run must follow the real run's cascades (a manifest's deletion queues its links, whose
deletion queues their blobs), so it runs the real batches and throws the changes away. Done
in a transaction on the live database, that would hold the write lock for the whole preview
and pushes would wait. On SQLite the preview instead runs on a copy made with the backup API:
it needs only a read snapshot (WAL readers never block the writer), and the copy's state is
one consistent moment, which is what a real run started then would see. Other databases run
the preview in a transaction that is rolled back (see :mod:`dockyard.gc.online.collector`).
"""

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from dockyard.metadata.engine import create_engines


@contextlib.contextmanager
def sqlite_copy(engine: Engine) -> Iterator[Engine]:
    """A write engine on a temporary copy of ``engine``'s SQLite database."""
    with tempfile.TemporaryDirectory(prefix="dockyard-gc-preview-") as directory:
        path = Path(directory) / "metadata.sqlite3"
        with engine.connect() as conn:
            source = conn.connection.driver_connection
            assert isinstance(source, sqlite3.Connection)
            target = sqlite3.connect(path)
            try:
                source.backup(target)
            finally:
                target.close()
        read, write = create_engines(f"sqlite:///{path.as_posix()}")
        try:
            yield write
        finally:
            read.dispose()
            write.dispose()
