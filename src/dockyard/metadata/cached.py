"""An in-process cache in front of the metadata store's hot look-ups.

Pulls ask the same questions over and over (which manifest does ``repo:tag`` name, may
``repo`` reach this blob); one SQLite query per request cost about a quarter of the request
rate in the stack measurements. Only positive answers are cached, per repository, and every
write this process makes to a repository drops that repository's entries. A generation count
closes the race in which a read that started before a write would store the old answer after
the write's invalidation.

The cache is exact only when this process makes every write, so ``dockyard serve`` enables it
with a single worker and passes the store through unchanged otherwise. Writers that bypass it
(another process, or background work using the store directly) bump a
:class:`~dockyard.metadata.generation.ChangeMarker`, and the cache drops everything when the
marker moved.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from dockyard.metadata.generation import ChangeMarker
from dockyard.metadata.records import ManifestRecord, NewManifest, Referrer
from dockyard.metadata.store import MetadataStore
from dockyard.observability.metrics import cache_hit, cache_miss

T = TypeVar("T")
MAX_REPOSITORIES = 4096
MAX_ENTRIES_PER_REPOSITORY = 4096


class CachedMetadataStore:
    """:class:`MetadataStore` with cached reads; the same methods, the same answers."""

    def __init__(self, store: MetadataStore, marker: ChangeMarker | None = None):
        self._store = store
        self._marker = marker
        self._stamp = marker.stamp() if marker is not None else None
        self._epoch = 0
        self._entries: OrderedDict[str, dict[tuple[str, str], Any]] = OrderedDict()
        self._generation: dict[str, int] = {}
        self._writing: dict[str, int] = {}
        self._lock = threading.Lock()

    # Cached reads

    def linked_blob_size(self, repository: str, digest: str) -> int | None:
        return self._cached(repository, ("blob", digest),
                            lambda: self._store.linked_blob_size(repository, digest))

    def get_manifest(self, repository: str, reference: str, by_digest: bool
                     ) -> ManifestRecord | None:
        kind = "digest" if by_digest else "tag"
        return self._cached(repository, (kind, reference),
                            lambda: self._store.get_manifest(repository, reference, by_digest))

    # Writes, each dropping what it may have changed

    def link_blob(self, repository: str, digest: str, size: int,
                  quota: int | None = None) -> None:
        self._write(repository, lambda: self._store.link_blob(repository, digest, size, quota))

    def unlink_blob(self, repository: str, digest: str) -> bool:
        return self._write(repository, lambda: self._store.unlink_blob(repository, digest))

    def put_manifest(self, new: NewManifest) -> None:
        self._write(new.repository, lambda: self._store.put_manifest(new))

    def delete_manifest(self, repository: str, digest: str, only_if_untagged: bool = False
                        ) -> bool:
        return self._write(repository, lambda: self._store.delete_manifest(
            repository, digest, only_if_untagged))

    def delete_tag(self, repository: str, tag: str,
                   if_unchanged: tuple[str, float] | None = None) -> bool:
        return self._write(repository, lambda: self._store.delete_tag(
            repository, tag, if_unchanged))

    # Uncached reads pass through (the catalog changes with every new repository)

    def repository_exists(self, name: str) -> bool:
        return self._store.repository_exists(name)

    def list_tags(self, repository: str, last: str | None, limit: int) -> list[str] | None:
        found = self._cached(repository, ("tags", f"{limit}:{last or ''}"),
                             lambda: self._store.list_tags(repository, last, limit))
        return None if found is None else list(found)  # A copy: callers may slice or change it.

    def list_repositories(self, last: str | None, limit: int) -> list[str]:
        return self._store.list_repositories(last, limit)

    def check_quota(self, repository: str, digest: str, size: int, quota: int) -> None:
        self._store.check_quota(repository, digest, size, quota)

    def manifest_tags(self, repository: str, digest: str) -> list[str]:
        return self._store.manifest_tags(repository, digest)

    def referrers(self, repository: str, subject: str) -> list[Referrer]:
        return self._store.referrers(repository, subject)

    def close(self) -> None:
        self._store.close()

    def _cached(self, repository: str, key: tuple[str, str], load: Callable[[], T]) -> T:
        if self._marker is not None:
            self._notice_outside_writes(self._marker)
        with self._lock:
            epoch = self._epoch
            entries = self._entries.get(repository)
            if entries is not None and key in entries:
                self._entries.move_to_end(repository)
                cache_hit()
                return entries[key]  # type: ignore[no-any-return]
            generation = self._generation.get(repository, 0)
        cache_miss()
        value = load()
        if value is None:
            return value
        with self._lock:
            if self._generation.get(repository, 0) == generation and self._epoch == epoch \
                    and not self._writing.get(repository):
                self._store_entry(repository, key, value)
        return value

    def _notice_outside_writes(self, marker: ChangeMarker) -> None:
        stamp = marker.stamp()
        if stamp != self._stamp:
            with self._lock:
                self._stamp = stamp
                self._epoch += 1
                self._entries.clear()

    def _store_entry(self, repository: str, key: tuple[str, str], value: Any) -> None:
        entries = self._entries.setdefault(repository, {})
        self._entries.move_to_end(repository)
        if len(entries) >= MAX_ENTRIES_PER_REPOSITORY:
            entries.clear()
        entries[key] = value
        while len(self._entries) > MAX_REPOSITORIES:
            self._entries.popitem(last=False)

    def _write(self, repository: str, change: Callable[[], T]) -> T:
        with self._lock:
            self._writing[repository] = self._writing.get(repository, 0) + 1
            self._generation[repository] = self._generation.get(repository, 0) + 1
            self._entries.pop(repository, None)
        try:
            return change()
        finally:
            with self._lock:
                self._generation[repository] += 1
                self._writing[repository] -= 1
                if not self._writing[repository]:
                    del self._writing[repository]
                self._entries.pop(repository, None)
