"""``/v2/<name>/manifests/<reference>``: push, pull with Accept, validation, delete, tags."""

import hashlib
import json
import os
import threading
import uuid
from typing import Any

import httpx
import pytest

from tests.pushing import (
    ACCEPT_ALL,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    assert_error,
    descriptor,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    put_manifest,
    unique_repo,
)

API_VERSION = "registry/2.0"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
MiB = 1024 * 1024




def get(client: httpx.Client, repo: str, reference: str, accept: str = ACCEPT_ALL,
        method: str = "GET", **headers: str) -> httpx.Response:
    return client.request(method, f"/v2/{repo}/manifests/{reference}",
                          headers={"accept": accept, **headers})


def tags_of(client: httpx.Client, repo: str) -> list[str]:
    response = client.get(f"/v2/{repo}/tags/list")
    assert response.status_code == 200, response.text
    return list(response.json()["tags"])


def push_child(client: httpx.Client, repo: str, media_type: str = OCI_MANIFEST) -> bytes:
    body = image_manifest(client, repo, layers=1, media_type=media_type)
    response = put_manifest(client, repo, digest_of(body), body, media_type)
    assert response.status_code == 201, response.text
    return body


def index_body(client: httpx.Client, repo: str, media_type: str = OCI_INDEX,
               **extra: Any) -> bytes:
    child_type = OCI_MANIFEST if media_type == OCI_INDEX else DOCKER_MANIFEST
    children = []
    for arch in ("amd64", "arm64"):
        body = push_child(client, repo, child_type)
        children.append(descriptor(child_type, body,
                                   platform={"architecture": arch, "os": "linux"}))
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": children,
                       **extra}).encode()


def artifact_body(client: httpx.Client, repo: str, subject: dict[str, Any] | None = None,
                  artifact_type: str = "application/vnd.example.sbom.v1",
                  annotations: dict[str, str] | None = None) -> bytes:
    push_blob(client, repo, b"{}")
    payload = json.dumps({"sbom": uuid.uuid4().hex}).encode()
    push_blob(client, repo, payload)
    document: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": descriptor(OCI_EMPTY, b"{}"),
        "layers": [descriptor("application/spdx+json", payload)]}
    if subject is not None:
        document["subject"] = subject
    if annotations is not None:
        document["annotations"] = annotations
    return json.dumps(document).encode()


def odd_body(client: httpx.Client, repo: str) -> bytes:
    """A valid OCI manifest with odd whitespace, key order and escapes."""
    config = json.dumps({"os": "linux", "architecture": "amd64"}).encode()
    layer = os.urandom(300)
    push_blob(client, repo, config)
    push_blob(client, repo, layer)
    return (
        '\n{   "layers"  :[\n\t' + json.dumps(descriptor(OCI_LAYER, layer), indent=3)
        + '\n ] ,"annotations":{"z":"\\u00e9\\/", "a" : "x"},\r\n'
        + '"schemaVersion":2,"config":' + json.dumps(descriptor(OCI_CONFIG, config),
                                                     separators=(",", ":"))
        + ',   "mediaType"   : "' + OCI_MANIFEST + '"}   \n\n').encode()


def build(kind: str, client: httpx.Client, repo: str) -> tuple[bytes, str]:
    """A manifest of ``kind`` whose references are already pushed: (body, media type)."""
    if kind == "oci-manifest":
        return image_manifest(client, repo), OCI_MANIFEST
    if kind == "oci-index":
        return index_body(client, repo), OCI_INDEX
    if kind == "docker-manifest":
        return image_manifest(client, repo, media_type=DOCKER_MANIFEST), DOCKER_MANIFEST
    if kind == "docker-list":
        return index_body(client, repo, DOCKER_LIST), DOCKER_LIST
    if kind == "artifact":
        return artifact_body(client, repo), OCI_MANIFEST
    if kind == "zero-layers":
        return image_manifest(client, repo, layers=0), OCI_MANIFEST
    if kind == "odd-whitespace":
        return odd_body(client, repo), OCI_MANIFEST
    raise AssertionError(kind)


KINDS = ["oci-manifest", "oci-index", "docker-manifest", "docker-list", "artifact",
         "zero-layers", "odd-whitespace"]


