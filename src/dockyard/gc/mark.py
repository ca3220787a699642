"""The mark phase: which manifests stay, and every digest they keep alive."""

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from dockyard.core.digest import Digest, InvalidDigest, is_valid_digest
from dockyard.core.graph import reachable
from dockyard.core.manifest import MAX_MANIFEST_BYTES
from dockyard.metadata.gc_queries import Graph, ManifestRow
from dockyard.storage.layout import Layout

Emit = Callable[[str], None]


def unreachable(graph: Graph, protected: set[str]) -> list[ManifestRow]:
    """Manifests no tag reaches, in repository and digest order.

    A manifest is kept when it is tagged, when it is a child (transitively) of a kept index
    in the same repository, or when its subject is a kept manifest of the same repository
    (signatures and SBOMs of kept images stay). ``protected`` digests (manifests of a
    registry:2 tree that could not be indexed, and what they reference) are kept too.
    """
    by_key = {(m.repository_id, m.digest): m for m in graph.manifests}
    referrers: dict[tuple[int, str], list[ManifestRow]] = {}
    for manifest in graph.manifests:
        if manifest.subject_digest:
            referrers.setdefault((manifest.repository_id, manifest.subject_digest),
                                 []).append(manifest)

    def successors(manifest: ManifestRow) -> list[ManifestRow]:
        children = (by_key.get((manifest.repository_id, d))
                    for d in graph.children_of.get(manifest.id, ()))
        return [*(c for c in children if c is not None),
                *referrers.get((manifest.repository_id, manifest.digest), ())]

    kept = reachable((m for m in graph.manifests if m.id in graph.tagged or m.digest in protected),
                     successors, key=lambda m: m.id)
    return [m for m in graph.manifests if m.id not in kept]


def mark(graph: Graph, dropped: set[int], emit: Emit) -> set[str]:
    """Every digest the manifests outside ``dropped`` keep: their own, blobs and children."""
    marked: set[str] = set()
    for manifest in graph.manifests:
        if manifest.id in dropped:
            continue
        emit(f"{manifest.repository}: marking manifest {manifest.digest}")
        marked.add(manifest.digest)
        references = graph.blobs_of.get(manifest.id, []) + graph.children_of.get(manifest.id, [])
        _mark_all(manifest.repository, references, marked, emit)
    return marked


def mark_unindexed(layout: Layout, unindexed: dict[str, list[str]], marked: set[str],
                   emit: Emit) -> set[str]:
    """Keep registry:2 manifests the importer could not index, and what they reference.

    They are still in the tree (a schema1 image, say), so registry:2 would serve them; the
    sweep must not take their layers. Returns every digest they keep.
    """
    kept: set[str] = set()
    for repository, digests in sorted(unindexed.items()):
        for digest in digests:
            references = _tree_references(layout, digest)
            if references is None:
                continue
            emit(f"{repository}: marking unindexed manifest {digest}")
            kept.add(digest)
            marked.add(digest)
            kept |= set(references)
            _mark_all(repository, references, marked, emit)
    return kept


def _mark_all(repository: str, digests: Iterable[str], marked: set[str], emit: Emit) -> None:
    for digest in digests:
        if digest not in marked:
            marked.add(digest)
            emit(f"{repository}: marking blob {digest}")


def _tree_references(layout: Layout, digest_text: str) -> list[str] | None:
    """Digests a stored manifest names (any schema, leniently); None when its bytes are gone."""
    try:
        path: Path = layout.blob_data(Digest.parse(digest_text))
        with open(path, "rb") as handle:
            body = handle.read(MAX_MANIFEST_BYTES + 1)
    except (InvalidDigest, FileNotFoundError):
        return None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return []
    if not isinstance(document, dict):
        return []
    found: list[object] = []
    config = document.get("config")
    if isinstance(config, dict):
        found.append(config.get("digest"))
    for key, field in (("layers", "digest"), ("manifests", "digest"), ("fsLayers", "blobSum")):
        items = document.get(key)
        if isinstance(items, list):
            found += [item.get(field) for item in items if isinstance(item, dict)]
    return [d for d in found if isinstance(d, str) and is_valid_digest(d)]
