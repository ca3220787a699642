"""``dockyard scrub``: re-hash every stored blob and manifest; quarantine what is corrupt.

A blob whose bytes no longer hash to its digest (a flipped bit, a truncated file) is moved out
of the content-addressed tree into ``<root>/dockyard/quarantine/``, so the registry answers 404
for it and clients push it again; a re-push lands in the right place as usual. The metadata
rows stay: the links and manifests that name the digest become whole again once it returns.
"""

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from dockyard.config import Config
from dockyard.core.digest import Digest, InvalidDigest
from dockyard.metadata.schema import blobs
from dockyard.metadata.store import MetadataStore
from dockyard.storage.layout import Layout

READ_CHUNK = 1024 * 1024


@dataclass
class ScrubReport:
    """What one scrub found."""

    checked: int = 0
    bytes_checked: int = 0
    corrupt: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.corrupt and not self.missing


def scrub(config: Config, quarantine: bool = True,
          say: Callable[[str], None] = print) -> ScrubReport:
    """Check every blob the metadata knows; move corrupt ones to the quarantine."""
    layout = Layout(config.root_directory)
    report = ScrubReport()
    for digest in _known_digests(config):
        path = layout.blob_data(digest)
        try:
            before = os.stat(path)
        except FileNotFoundError:
            report.missing.append(str(digest))
            say(f"missing: {digest}")
            continue
        actual = _hash_file(path, digest.algorithm)
        report.checked += 1
        report.bytes_checked += before.st_size
        if actual == digest.hex:
            continue
        report.corrupt.append(str(digest))
        say(f"corrupt: {digest} hashes to {digest.algorithm}:{actual}")
        if quarantine and _unchanged(path, before):
            target = _quarantine(layout, digest, path)
            say(f"quarantined: {digest} -> {target}")
    say(f"{report.checked} blobs checked ({report.bytes_checked} bytes), "
        f"{len(report.corrupt)} corrupt, {len(report.missing)} missing")
    return report


def _known_digests(config: Config) -> Iterator[Digest]:
    store = MetadataStore(config.metadata_url, migrate=True)
    try:
        with store.write_engine.connect() as conn:
            texts = list(conn.execute(select(blobs.c.digest).order_by(blobs.c.digest)).scalars())
    finally:
        store.close()
    for text in texts:
        try:
            yield Digest.parse(text)
        except InvalidDigest:
            continue


def _hash_file(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _unchanged(path: Path, before: os.stat_result) -> bool:
    """The file is still the one hashed (a re-push may have replaced it meanwhile)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    return (now.st_ino, now.st_size, now.st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns)


def _quarantine(layout: Layout, digest: Digest, path: Path) -> Path:
    target = layout.root / "dockyard" / "quarantine" / digest.algorithm / digest.hex
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target
