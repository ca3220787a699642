"""Manifest push, pull and delete.

A manifest's bytes are stored exactly as pushed, in the blob store under their digest, before
the metadata transaction that makes them visible; the same transaction checks every blob and
child manifest it references, so no tag can point at content the repository lacks.
"""

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from dockyard.core import mediatypes
from dockyard.core.digest import Digest, InvalidDigest
from dockyard.core.errors import RegistryError
from dockyard.core.immutability import ImmutableTagRule, protecting_rule
from dockyard.core.manifest import (
    MAX_MANIFEST_BYTES,
    ManifestDigestMismatch,
    ManifestInvalid,
    ParsedManifest,
    check_digest,
    parse_manifest,
)
from dockyard.core.reference import is_valid_tag
from dockyard.metadata.base import Metadata
from dockyard.metadata.records import (
    ManifestRecord,
    MissingReferences,
    NewManifest,
    QuotaExceeded,
    SizeMismatch,
    TagImmutable,
)
from dockyard.quota.limits import quota_denied
from dockyard.services.settings import RegistrySettings
from dockyard.services.threads import in_thread
from dockyard.storage.base import BlobStore

BODY_CACHE_BYTES = 32 * 1024 * 1024
log = logging.getLogger("dockyard.manifests")


@dataclass(frozen=True, slots=True)
class Reference:
    """A manifest reference from a URL: a tag or a digest."""

    text: str
    digest: Digest | None

    @classmethod
    def parse(cls, text: str) -> "Reference":
        if ":" in text:
            try:
                return cls(text, Digest.parse(text))
            except InvalidDigest as exc:
                raise RegistryError("DIGEST_INVALID", str(exc)) from None
        if not is_valid_tag(text):
            raise RegistryError("TAG_INVALID", f"invalid tag {text[:200]!r}: tags match "
                                "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
        return cls(text, None)


@dataclass(frozen=True, slots=True)
class PushedManifest:
    """The answer to a manifest PUT."""

    digest: str
    media_type: str
    subject: str | None


class ManifestService:
    """The push/pull/delete rules for manifests and tags."""

    def __init__(self, metadata: Metadata, store: BlobStore, settings: RegistrySettings):
        self._metadata = metadata
        self._store = store
        self._settings = settings
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._cached_bytes = 0
        # Set by the app: notes (repository, tag or digest) for retention's pull times; an
        # in-memory set add, flushed to the database in the background.
        self.on_pull: Callable[[str, str], None] | None = None

    async def put(self, repository: str, reference_text: str, body: bytes,
                  content_type: str | None) -> PushedManifest:
        """Validate and store a manifest, tagging it when pushed by tag."""
        reference = Reference.parse(reference_text)
        if len(body) > MAX_MANIFEST_BYTES:
            raise RegistryError("MANIFEST_INVALID", f"manifest is larger than "
                                f"{MAX_MANIFEST_BYTES} bytes", status=413)
        parsed = _parse(body, content_type, reference)
        digest = Digest.parse(parsed.digest)
        quota = self._quota(repository, parsed)
        rule = None if reference.digest is not None else self._protecting(repository,
                                                                           reference.text)
        new = replace(_new_manifest(repository, parsed, reference), tag_immutable=rule is not None,
                      quota=quota)
        try:
            async with self._store.hold(digest):  # Online GC: bytes and row appear together.
                stored = await self._store.stat(digest) is not None
                await self._store.put(digest, body)
                try:
                    await in_thread(self._metadata.put_manifest, new)
                except Exception:  # Rolled back: bytes this put created are nobody's.
                    if not stored:
                        await self._store.delete(digest)
                    raise
        except QuotaExceeded as exceeded:
            raise quota_denied(exceeded) from None
        except TagImmutable as immutable:
            raise RegistryError("DENIED", f"tag {immutable.tag} of {repository} is immutable "
                                f"(rule: {rule}); it already names {immutable.current}",
                                detail={"tag": immutable.tag, "rule": str(rule)}) from None
        except MissingReferences as missing:
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", _missing_message(missing), detail={
                "blobs": missing.blobs, "manifests": missing.manifests}) from None
        except SizeMismatch as mismatch:
            raise RegistryError("MANIFEST_INVALID", f"descriptor size {mismatch.declared} of "
                                f"{mismatch.digest} does not match the stored blob's "
                                f"{mismatch.stored} bytes", detail={"digest": mismatch.digest}
                                ) from None
        self._remember(parsed.digest, body)
        return PushedManifest(parsed.digest, parsed.media_type,
                              parsed.subject.digest if parsed.subject else None)

    def find(self, repository: str, reference_text: str, accept: list[str]) -> ManifestRecord:
        """The manifest a reference names, if the client accepts its type."""
        reference = Reference.parse(reference_text)
        record = self._metadata.get_manifest(repository, reference.text,
                                             by_digest=reference.digest is not None)
        if record is None:
            if not self._metadata.repository_exists(repository):
                raise RegistryError("NAME_UNKNOWN", detail={"name": repository})
            raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference.text})
        if not mediatypes.accepts(accept, record.media_type):
            raise RegistryError("MANIFEST_UNKNOWN", f"manifest is {record.media_type}, which "
                                "the request's Accept header does not include")
        if self.on_pull is not None:
            self.on_pull(repository, reference.text)
        return record

    async def body(self, record: ManifestRecord) -> bytes:
        """The stored bytes of a manifest found by :meth:`find`."""
        cached = self._bodies.get(record.digest)
        if cached is not None:
            self._bodies.move_to_end(record.digest)
            return cached
        digest = Digest.parse(record.digest)
        body = await self._store.read_all(digest, MAX_MANIFEST_BYTES)
        if body is None:
            raise RegistryError("MANIFEST_UNKNOWN", "manifest bytes are missing from storage")
        if Digest.of_bytes(body, digest.algorithm) != digest:  # Never serve corrupt bytes.
            log.error("stored manifest does not hash to its digest", extra={"digest": str(digest)})
            raise RegistryError("MANIFEST_UNKNOWN", "stored manifest is corrupt; push it again")
        self._remember(record.digest, body)
        return body

    async def delete(self, repository: str, reference_text: str) -> None:
        """Delete by digest (the manifest and its tags) or by tag (that tag only)."""
        if not self._settings.delete_enabled:
            raise RegistryError("UNSUPPORTED", "deletes are disabled (storage.delete.enabled)")
        reference = Reference.parse(reference_text)
        tags = ([reference.text] if reference.digest is None
                else self._metadata.manifest_tags(repository, reference.text))
        for tag in tags:
            rule = self._protecting(repository, tag)
            if rule is not None:
                raise RegistryError("DENIED", f"tag {tag} of {repository} is immutable "
                                    f"(rule: {rule}) and cannot be deleted",
                                    detail={"tag": tag, "rule": str(rule)})
        if reference.digest is not None:
            deleted = await in_thread(self._metadata.delete_manifest, repository, reference.text)
        else:
            deleted = await in_thread(self._metadata.delete_tag, repository, reference.text)
        if not deleted:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"reference": reference.text})

    def _quota(self, repository: str, parsed: ParsedManifest) -> int | None:
        """The namespace's limit, checked early so a refused manifest's bytes are never
        written; None (no quota work) when no quota is configured."""
        quotas = self._settings.quotas
        quota = None if quotas is None else quotas.limit_for(repository)
        if quota is not None:
            try:
                self._metadata.check_quota(repository, parsed.digest, parsed.size, quota)
            except QuotaExceeded as exceeded:
                raise quota_denied(exceeded) from None
        return quota

    def _protecting(self, repository: str, tag: str) -> ImmutableTagRule | None:
        return protecting_rule(self._settings.immutable_tags, repository, tag)

    def _remember(self, digest: str, body: bytes) -> None:
        if digest in self._bodies or len(body) > BODY_CACHE_BYTES // 16:
            return
        self._bodies[digest] = body
        self._cached_bytes += len(body)
        while self._cached_bytes > BODY_CACHE_BYTES:
            _, dropped = self._bodies.popitem(last=False)
            self._cached_bytes -= len(dropped)


