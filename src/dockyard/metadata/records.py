"""Plain records the metadata store hands to services."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """One manifest as a repository holds it (the bytes are in the blob store)."""

    digest: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Referrer:
    """A manifest whose ``subject`` is some other manifest."""

    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    annotations: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class NewManifest:
    """Everything a manifest put records, in one transaction."""

    repository: str
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    subject_digest: str | None
    annotations: dict[str, str] | None
    blob_digests: tuple[str, ...]
    child_digests: tuple[str, ...]
    tag: str | None
    declared_sizes: tuple[tuple[str, int], ...] = ()
    tag_immutable: bool = False
    quota: int | None = None  # The namespace's limit in bytes, checked in the transaction.


class TagImmutable(Exception):
    """The tag is protected and already names another manifest."""

    def __init__(self, tag: str, current: str):
        self.tag, self.current = tag, current
        super().__init__(f"tag {tag} already names {current}")


class SizeMismatch(Exception):
    """A manifest declares a size for a blob that differs from the stored blob's."""

    def __init__(self, digest: str, declared: int, stored: int):
        self.digest, self.declared, self.stored = digest, declared, stored
        super().__init__(f"{digest} is {stored} bytes, the manifest says {declared}")


class MissingReferences(Exception):
    """A manifest names blobs or manifests the repository does not hold."""

    def __init__(self, blobs: list[str], manifests: list[str]):
        self.blobs = blobs
        self.manifests = manifests
        super().__init__(f"missing blobs {blobs}, missing manifests {manifests}")


class QuotaExceeded(Exception):
    """Recording a blob or manifest new to its namespace would pass the namespace's quota."""

    def __init__(self, namespace: str, used: int, adding: int, limit: int):
        self.namespace, self.used, self.adding, self.limit = namespace, used, adding, limit
        super().__init__(f"namespace {namespace}: {used} + {adding} > {limit} bytes")
