"""A marker file that tells the serving process's metadata cache that someone else wrote.

The in-process cache (:mod:`dockyard.metadata.cached`) is exact only for the writes it sees.
Writers that bypass it (``dockyard gc run`` or ``dockyard retention run`` in another process,
the background collector and scheduled retention inside the server, which use the store
directly) call :meth:`ChangeMarker.bump` after committing their change and before deleting
any file; the cache compares the marker's stamp on every look-up (one ``stat``, about a
microsecond) and drops everything when it moved.
"""

import os
import uuid
from pathlib import Path

Stamp = tuple[int, int, int]


class ChangeMarker:
    """One file whose identity changes with every :meth:`bump`."""

    def __init__(self, path: Path):
        self.path = path

    def bump(self) -> None:
        """Replace the file, so its inode and times change; atomic for concurrent readers."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex}")
        temporary.write_text(uuid.uuid4().hex)
        os.replace(temporary, self.path)

    def stamp(self) -> Stamp:
        """What the cache compares; all zeros while nobody has bumped yet."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0, 0)
        return (status.st_ino, status.st_mtime_ns, status.st_ctime_ns)


def change_marker(root: Path) -> ChangeMarker:
    """The marker of the registry whose storage root is ``root``."""
    return ChangeMarker(Path(root) / "dockyard" / "metadata.changed")