@pytest.mark.parametrize("by", ["tag", "digest"])
@pytest.mark.parametrize("kind", KINDS)
def test_push_and_pull(server, kind, by):
    client = server.client
    repo = unique_repo()
    body, media_type = build(kind, client, repo)
    digest = digest_of(body)
    reference = "v1" if by == "tag" else digest
    pushed = put_manifest(client, repo, reference, body, media_type)
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["location"] == f"/v2/{repo}/manifests/{digest}"
    assert pushed.headers["docker-content-digest"] == digest
    assert "oci-subject" not in pushed.headers
    assert pushed.headers["docker-distribution-api-version"] == API_VERSION

    for ref in ([reference, digest] if by == "tag" else [digest]):
        fetched = get(client, repo, ref)
        assert fetched.status_code == 200, fetched.text
        assert fetched.content == body
        assert fetched.headers["content-type"] == media_type
        assert fetched.headers["docker-content-digest"] == digest
        assert fetched.headers["etag"] == f'"{digest}"'
        assert fetched.headers["content-length"] == str(len(body))

        head = get(client, repo, ref, method="HEAD")
        assert head.status_code == 200
        assert head.content == b""
        for name in ("content-type", "docker-content-digest", "etag", "content-length"):
            assert head.headers[name] == fetched.headers[name], name
    assert tags_of(client, repo) == (["v1"] if by == "tag" else [])


def test_push_without_content_type_uses_the_body_media_type(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    response = client.put(f"/v2/{repo}/manifests/v1", content=body)
    assert response.status_code == 201, response.text
    assert get(client, repo, "v1").headers["content-type"] == OCI_MANIFEST


def test_content_type_parameters_are_ignored(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    response = client.put(f"/v2/{repo}/manifests/v1", content=body,
                          headers={"content-type": OCI_MANIFEST + "; charset=utf-8"})
    assert response.status_code == 201, response.text
    assert get(client, repo, "v1").headers["content-type"] == OCI_MANIFEST


def test_push_by_sha512_digest(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    digest = "sha512:" + hashlib.sha512(body).hexdigest()
    response = put_manifest(client, repo, digest, body)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == digest
    assert response.headers["location"] == f"/v2/{repo}/manifests/{digest}"
    fetched = get(client, repo, digest)
    assert fetched.status_code == 200
    assert fetched.content == body
    assert fetched.headers["docker-content-digest"] == digest


def test_same_manifest_under_two_tags(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    for tag in ("b", "a"):
        assert put_manifest(client, repo, tag, body).status_code == 201
    assert tags_of(client, repo) == ["a", "b"]
    assert get(client, repo, "a").content == get(client, repo, "b").content == body


# Accept negotiation


def test_oci_manifest_needs_its_type_in_accept(server):
    client = server.client
    repo = unique_repo()
    digest = push_image(client, repo, "v1")
    for ref in ("v1", digest):
        assert_error(get(client, repo, ref, accept=DOCKER_MANIFEST), 404, "MANIFEST_UNKNOWN")
        assert_error(get(client, repo, ref, accept=OCI_INDEX), 404, "MANIFEST_UNKNOWN")
        assert get(client, repo, ref, accept=DOCKER_MANIFEST, method="HEAD"
                   ).status_code == 404
        assert get(client, repo, ref, accept=OCI_MANIFEST).status_code == 200
        assert get(client, repo, ref, accept="*/*").status_code == 200
        assert get(client, repo, ref, accept=f"{DOCKER_MANIFEST}, {OCI_MANIFEST};q=0.5"
                   ).status_code == 200
        response = client.get(f"/v2/{repo}/manifests/{ref}",
                              headers=[("accept", DOCKER_MANIFEST), ("accept", OCI_MANIFEST)])
        assert response.status_code == 200


def test_oci_index_needs_its_type_in_accept(server):
    client = server.client
    repo = unique_repo()
    body = index_body(client, repo)
    assert put_manifest(client, repo, "multi", body, OCI_INDEX).status_code == 201
    assert_error(get(client, repo, "multi", accept=OCI_MANIFEST), 404, "MANIFEST_UNKNOWN")
    fetched = get(client, repo, "multi", accept=OCI_INDEX)
    assert fetched.status_code == 200
    assert fetched.content == body


def test_docker_schema2_is_served_without_accept(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo, media_type=DOCKER_MANIFEST)
    assert put_manifest(client, repo, "v1", body, DOCKER_MANIFEST).status_code == 201
    response = client.get(f"/v2/{repo}/manifests/v1")
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == DOCKER_MANIFEST


# Validation


def test_missing_blob_is_manifest_blob_unknown(server):
    client = server.client
    repo = unique_repo()
    config = json.dumps({"os": "linux"}).encode()
    push_blob(client, repo, config)
    missing_layer = os.urandom(100)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": descriptor(OCI_CONFIG, config),
                       "layers": [descriptor(OCI_LAYER, missing_layer)]}).encode()
    assert_error(put_manifest(client, repo, "v1", body), 400, "MANIFEST_BLOB_UNKNOWN")
    assert_error(get(client, repo, "v1"), 404, "MANIFEST_UNKNOWN")
    assert tags_of(client, repo) == []

    missing_config = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                 "config": descriptor(OCI_CONFIG, b"{\"missing\":1}"),
                                 "layers": []}).encode()
    assert_error(put_manifest(client, repo, "v1", missing_config), 400,
                 "MANIFEST_BLOB_UNKNOWN")
    assert_error(put_manifest(client, repo, digest_of(missing_config), missing_config), 400,
                 "MANIFEST_BLOB_UNKNOWN")
    assert_error(get(client, repo, digest_of(missing_config)), 404, "MANIFEST_UNKNOWN")


