"""The processes on this machine as ``/proc`` lists them, for tests that must prove a process
tree is gone (a killed server's workers, a stopped dockerd's containerd)."""

from collections.abc import Iterator
from pathlib import Path


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """``(pid, fields)`` per process; ``fields`` follow the command name: state, ppid, pgrp...

    The command name may contain spaces and parentheses, so the split is after the last ')'.
    A process that exits while being read is skipped.
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        yield int(entry.name), stat.rsplit(")", 1)[-1].split()
