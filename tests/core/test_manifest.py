import json
from typing import Any

import pytest

from dockyard.core import mediatypes as mt
from dockyard.core.digest import Digest
from dockyard.core.manifest import (
    ManifestDigestMismatch,
    ManifestInvalid,
    check_digest,
    parse_manifest,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def desc(media_type: str = "application/octet-stream", digest: str = D1, size: int = 3,
         **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def image(**extra: Any) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
            "config": desc("application/vnd.oci.image.config.v1+json"),
            "layers": [desc(digest=D2)], **extra}


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_image_manifest_references_config_and_layers() -> None:
    parsed = parse_manifest(body(image()), mt.OCI_MANIFEST)
    assert parsed.media_type == mt.OCI_MANIFEST
    assert [d.digest for d in parsed.blobs] == [D1, D2]
    assert parsed.artifact_type == "application/vnd.oci.image.config.v1+json"
    assert parsed.digest == str(Digest.of_bytes(body(image())))


def test_index_references_children_and_subject() -> None:
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [desc(mt.OCI_MANIFEST)],
             "subject": desc(mt.OCI_MANIFEST, D2), "artifactType": "x/y"}
    parsed = parse_manifest(body(index), None)
    assert [d.digest for d in parsed.children] == [D1]
    assert parsed.subject is not None and parsed.subject.digest == D2
    assert parsed.artifact_type == "x/y"


def test_artifact_type_wins_over_config() -> None:
    parsed = parse_manifest(body(image(artifactType="application/vnd.example")), None)
    assert parsed.artifact_type == "application/vnd.example"


def test_media_type_from_content_type_when_body_has_none() -> None:
    document = image()
    del document["mediaType"]
    assert parse_manifest(body(document), mt.DOCKER_MANIFEST).media_type == mt.DOCKER_MANIFEST
    assert parse_manifest(body(document), None).media_type == mt.OCI_MANIFEST


@pytest.mark.parametrize("raw, content_type", [
    (b"{", mt.OCI_MANIFEST),
    (b"\xff\xfe", mt.OCI_MANIFEST),
    (b"[]", mt.OCI_MANIFEST),
    (b"[" * 100000 + b"]" * 100000, mt.OCI_MANIFEST),
    (body(image()), mt.OCI_INDEX),                        # header disagrees with body
    (body(image(mediaType=mt.OCI_INDEX)), None),          # index type, manifest shape
    (body(image(manifests=[])), None),                    # both shapes
    (body({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [], "layers": []}), None),
    (body(image(schemaVersion=1)), None),
    (body(image(mediaType=mt.DOCKER_SCHEMA1_SIGNED)), None),
    (body(image(mediaType="text/plain")), None),
    (body(image(config=desc(digest="sha256:xyz"))), None),
    (body(image(config=desc(size=-1))), None),
    (body(image(config=desc(size=True))), None),
    (body(image(layers="nope")), None),
    (body(image(annotations={"a": 1})), None),
    (body({"schemaVersion": 2}), None),
])
def test_invalid(raw: bytes, content_type: str | None) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(raw, content_type)


def test_check_digest() -> None:
    raw = body(image())
    parsed = parse_manifest(raw, None)
    check_digest(parsed, raw, Digest.of_bytes(raw))
    sha512 = Digest.of_bytes(raw, "sha512")
    check_digest(parsed, raw, sha512)
    assert parsed.digest == str(sha512)
    with pytest.raises(ManifestDigestMismatch):
        check_digest(parsed, raw, Digest.of_bytes(b"other"))


def test_accepts() -> None:
    assert mt.accepts([], mt.DOCKER_MANIFEST)
    assert not mt.accepts([], mt.OCI_MANIFEST)
    assert not mt.accepts([mt.DOCKER_MANIFEST], mt.OCI_MANIFEST)
    assert mt.accepts([f"{mt.DOCKER_MANIFEST}, {mt.OCI_MANIFEST};q=0.5"], mt.OCI_MANIFEST)
    assert mt.accepts(["*/*"], mt.OCI_INDEX)