def test_blob_in_another_repository_does_not_count(server):
    client = server.client
    repo_a, repo_b = unique_repo(), unique_repo()
    body = image_manifest(client, repo_a)
    push_blob(client, repo_b, b"make B exist")
    assert_error(put_manifest(client, repo_b, "v1", body), 400, "MANIFEST_BLOB_UNKNOWN")
    # Once mounted, it does.
    for item in json.loads(body)["layers"] + [json.loads(body)["config"]]:
        mounted = client.post(f"/v2/{repo_b}/blobs/uploads/",
                              params={"mount": item["digest"], "from": repo_a})
        assert mounted.status_code == 201
    assert put_manifest(client, repo_b, "v1", body).status_code == 201


def test_deleted_blob_link_no_longer_counts(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    layer = json.loads(body)["layers"][0]["digest"]
    assert client.delete(f"/v2/{repo}/blobs/{layer}").status_code == 202
    assert_error(put_manifest(client, repo, "v1", body), 400, "MANIFEST_BLOB_UNKNOWN")
    assert_error(get(client, repo, "v1"), 404, "MANIFEST_UNKNOWN")


def test_index_with_missing_child(server):
    client = server.client
    repo = unique_repo()
    present = push_child(client, repo)
    absent = image_manifest(client, repo, layers=1)  # blobs pushed, manifest not
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        descriptor(OCI_MANIFEST, present), descriptor(OCI_MANIFEST, absent)]}).encode()
    assert_error(put_manifest(client, repo, "multi", body, OCI_INDEX), 400,
                 "MANIFEST_BLOB_UNKNOWN")
    assert_error(get(client, repo, "multi"), 404, "MANIFEST_UNKNOWN")


def test_index_child_in_another_repository_does_not_count(server):
    client = server.client
    repo_a, repo_b = unique_repo(), unique_repo()
    child = push_child(client, repo_a)
    push_blob(client, repo_b, b"make B exist")
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [descriptor(OCI_MANIFEST, child)]}).encode()
    assert_error(put_manifest(client, repo_b, "multi", body, OCI_INDEX), 400,
                 "MANIFEST_BLOB_UNKNOWN")


def padded(body: bytes, size: int) -> bytes:
    assert len(body) <= size
    return body + b" " * (size - len(body))


def test_manifest_of_exactly_4_mib_is_accepted(server):
    client = server.client
    repo = unique_repo()
    body = padded(image_manifest(client, repo), 4 * MiB)
    response = put_manifest(client, repo, "big", body)
    assert response.status_code == 201, response.text
    fetched = get(client, repo, "big")
    assert fetched.status_code == 200
    assert fetched.content == body
    assert fetched.headers["docker-content-digest"] == digest_of(body)


