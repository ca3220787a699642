"""Indexing an existing registry:2 filesystem tree into the metadata database.

A registry:2 volume keeps its metadata as link files (``_layers/<alg>/<hex>/link``,
``_manifests/revisions/<alg>/<hex>/link``, ``_manifests/tags/<tag>/current/link``) next to
the blobs Dockyard shares with it. An import pass reads those links into the database
without copying a byte of blob data:

* a repository is a directory under ``repositories/`` holding ``_layers`` or ``_manifests``
  (names are nested paths; directories starting with ``_`` are never names, as in
  Distribution's catalog walk). Every such repository gets a row, so ``_catalog`` lists what
  registry:2 listed;
* each ``_layers`` link becomes a blob link, sized from the blob data (a link whose data is
  gone is skipped);
* each revision link becomes a manifest recorded exactly as a push records it
  (:meth:`MetadataStore.put_manifest`, so the same reference checks apply): image manifests
  first, then indexes until no more can be placed. A manifest that still lacks references,
  does not parse (Docker schema1) or whose bytes are gone is skipped and reported; the
  digests of skipped manifests whose bytes exist are kept in the state file, so
  garbage-collect keeps them and what they reference;
* each tag's ``current/link`` becomes a tag on its manifest, if that manifest was indexed.

The pass only adds: it never deletes a tag or manifest the tree lacks, because Dockyard
itself never writes link files, so anything pushed through Dockyard would look "deleted".

**Cost and the state file.** ``dockyard serve`` runs a pass at every start, so a pass over a
tree already imported must be cheap. ``<root>/dockyard/import-state.jsonl`` records, per
repository, a fingerprint of the directories whose modification time changes whenever
registry:2 adds or removes a link (``_layers/<alg>``, ``_manifests/revisions/<alg>``,
``_manifests/tags``) plus the modification time of every tag's ``current/link`` (moving a tag
rewrites that file in place and changes no directory). A repository is read again only when
its fingerprint changed, or when the database lacks it (a new or reset database). An
unchanged tree therefore costs one directory walk plus a few ``stat`` calls per repository
and per tag. The state is appended one line per repository as each one is done, so an
interrupted pass resumes where it stopped (every step is idempotent, so the repository that
was cut off is simply read again). ``import_distribution_tree(config, full=True)`` (or
deleting the state file) forces a complete pass; it re-adds whatever the link files name,
including tags deleted through Dockyard since. A tree without link files (Dockyard's own)
has no repositories to find, so the pass is a walk of ``repositories/`` and nothing else.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, insert, select

from dockyard.config import Config
from dockyard.core.digest import HEX_LENGTHS, Digest, InvalidDigest
from dockyard.core.manifest import (
    MAX_MANIFEST_BYTES,
    ManifestInvalid,
    ParsedManifest,
    parse_manifest,
)
from dockyard.core.mediatypes import INDEXES
from dockyard.core.reference import is_valid_name, is_valid_tag
from dockyard.gc.lock import acquire_shared, serving_lock_path
from dockyard.metadata.records import MissingReferences, NewManifest, SizeMismatch
from dockyard.metadata.schema import blobs, manifests, repositories, repository_blobs, tags
from dockyard.metadata.store import MetadataStore
from dockyard.storage.layout import (
    LAYERS_DIR,
    LINK_FILE,
    MANIFESTS_DIR,
    Layout,
    layer_links_dir,
    revision_links_dir,
    tag_current_link,
    tags_dir,
)

STATE_FILE = "import-state.jsonl"
STATE_VERSION = 1
IMPORT_LOCK_FILE = "import.lock"
BATCH = 500
log = logging.getLogger("dockyard.import")


@dataclass
class ImportSummary:
    """What one import pass found and added."""

    repositories: int = 0
    manifests: int = 0
    tags: int = 0
    blob_links: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def import_distribution_tree(config: Config, full: bool = False) -> ImportSummary:
    """Index the tree's link files (idempotent, resumable); a no-op when there is no tree.

    Holds the shared serving lock (garbage-collect cannot start meanwhile) and an exclusive
    import lock (two passes never interleave).
    """
    names = find_repositories(Layout(config.root_directory))
    if not names:
        return ImportSummary()
    with acquire_shared(serving_lock_path(config)), import_lock(config):
        store = MetadataStore(config.metadata_url, migrate=True)
        try:
            return import_tree_locked(config, store, full, names)
        finally:
            store.close()


def import_tree_locked(config: Config, store: MetadataStore, full: bool = False,
                       names: list[str] | None = None) -> ImportSummary:
    """The pass itself, for a caller that already excludes other writers (garbage-collect)."""
    layout = Layout(config.root_directory)
    summary = ImportSummary()
    if names is None:
        names = find_repositories(layout)
    if not names:
        return summary
    with ImportState.open(state_path(config)) as state:
        indexed = _repository_names(store)
        for name in names:
            stamp = fingerprint(layout, name)
            if not full and state.is_current(name, stamp, indexed):
                continue
            try:
                result = _import_repository(store, layout, name)
            except OSError as error:
                summary.failed.append(name)
                log.error("import: cannot read repository %s: %s", name, error)
                continue
            state.record(name, stamp, result.valid, result.unindexed)
            _add(summary, result)
    return summary


def pending_repositories(config: Config, store: MetadataStore) -> list[str]:
    """Repositories of the tree an import pass would read (changed since the last pass)."""
    layout = Layout(config.root_directory)
    names = find_repositories(layout)
    if not names:
        return []
    state = ImportState.load(state_path(config))
    indexed = _repository_names(store)
    return [n for n in names if not state.is_current(n, fingerprint(layout, n), indexed)]


def unindexed_manifests(config: Config) -> dict[str, list[str]]:
    """Per repository, manifests of the tree that could not be indexed (bytes present)."""
    state = ImportState.load(state_path(config))
    return {name: entry["unindexed"] for name, entry in state.entries.items()
            if entry.get("unindexed")}


def state_path(config: Config) -> Path:
    """``<root>/dockyard/import-state.jsonl``."""
    return config.root_directory / "dockyard" / STATE_FILE


# ------------------------------------------------------------------- the tree


def find_repositories(layout: Layout) -> list[str]:
    """Names of the directories holding ``_layers`` or ``_manifests``, sorted."""
    found: list[str] = []
    if not layout.repositories.is_dir():
        return found
    for directory, subdirs, _files in os.walk(layout.repositories):
        if LAYERS_DIR in subdirs or MANIFESTS_DIR in subdirs:
            found.append(Path(directory).relative_to(layout.repositories).as_posix())
        subdirs[:] = [d for d in subdirs if not d.startswith("_")]
    return sorted(found)


def fingerprint(layout: Layout, name: str) -> str:
    """A digest of the modification times that change whenever registry:2 edits a link.

    Plain strings rather than ``Path`` objects: this runs for every tag at every start.
    """
    base = os.path.join(layout.repositories, name)
    parts: list[str] = []
    for directory in (f"{base}/{LAYERS_DIR}", f"{base}/{MANIFESTS_DIR}/revisions"):
        parts.append(_stamp(directory))
        parts += [f"{alg}={_stamp(f'{directory}/{alg}')}" for alg in HEX_LENGTHS]
    tag_root = f"{base}/{MANIFESTS_DIR}/tags"
    parts.append(_stamp(tag_root))
    parts += [f"{tag}={_stamp(f'{tag_root}/{tag}/current/{LINK_FILE}')}"
              for tag in _listdir(tag_root)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _stamp(path: str) -> str:
    try:
        info = os.stat(path)
    except OSError:
        return "-"
    return f"{info.st_mtime_ns}:{info.st_size}"


def _listdir(path: Path | str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _links(directory: Path) -> Iterator[tuple[str, str]]:
    """``(<alg>:<hex> from the path, link file text)`` for ``<directory>/<alg>/<hex>/link``."""
    for algorithm in _listdir(directory):
        for hexpart in _listdir(directory / algorithm):
            try:
                text = (directory / algorithm / hexpart / LINK_FILE).read_text().strip()
            except (FileNotFoundError, NotADirectoryError):
                continue
            yield f"{algorithm}:{hexpart}", text


def _read_link(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


# ------------------------------------------------------------ one repository


@dataclass
class _RepositoryResult:
    valid: bool = True
    created: bool = False
    blob_links: int = 0
    manifests: int = 0
    tags: int = 0
    skipped: list[str] = field(default_factory=list)
    unindexed: list[str] = field(default_factory=list)


def _import_repository(store: MetadataStore, layout: Layout, name: str) -> _RepositoryResult:
    result = _RepositoryResult()
    if not is_valid_name(name):
        result.valid = False
        result.skipped.append(f"{name}: not a valid repository name")
        log.warning("import: skipping %r: not a valid repository name", name)
        return result
    links = _blob_links(layout, name, result)
    with store.write_engine.begin() as conn:
        result.created, result.blob_links = _link_blobs(conn, name, links)
    parsed = _revisions(layout, name, result)
    available = _put_manifests(store, name, parsed, result)
    _put_tags(store, layout, name, parsed, available, result)
    for problem in result.skipped:
        log.warning("import: skipped %s", problem)
    return result


def _link_digests(directory: Path, what: str, result: _RepositoryResult) -> Iterator[Digest]:
    """The digests named by the link files under ``directory``; bad ones are reported."""
    for _path_digest, text in _links(directory):
        try:
            yield Digest.parse(text)
        except InvalidDigest:
            result.skipped.append(f"{what} with invalid digest {text[:80]!r}")


def _blob_links(layout: Layout, name: str, result: _RepositoryResult) -> dict[str, int]:
    """Digest -> size of every ``_layers`` link whose blob data exists."""
    sizes: dict[str, int] = {}
    for digest in _link_digests(layer_links_dir(layout, name), f"{name}: blob link", result):
        try:
            sizes[str(digest)] = os.stat(layout.blob_data(digest)).st_size
        except FileNotFoundError:
            continue  # The blob is gone (garbage-collected); its link is dead.
    return sizes


def _link_blobs(conn: Connection, name: str, sizes: dict[str, int]) -> tuple[bool, int]:
    """Ensure the repository row and its blob links in one transaction."""
    now = time.time()
    repository_id = conn.execute(
        select(repositories.c.id).where(repositories.c.name == name)).scalar()
    created = repository_id is None
    if repository_id is None:
        key = conn.execute(insert(repositories).values(name=name, created_at=now)
                           ).inserted_primary_key
        assert key is not None
        repository_id = key[0]
    added = 0
    digests = sorted(sizes)
    for start in range(0, len(digests), BATCH):
        chunk = digests[start:start + BATCH]
        stored = set(conn.execute(select(blobs.c.digest).where(blobs.c.digest.in_(chunk)))
                     .scalars())
        new_blobs = [{"digest": d, "size": sizes[d], "created_at": now}
                     for d in chunk if d not in stored]
        if new_blobs:
            conn.execute(insert(blobs), new_blobs)
        linked = set(conn.execute(select(repository_blobs.c.digest).where(
            repository_blobs.c.repository_id == repository_id,
            repository_blobs.c.digest.in_(chunk))).scalars())
        new_links = [{"repository_id": repository_id, "digest": d, "created_at": now}
                     for d in chunk if d not in linked]
        if new_links:
            conn.execute(insert(repository_blobs), new_links)
            added += len(new_links)
    return created, added


def _revisions(layout: Layout, name: str, result: _RepositoryResult) -> dict[str, NewManifest]:
    """Every revision whose bytes exist and parse, as the NewManifest a push would record."""
    parsed: dict[str, NewManifest] = {}
    for digest in _link_digests(revision_links_dir(layout, name), f"{name}: revision link",
                                result):
        try:
            with open(layout.blob_data(digest), "rb") as handle:
                body = handle.read(MAX_MANIFEST_BYTES + 1)
        except FileNotFoundError:
            result.skipped.append(f"{name}@{digest}: manifest bytes are missing")
            continue
        reason = _unusable(body, digest)
        if reason is None:
            try:
                manifest = parse_manifest(body, None)
            except ManifestInvalid as error:
                reason = str(error)
            else:
                parsed[str(digest)] = _new_manifest(name, str(digest), manifest)
                continue
        result.skipped.append(f"{name}@{digest}: {reason}")
        result.unindexed.append(str(digest))
    return parsed


def _unusable(body: bytes, digest: Digest) -> str | None:
    if len(body) > MAX_MANIFEST_BYTES:
        return f"manifest is larger than {MAX_MANIFEST_BYTES} bytes"
    if str(Digest.of_bytes(body, digest.algorithm)) != str(digest):
        return "manifest bytes do not hash to their digest"
    return None


def _new_manifest(name: str, digest: str, parsed: ParsedManifest) -> NewManifest:
    return NewManifest(
        repository=name, digest=digest, media_type=parsed.media_type, size=parsed.size,
        artifact_type=parsed.artifact_type,
        subject_digest=parsed.subject.digest if parsed.subject else None,
        annotations=parsed.annotations,
        blob_digests=tuple(d.digest for d in parsed.blobs),
        child_digests=tuple(d.digest for d in parsed.children),
        declared_sizes=tuple((d.digest, d.size) for d in parsed.blobs),
        tag=None)


def _put_manifests(store: MetadataStore, name: str, parsed: dict[str, NewManifest],
                   result: _RepositoryResult) -> set[str]:
    """Record new manifests, children before the indexes naming them; returns those held."""
    available = _manifest_digests(store, name)
    pending = sorted((d for d in parsed if d not in available),
                     key=lambda d: (parsed[d].media_type in INDEXES, d))
    failures: dict[str, str] = {}
    progress = True
    while pending and progress:
        progress = False
        retry = []
        for digest in pending:
            try:
                store.put_manifest(parsed[digest])
            except MissingReferences as missing:
                failures[digest] = f"missing references {missing.blobs + missing.manifests}"
                retry.append(digest)
                continue
            except SizeMismatch as mismatch:
                failures[digest] = str(mismatch)
                continue
            failures.pop(digest, None)
            available.add(digest)
            result.manifests += 1
            progress = True
        pending = retry
    for digest, reason in sorted(failures.items()):
        result.skipped.append(f"{name}@{digest}: {reason}")
        result.unindexed.append(digest)
    return available


def _put_tags(store: MetadataStore, layout: Layout, name: str,
              parsed: dict[str, NewManifest], available: set[str],
              result: _RepositoryResult) -> None:
    current = _tag_targets(store, name)
    for tag in _listdir(tags_dir(layout, name)):
        text = _read_link(tag_current_link(layout, name, tag))
        if text is None:
            continue  # A tag directory without current/link: registry:2 does not list it.
        if not is_valid_tag(tag):
            result.skipped.append(f"{name}:{tag}: not a valid tag")
            continue
        if current.get(tag) == text:
            continue
        if text not in parsed or text not in available:
            result.skipped.append(f"{name}:{tag}: its manifest {text[:80]} was not indexed")
            continue
        new = parsed[text]
        store.put_manifest(NewManifest(
            repository=new.repository, digest=new.digest, media_type=new.media_type,
            size=new.size, artifact_type=new.artifact_type, subject_digest=new.subject_digest,
            annotations=new.annotations, blob_digests=new.blob_digests,
            child_digests=new.child_digests, declared_sizes=new.declared_sizes, tag=tag))
        result.tags += 1


def _repository_names(store: MetadataStore) -> set[str]:
    with store.write_engine.connect() as conn:
        return set(conn.execute(select(repositories.c.name)).scalars())


def _manifest_digests(store: MetadataStore, name: str) -> set[str]:
    query = (select(manifests.c.digest).select_from(repositories.join(manifests))
             .where(repositories.c.name == name))
    with store.write_engine.connect() as conn:
        return set(conn.execute(query).scalars())


def _tag_targets(store: MetadataStore, name: str) -> dict[str, str]:
    query = (select(tags.c.name, manifests.c.digest)
             .select_from(repositories.join(tags).join(
                 manifests, manifests.c.id == tags.c.manifest_id))
             .where(repositories.c.name == name))
    with store.write_engine.connect() as conn:
        return {row.name: row.digest for row in conn.execute(query)}


def _add(summary: ImportSummary, result: _RepositoryResult) -> None:
    if result.created or result.blob_links or result.manifests or result.tags:
        summary.repositories += 1
    summary.blob_links += result.blob_links
    summary.manifests += result.manifests
    summary.tags += result.tags
    summary.skipped += result.skipped


# --------------------------------------------------------------------- state


class ImportState:
    """The per-repository fingerprints of the last pass, as appended JSON lines."""

    def __init__(self, path: Path, entries: dict[str, dict[str, Any]], lines: int,
                 complete: bool = True):
        self.path = path
        self.entries = entries
        self._lines = lines
        self._complete = complete  # False: the last line was cut short (no newline).
        self._handle: IO[str] | None = None

    @classmethod
    def load(cls, path: Path) -> "ImportState":
        entries: dict[str, dict[str, Any]] = {}
        lines = 0
        try:
            text = path.read_text()
        except FileNotFoundError:
            return cls(path, entries, 0)
        for line in text.splitlines():
            lines += 1
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # A line cut short by a crash: that repository is read again.
            if isinstance(entry, dict) and isinstance(entry.get("repository"), str):
                entries[entry["repository"]] = entry
        return cls(path, entries, lines, complete=not text or text.endswith("\n"))

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path) -> Iterator["ImportState"]:
        """Load, compact if mostly superseded lines, and append records until closed."""
        state = cls.load(path)
        if state._lines > 2 * len(state.entries) + 64:
            state._rewrite()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            if not state._complete:
                handle.write("\n")  # Never glue a new record onto a cut-off one.
            state._handle = handle
            try:
                yield state
            finally:
                state._handle = None

    def is_current(self, name: str, stamp: str, indexed: set[str]) -> bool:
        entry = self.entries.get(name)
        if entry is None or entry.get("version") != STATE_VERSION:
            return False
        if entry.get("fingerprint") != stamp:
            return False
        return not entry.get("valid", True) or name in indexed

    def record(self, name: str, stamp: str, valid: bool, unindexed: list[str]) -> None:
        entry = {"version": STATE_VERSION, "repository": name, "fingerprint": stamp,
                 "valid": valid, "unindexed": sorted(unindexed)}
        self.entries[name] = entry
        assert self._handle is not None
        self._handle.write(json.dumps(entry, sort_keys=True) + "\n")
        self._handle.flush()
        self._lines += 1

    def _rewrite(self) -> None:
        temporary = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        with open(temporary, "w", encoding="utf-8") as handle:
            for entry in self.entries.values():
                handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        self._lines = len(self.entries)
        self._complete = True


@contextlib.contextmanager
def import_lock(config: Config) -> Iterator[None]:
    """Serialise import passes (their link inserts are check-then-insert)."""
    path = config.root_directory / "dockyard" / IMPORT_LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
