"""Parsing and validating manifest bodies, without touching storage.

The result says what the manifest is (its media type, the blobs and child manifests it needs,
its subject and artifact type); the push service then checks those references exist.
Validation follows the OCI image spec and the CVE-2021-41190 fix: the declared media type must
agree with the shape of the document, so no body can be read as both a manifest and an index.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.core import mediatypes as mt
from dockyard.core.digest import Digest, InvalidDigest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class ManifestInvalid(ValueError):
    """The body is not a manifest Dockyard accepts; the message says why."""


class ManifestDigestMismatch(ValueError):
    """A manifest pushed by digest does not hash to that digest."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    """The parts of an OCI descriptor the registry relies on."""

    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


@dataclass(slots=True)
class ParsedManifest:
    """What a manifest body declares, for validation and for the metadata store."""

    media_type: str
    digest: str
    size: int
    blobs: list[Descriptor] = field(default_factory=list)
    children: list[Descriptor] = field(default_factory=list)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    """Parse ``body`` pushed with ``content_type`` or raise :class:`ManifestInvalid`."""
    document = _load_json(body)
    media_type = _media_type(document, content_type)
    parsed = ParsedManifest(media_type, str(Digest.of_bytes(body)), len(body))
    parsed.subject = _optional_descriptor(document, "subject")
    parsed.annotations = _annotations(document.get("annotations"), "annotations")
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestInvalid("artifactType must be a string")
    if media_type in mt.IMAGE_MANIFESTS:
        _check_image_manifest(document, parsed)
        parsed.artifact_type = artifact_type or parsed.blobs[0].media_type
    else:
        _check_index(document, parsed)
        parsed.artifact_type = artifact_type
    return parsed


def check_digest(parsed: ParsedManifest, body: bytes, reference_digest: Digest) -> None:
    """For a PUT by digest: the body must hash to the digest in the URL."""
    if str(Digest.of_bytes(body, reference_digest.algorithm)) != str(reference_digest):
        raise ManifestDigestMismatch(
            f"manifest body hashes to {parsed.digest}, not to {reference_digest}")
    parsed.digest = str(reference_digest)


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestInvalid(f"manifest is not valid UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc.msg} at {exc.pos}") from None
    except RecursionError:
        raise ManifestInvalid("manifest JSON is nested too deeply") from None
    if not isinstance(document, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    return document


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("mediaType must be a string")
    header = (content_type or "").split(";", 1)[0].strip() or None
    if declared and header and declared != header:
        raise ManifestInvalid(
            f"Content-Type {header!r} disagrees with the manifest's mediaType {declared!r}")
    media_type = declared or header or _guess_oci_type(document)
    if media_type in mt.SCHEMA1:
        raise ManifestInvalid("Docker schema1 manifests are not supported; push schema2 or OCI")
    if media_type not in mt.MANIFEST_TYPES:
        raise ManifestInvalid(f"unsupported manifest media type {media_type!r}")
    version = document.get("schemaVersion")
    if type(version) is not int or version != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    return media_type


def _guess_oci_type(document: dict[str, Any]) -> str:
    """OCI makes ``mediaType`` optional; the shape then decides, ambiguity is refused."""
    has_index_part = "manifests" in document
    has_image_part = "config" in document or "layers" in document
    if has_index_part == has_image_part:
        raise ManifestInvalid("manifest has no mediaType and no Content-Type")
    return mt.OCI_INDEX if has_index_part else mt.OCI_MANIFEST


def _check_image_manifest(document: dict[str, Any], parsed: ParsedManifest) -> None:
    if "manifests" in document:
        raise ManifestInvalid(f"an image manifest ({parsed.media_type}) cannot have 'manifests'")
    config = _descriptor(document.get("config"), "config")
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise ManifestInvalid("layers must be a list")
    parsed.blobs = [config] + [_descriptor(item, f"layers[{i}]") for i, item in enumerate(layers)]


def _check_index(document: dict[str, Any], parsed: ParsedManifest) -> None:
    if "config" in document or "layers" in document:
        raise ManifestInvalid(f"an index ({parsed.media_type}) cannot have 'config' or 'layers'")
    manifests = document.get("manifests")
    if not isinstance(manifests, list):
        raise ManifestInvalid("manifests must be a list")
    parsed.children = [_descriptor(item, f"manifests[{i}]") for i, item in enumerate(manifests)]


def _optional_descriptor(document: dict[str, Any], key: str) -> Descriptor | None:
    value = document.get(key)
    return None if value is None else _descriptor(value, key)


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} must be a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{where}.mediaType must be a non-empty string")
    if not isinstance(digest, str):
        raise ManifestInvalid(f"{where}.digest must be a string")
    try:
        Digest.parse(digest)
    except InvalidDigest as exc:
        raise ManifestInvalid(f"{where}.digest: {exc}") from None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ManifestInvalid(f"{where}.size must be a non-negative integer")
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestInvalid(f"{where}.artifactType must be a string")
    annotations = _annotations(value.get("annotations"), f"{where}.annotations")
    return Descriptor(media_type, digest, size, artifact_type, annotations)


def _annotations(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ManifestInvalid(f"{where} must map strings to strings")
    return value