def test_manifest_over_4_mib_is_413(server):
    client = server.client
    repo = unique_repo()
    body = padded(image_manifest(client, repo), 4 * MiB + 1)
    assert_error(put_manifest(client, repo, "big", body), 413, "MANIFEST_INVALID")
    assert_error(get(client, repo, "big"), 404, "MANIFEST_UNKNOWN")
    huge = padded(image_manifest(client, repo), 9 * MiB)
    assert_error(put_manifest(client, repo, "big", huge), 413, "MANIFEST_INVALID")
    # The server is still fine afterwards.
    assert client.get("/v2/").status_code == 200


def test_streamed_manifest_over_4_mib_is_413(server):
    """A chunked body (no Content-Length) is cut off at the limit; the connection stays usable.

    The 413 goes out before the rest of the body is read, so the server must either drain it or
    close the connection with ``Connection: close``; the client's next request on the same
    keep-alive connection must not fail. Repeated because the failure is a race.
    """
    client = server.client
    repo = unique_repo()
    body = padded(image_manifest(client, repo), 5 * MiB)

    def chunks():
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    for attempt in range(60):
        response = client.put(f"/v2/{repo}/manifests/big", content=chunks(),
                              headers={"content-type": OCI_MANIFEST})
        assert_error(response, 413, "MANIFEST_INVALID")
        follow_up = client.get("/v2/")
        assert follow_up.status_code == 200, attempt
    assert_error(get(client, repo, "big"), 404, "MANIFEST_UNKNOWN")


INVALID_BODIES = {
    "malformed": b'{"schemaVersion": 2,',
    "invalid-utf8": b'{"schemaVersion": 2, "x": "\xff\xfe"}',
    "array": b"[]",
    "null": b"null",
    "string": b'"manifest"',
    "number": b"2",
    "empty": b"",
    "deep-array": b"[" * 100_000 + b"]" * 100_000,
    "deep-object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
}


@pytest.mark.parametrize("name", sorted(INVALID_BODIES))
def test_malformed_bodies_are_manifest_invalid(server, name):
    client = server.client
    repo = unique_repo()
    body = INVALID_BODIES[name]
    assert_error(put_manifest(client, repo, "v1", body), 400, "MANIFEST_INVALID")
    assert_error(put_manifest(client, repo, digest_of(body), body), 400, "MANIFEST_INVALID")


@pytest.mark.parametrize("mangle", [
    lambda body: b"\xef\xbb\xbf" + body,  # UTF-8 byte order mark
    lambda body: body + b" garbage",
    lambda body: body + b"{}",
    lambda body: body.replace(b"{", b"{\x00", 1),
    lambda body: body.replace(b'"schemaVersion"', b"schemaVersion", 1),
    lambda body: body.decode().encode("utf-16"),
], ids=["bom", "trailing-garbage", "second-document", "nul", "unquoted-key", "utf16"])
def test_mangled_valid_manifest_is_manifest_invalid(server, mangle):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    bad = mangle(body)
    assert_error(put_manifest(client, repo, "v1", bad), 400, "MANIFEST_INVALID")
    assert_error(put_manifest(client, repo, digest_of(bad), bad), 400, "MANIFEST_INVALID")
    assert tags_of(client, repo) == []
    # The unmangled body is fine.
    assert put_manifest(client, repo, "v1", body).status_code == 201


def document_with(client: httpx.Client, repo: str, **changes: Any) -> dict[str, Any]:
    document = json.loads(image_manifest(client, repo, layers=1))
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return dict(document)


@pytest.mark.parametrize("change", [
    {"schemaVersion": 1}, {"schemaVersion": "2"}, {"schemaVersion": None},
    {"config": None}, {"config": "sha256:abc"}, {"layers": None}, {"layers": {}},
    {"layers": [{"mediaType": OCI_LAYER, "size": 1}]},
    {"layers": [{"mediaType": OCI_LAYER, "digest": "sha256:xyz", "size": 1}]},
    {"layers": [{"mediaType": OCI_LAYER, "digest": digest_of(b"x"), "size": -1}]},
    {"layers": [{"mediaType": OCI_LAYER, "digest": digest_of(b"x"), "size": "1"}]},
    {"layers": [{"digest": digest_of(b"x"), "size": 1}]},
    {"mediaType": 5}, {"mediaType": "application/json"},
    {"annotations": {"a": 1}}, {"annotations": []}, {"artifactType": 5},
    {"subject": "sha256:abc"}, {"subject": {"mediaType": OCI_MANIFEST, "size": 1}},
])
def test_invalid_documents_are_manifest_invalid(server, change):
    client = server.client
    repo = unique_repo()
    body = json.dumps(document_with(client, repo, **change)).encode()
    assert_error(put_manifest(client, repo, "v1", body), 400, "MANIFEST_INVALID")
    assert tags_of(client, repo) == []