def _parse(body: bytes, content_type: str | None, reference: Reference) -> ParsedManifest:
    try:
        parsed = parse_manifest(body, content_type)
        if reference.digest is not None:
            check_digest(parsed, body, reference.digest)
    except ManifestInvalid as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None
    except ManifestDigestMismatch as exc:
        raise RegistryError("DIGEST_INVALID", str(exc)) from None
    return parsed


def _new_manifest(repository: str, parsed: ParsedManifest, reference: Reference) -> NewManifest:
    return NewManifest(
        repository=repository, digest=parsed.digest, media_type=parsed.media_type,
        size=parsed.size, artifact_type=parsed.artifact_type,
        subject_digest=parsed.subject.digest if parsed.subject else None,
        annotations=parsed.annotations,
        blob_digests=tuple(d.digest for d in parsed.blobs),
        child_digests=tuple(d.digest for d in parsed.children),
        declared_sizes=tuple((d.digest, d.size) for d in parsed.blobs),
        tag=None if reference.digest is not None else reference.text)


def _missing_message(missing: MissingReferences) -> str:
    parts = []
    if missing.blobs:
        parts.append(f"blobs not in this repository: {', '.join(missing.blobs[:5])}")
    if missing.manifests:
        parts.append(f"manifests not in this repository: {', '.join(missing.manifests[:5])}")
    return "; ".join(parts)
