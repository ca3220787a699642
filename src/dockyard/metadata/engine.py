"""Database engines for the metadata store.

SQLite runs in WAL mode so readers never wait for the writer, with ``synchronous=NORMAL``
(durable across a process crash, which is what a 201 promises) and foreign keys on. Write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the lock at once instead
of deadlocking when a read transaction tries to upgrade.
"""

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.url import make_url


def create_engines(url: str) -> tuple[Engine, Engine]:
    """A (read, write) pair of engines for ``url``."""
    if make_url(url).get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True)
        return engine, engine
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return _sqlite_engine(url, None), _sqlite_engine(url, "BEGIN IMMEDIATE")


def _sqlite_engine(url: str, begin_statement: str | None) -> Engine:
    """An engine whose transactions start with ``begin_statement``.

    With None (the read engine), no BEGIN is sent: each SELECT runs in its own implicit
    transaction, which saves a round trip per look-up on the hot read paths.
    """
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # We emit BEGIN ourselves, below.
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                       "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    if begin_statement is not None:
        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql(begin_statement)

    return engine
