"""Making a rename survive a crash: the registry's blob store and the client's local
endpoints (layout, archive) both rename a verified temp file into place, then sync the
directory, since the new directory entry must reach the disk too, not only the file's bytes."""

import os
from pathlib import Path


def fsync_directory(path: Path) -> None:
    """Flush ``path``'s directory entries (call after renaming a file into it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