def test_media_type_must_agree_with_content_type(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)  # mediaType: OCI manifest
    for content_type in (DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST):
        assert_error(put_manifest(client, repo, "v1", body, content_type), 400,
                     "MANIFEST_INVALID")
    docker = image_manifest(client, repo, media_type=DOCKER_MANIFEST)
    assert_error(put_manifest(client, repo, "v1", docker, OCI_MANIFEST), 400,
                 "MANIFEST_INVALID")
    assert tags_of(client, repo) == []


def test_manifest_claiming_to_be_an_index_is_refused(server):
    """CVE-2021-41190: a body must not be readable as both a manifest and an index."""
    client = server.client
    repo = unique_repo()
    child = push_child(client, repo)
    document = json.loads(image_manifest(client, repo))
    document["mediaType"] = OCI_INDEX
    body = json.dumps(document).encode()
    assert_error(put_manifest(client, repo, "v1", body, OCI_INDEX), 400, "MANIFEST_INVALID")

    document["manifests"] = [descriptor(OCI_MANIFEST, child)]
    body = json.dumps(document).encode()
    assert_error(put_manifest(client, repo, "v1", body, OCI_INDEX), 400, "MANIFEST_INVALID")
    document["mediaType"] = OCI_MANIFEST
    body = json.dumps(document).encode()
    assert_error(put_manifest(client, repo, "v1", body, OCI_MANIFEST), 400, "MANIFEST_INVALID")

    index = json.loads(index_body(client, repo))
    index["layers"] = document["layers"]
    body = json.dumps(index).encode()
    assert_error(put_manifest(client, repo, "v1", body, OCI_INDEX), 400, "MANIFEST_INVALID")
    index.pop("layers")
    index["config"] = document["config"]
    body = json.dumps(index).encode()
    assert_error(put_manifest(client, repo, "v1", body, OCI_INDEX), 400, "MANIFEST_INVALID")

    # Without any mediaType, a body with both shapes is ambiguous.
    ambiguous = dict(document)
    ambiguous.pop("mediaType")
    body = json.dumps(ambiguous).encode()
    assert_error(client.put(f"/v2/{repo}/manifests/v1", content=body), 400, "MANIFEST_INVALID")
    assert tags_of(client, repo) == []


@pytest.mark.parametrize("media_type", [SCHEMA1, SCHEMA1_SIGNED])
def test_schema1_is_refused(server, media_type):
    client = server.client
    repo = unique_repo()
    body = json.dumps({"schemaVersion": 1, "name": repo, "tag": "v1",
                       "architecture": "amd64",
                       "fsLayers": [{"blobSum": digest_of(b"x")}],
                       "history": [{"v1Compatibility": "{}"}]}).encode()
    assert_error(put_manifest(client, repo, "v1", body, media_type), 400, "MANIFEST_INVALID")


def test_unknown_media_type_is_refused(server):
    client = server.client
    repo = unique_repo()
    document = json.loads(image_manifest(client, repo))
    document["mediaType"] = "application/vnd.example.other+json"
    body = json.dumps(document).encode()
    assert_error(put_manifest(client, repo, "v1", body, document["mediaType"]), 400,
                 "MANIFEST_INVALID")


def test_put_by_digest_must_match_the_body(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    other = digest_of(body + b" ")
    assert_error(put_manifest(client, repo, other, body), 400, "DIGEST_INVALID")
    assert_error(get(client, repo, other), 404, "MANIFEST_UNKNOWN")
    assert_error(get(client, repo, digest_of(body)), 404, "MANIFEST_UNKNOWN")
    sha512 = "sha512:" + hashlib.sha512(body + b" ").hexdigest()
    assert_error(put_manifest(client, repo, sha512, body), 400, "DIGEST_INVALID")


# Subject


def subject_of(client: httpx.Client, repo: str) -> dict[str, Any]:
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, "base", body).status_code == 201
    return descriptor(OCI_MANIFEST, body)


