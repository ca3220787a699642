"""What a copy reports while it runs: per-blob progress, then a summary.

On a terminal each blob gets a Rich progress bar with bytes and rate; otherwise (CI logs,
pipes, ``--json``) one plain line per finished blob, so logs stay readable and greppable.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO


class ProgressSink(Protocol):
    """Receives the events of a copy; implementations must be cheap per chunk."""

    def blob_started(self, digest: str, size: int) -> None: ...
    def blob_advanced(self, digest: str, nbytes: int) -> None: ...
    def blob_done(self, digest: str, outcome: str) -> None: ...  # copied|skipped|mounted
    def note(self, message: str) -> None: ...


@dataclass
class Stats:
    """Counts for the summary (one copy, or added up over a sync)."""

    blobs_copied: int = 0
    blobs_skipped: int = 0
    blobs_mounted: int = 0
    bytes_copied: int = 0
    manifests: int = 0

    def add(self, other: Stats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def line(self) -> str:
        return (f"blobs: {self.blobs_copied} copied, {self.blobs_skipped} skipped, "
                f"{self.blobs_mounted} mounted; {human_bytes(self.bytes_copied)} copied")


class Silent:
    """For ``--json`` and the library: nothing on screen."""

    def blob_started(self, digest: str, size: int) -> None:
        return None

    def blob_advanced(self, digest: str, nbytes: int) -> None:
        return None

    def blob_done(self, digest: str, outcome: str) -> None:
        return None

    def note(self, message: str) -> None:
        return None


@dataclass
class PlainLines:
    """One line per finished blob, for logs (stdout is not a tty)."""

    out: TextIO = field(default_factory=lambda: sys.stderr)
    _sizes: dict[str, int] = field(default_factory=dict)

    def blob_started(self, digest: str, size: int) -> None:
        self._sizes[digest] = size

    def blob_advanced(self, digest: str, nbytes: int) -> None:
        return None

    def blob_done(self, digest: str, outcome: str) -> None:
        size = human_bytes(self._sizes.get(digest, 0))
        print(f"blob {digest[:19]} {outcome} ({size})", file=self.out, flush=True)

    def note(self, message: str) -> None:
        print(message, file=self.out, flush=True)


class RichBars:
    """A live progress bar per blob with bytes and transfer rate."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  DownloadColumn(), TransferSpeedColumn(), transient=False)
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> RichBars:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def blob_started(self, digest: str, size: int) -> None:
        self._tasks[digest] = self._progress.add_task(digest[7:19], total=size or None)

    def blob_advanced(self, digest: str, nbytes: int) -> None:
        self._progress.advance(self._tasks[digest], nbytes)

    def blob_done(self, digest: str, outcome: str) -> None:
        task = self._tasks.get(digest)
        if task is not None:
            self._progress.update(task, description=f"{digest[7:19]} {outcome}",
                                  completed=self._progress.tasks[task].total or 0)

    def note(self, message: str) -> None:
        self._progress.console.print(message)


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
