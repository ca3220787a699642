"""What both ends of a docker-archive know from ``docker-archive:PATH[:REFERENCE]``."""

from __future__ import annotations

from pathlib import Path


class ArchiveName:
    """The tar's path, the image reference inside it, its tag, and how errors name it."""

    def __init__(self, path: str, reference: str | None) -> None:
        self.path = Path(path)
        self.reference = reference
        self.tag = reference.rpartition(":")[2] if reference and ":" in reference else None
        self.description = f"docker-archive:{path}" + (f":{reference}" if reference else "")