def test_subject_is_answered_with_oci_subject(server):
    client = server.client
    repo = unique_repo()
    subject = subject_of(client, repo)
    body = artifact_body(client, repo, subject=subject)
    response = put_manifest(client, repo, digest_of(body), body)
    assert response.status_code == 201, response.text
    assert response.headers["oci-subject"] == subject["digest"]
    assert response.headers["docker-content-digest"] == digest_of(body)
    assert get(client, repo, digest_of(body)).content == body


def test_subject_need_not_exist(server):
    client = server.client
    repo = unique_repo()
    missing = descriptor(OCI_MANIFEST, b'{"not": "pushed"}')
    body = artifact_body(client, repo, subject=missing)
    response = put_manifest(client, repo, "sig", body)
    assert response.status_code == 201, response.text
    assert response.headers["oci-subject"] == missing["digest"]


def test_image_manifest_with_subject(server):
    client = server.client
    repo = unique_repo()
    subject = subject_of(client, repo)
    body = image_manifest(client, repo, subject=subject)
    response = put_manifest(client, repo, digest_of(body), body)
    assert response.status_code == 201, response.text
    assert response.headers["oci-subject"] == subject["digest"]


def test_index_with_subject(server):
    client = server.client
    repo = unique_repo()
    subject = subject_of(client, repo)
    body = index_body(client, repo, subject=subject,
                      artifactType="application/vnd.example.bundle")
    response = put_manifest(client, repo, digest_of(body), body, OCI_INDEX)
    assert response.status_code == 201, response.text
    assert response.headers["oci-subject"] == subject["digest"]


# Unknown references


def test_unknown_tag_and_digest(server):
    client = server.client
    repo = unique_repo()
    push_image(client, repo, "v1")
    assert_error(get(client, repo, "nope"), 404, "MANIFEST_UNKNOWN")
    assert_error(get(client, repo, digest_of(b"nope")), 404, "MANIFEST_UNKNOWN")
    head = get(client, repo, "nope", method="HEAD")
    assert head.status_code == 404
    assert head.content == b""


def test_unknown_repository(server):
    client = server.client
    repo = unique_repo()
    assert_error(get(client, repo, "latest"), 404, "NAME_UNKNOWN")
    assert_error(get(client, repo, digest_of(b"x")), 404, "NAME_UNKNOWN")
    assert get(client, repo, "latest", method="HEAD").status_code == 404


# Deletes and tags


