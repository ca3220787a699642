"""The lock that tells garbage-collect a registry is serving writes on the same storage.

``<root>/dockyard/serving.lock`` is locked with ``flock``: every ``dockyard serve`` that
accepts writes (and every import pass) holds a *shared* lock for as long as it runs;
``garbage-collect`` needs the *exclusive* lock, so it cannot start while any of them runs,
and a server started during a collection waits for it to finish. ``flock`` locks belong to
the open file, so the kernel releases them when the process exits, however it exits: there
is never a stale lock to clean up. A read-only server takes no lock, which is Distribution's
documented way to collect while still serving pulls.
"""

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from dockyard.config import Config

LOCK_FILE = "serving.lock"
log = logging.getLogger("dockyard.gc")


def serving_lock_path(config: Config) -> Path:
    """``<root>/dockyard/serving.lock``."""
    return config.root_directory / "dockyard" / LOCK_FILE


def hold_serving_lock(config: Config) -> IO[bytes] | None:
    """Held by ``dockyard serve`` for as long as it accepts writes; None in read-only mode.

    The caller keeps the returned file open (closing it releases the lock). If a collection
    is running, this waits for it: serving writes during the sweep could lose new blobs.
    """
    if config.storage.maintenance.readonly.enabled:
        return None
    return acquire_shared(serving_lock_path(config))


def acquire_shared(path: Path) -> IO[bytes]:
    """A shared lock on ``path``, waiting (with a log line) while garbage-collect runs."""
    handle = _open(path)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        log.warning("garbage-collect is running on %s; waiting for it to finish",
                    path.parent.parent)
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
    except BaseException:
        handle.close()
        raise
    return handle


def try_exclusive(path: Path) -> IO[bytes] | None:
    """The exclusive lock on ``path`` if nobody holds it, else None (never waits)."""
    return exclusive(path, wait=False)


def exclusive(path: Path, wait: bool) -> IO[bytes] | None:
    """The exclusive lock on ``path`` (close the file to release it); None when busy and not
    ``wait``. Shared by garbage-collect, retention and the online collector's ``gc.lock``."""
    handle = _open(path)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    except BaseException:
        handle.close()
        raise
    return handle


def _open(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    return os.fdopen(fd, "r+b")