def test_delete_by_digest_removes_its_tags(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    digest = digest_of(body)
    for tag in ("a", "b"):
        assert put_manifest(client, repo, tag, body).status_code == 201
    other = push_image(client, repo, "keep")
    assert tags_of(client, repo) == ["a", "b", "keep"]

    response = client.delete(f"/v2/{repo}/manifests/{digest}")
    assert response.status_code == 202, response.text
    assert response.headers["docker-distribution-api-version"] == API_VERSION
    assert tags_of(client, repo) == ["keep"]
    for ref in ("a", "b", digest):
        assert_error(get(client, repo, ref), 404, "MANIFEST_UNKNOWN")
        assert get(client, repo, ref, method="HEAD").status_code == 404
    assert get(client, repo, "keep").status_code == 200
    assert get(client, repo, other).status_code == 200
    assert_error(client.delete(f"/v2/{repo}/manifests/{digest}"), 404, "MANIFEST_UNKNOWN")


def test_delete_by_tag_removes_only_that_tag(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    digest = digest_of(body)
    for tag in ("a", "b"):
        assert put_manifest(client, repo, tag, body).status_code == 201
    response = client.delete(f"/v2/{repo}/manifests/a")
    assert response.status_code == 202, response.text
    assert tags_of(client, repo) == ["b"]
    assert_error(get(client, repo, "a"), 404, "MANIFEST_UNKNOWN")
    assert get(client, repo, "b").content == body
    assert get(client, repo, digest).content == body
    assert_error(client.delete(f"/v2/{repo}/manifests/a"), 404, "MANIFEST_UNKNOWN")


def test_delete_unknown(server):
    client = server.client
    repo = unique_repo()
    push_image(client, repo, "v1")
    assert_error(client.delete(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")
    assert_error(client.delete(f"/v2/{repo}/manifests/{digest_of(b'nope')}"), 404,
                 "MANIFEST_UNKNOWN")
    assert tags_of(client, repo) == ["v1"]


def test_repush_after_delete(server):
    client = server.client
    repo = unique_repo()
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, "v1", body).status_code == 201
    assert client.delete(f"/v2/{repo}/manifests/{digest_of(body)}").status_code == 202
    assert put_manifest(client, repo, "v1", body).status_code == 201
    assert get(client, repo, "v1").content == body
    assert tags_of(client, repo) == ["v1"]


def test_tag_move(server):
    client = server.client
    repo = unique_repo()
    first = push_image(client, repo, "latest")
    second_body = image_manifest(client, repo, media_type=DOCKER_MANIFEST)
    second = digest_of(second_body)
    assert put_manifest(client, repo, "latest", second_body, DOCKER_MANIFEST
                        ).status_code == 201
    fetched = get(client, repo, "latest")
    assert fetched.headers["docker-content-digest"] == second
    assert fetched.headers["content-type"] == DOCKER_MANIFEST
    assert fetched.content == second_body
    head = get(client, repo, "latest", method="HEAD")
    assert head.headers["docker-content-digest"] == second
    assert tags_of(client, repo) == ["latest"]
    # The old manifest stays reachable by digest.
    assert get(client, repo, first).status_code == 200


def test_if_none_match(server):
    client = server.client
    repo = unique_repo()
    digest = push_image(client, repo, "v1")
    for ref in ("v1", digest):
        for value in (f'"{digest}"', digest):
            for method in ("GET", "HEAD"):
                response = get(client, repo, ref, method=method, **{"if-none-match": value})
                assert response.status_code == 304, (ref, value, method)
                assert response.content == b""
                assert response.headers["etag"] == f'"{digest}"'
                assert response.headers["docker-content-digest"] == digest
        other = get(client, repo, ref, **{"if-none-match": f'"{digest_of(b"x")}"'})
        assert other.status_code == 200
        assert other.headers["etag"] == f'"{digest}"'


def test_concurrent_pushes_of_one_tag(server):
    """Last writer wins; the tag always resolves to one complete manifest."""
    client = server.client
    repo = unique_repo()
    bodies = [image_manifest(client, repo, layers=1) for _ in range(8)]
    results: list[int | str] = []

    def push(body: bytes) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as own:
                results.append(put_manifest(own, repo, "shared", body).status_code)
        except Exception as exc:  # noqa: BLE001 - reported through results
            results.append(repr(exc))

    threads = [threading.Thread(target=push, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [201] * 8
    fetched = get(client, repo, "shared")
    assert fetched.content in bodies
    assert fetched.headers["docker-content-digest"] == digest_of(fetched.content)
    head = get(client, repo, "shared", method="HEAD")
    assert head.headers["docker-content-digest"] == digest_of(fetched.content)
    assert tags_of(client, repo) == ["shared"]
    for body in bodies:
        assert get(client, repo, digest_of(body)).content == body


def test_descriptor_size_must_match_the_stored_blob(server):
    client = server.client
    repo = unique_repo()
    document = json.loads(image_manifest(client, repo))
    document["layers"][0]["size"] += 1
    response = put_manifest(client, repo, "v1", json.dumps(document).encode())
    assert_error(response, 400, "MANIFEST_INVALID")
    assert document["layers"][0]["digest"] in response.json()["errors"][0]["message"]
    assert client.get(f"/v2/{repo}/manifests/v1", headers={"accept": ACCEPT_ALL}
                      ).status_code == 404


def test_schema_version_must_be_the_integer_2(server):
    client = server.client
    repo = unique_repo()
    document = json.loads(image_manifest(client, repo))
    body = json.dumps(document).replace('"schemaVersion": 2', '"schemaVersion": 2.0').encode()
    assert b"2.0" in body
    assert_error(put_manifest(client, repo, "v1", body), 400, "MANIFEST_INVALID")
