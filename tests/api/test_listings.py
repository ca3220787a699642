"""``/v2/<name>/tags/list``, ``/v2/_catalog`` and ``/v2/<name>/referrers/<digest>``."""

import hashlib
import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.pushing import (
    OCI_CONFIG,
    OCI_INDEX,
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
SBOM = "application/vnd.example.sbom.v1"
SIGNATURE = "application/vnd.example.signature.v1"
LINK_RE = re.compile(r'<([^>]+)>; rel="next"')




def push_tags(client: httpx.Client, repo: str, tags: list[str]) -> str:
    body = image_manifest(client, repo, layers=1)
    for tag in tags:
        response = put_manifest(client, repo, tag, body)
        assert response.status_code == 201, response.text
    return digest_of(body)


def next_link(response: httpx.Response) -> str | None:
    header = response.headers.get("link")
    if header is None:
        return None
    match = LINK_RE.fullmatch(header)
    assert match is not None, header
    return match.group(1)


# Tags list


TAGS = ["v1", "latest", "A", "b", "a", "1.0", "_x", "v1.0-rc.1", "Z9"]


def test_tags_are_sorted(server):
    client = server.client
    repo = unique_repo()
    push_tags(client, repo, TAGS)
    response = client.get(f"/v2/{repo}/tags/list")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"name": repo, "tags": sorted(TAGS)}
    assert "link" not in response.headers


def test_tags_pagination(server):
    client = server.client
    repo = unique_repo()
    tags = [f"t{i:02d}" for i in range(7)]
    push_tags(client, repo, tags)

    first = client.get(f"/v2/{repo}/tags/list", params={"n": 3})
    assert first.status_code == 200
    assert first.json() == {"name": repo, "tags": ["t00", "t01", "t02"]}
    assert first.headers["link"] == f'</v2/{repo}/tags/list?n=3&last=t02>; rel="next"'

    second = client.get(next_link(first))
    assert second.json()["tags"] == ["t03", "t04", "t05"]
    assert second.headers["link"] == f'</v2/{repo}/tags/list?n=3&last=t05>; rel="next"'

    third = client.get(next_link(second))
    assert third.json()["tags"] == ["t06"]
    assert "link" not in third.headers


def test_tags_pagination_exact_end_has_no_link(server):
    client = server.client
    repo = unique_repo()
    push_tags(client, repo, ["a", "b", "c", "d"])
    response = client.get(f"/v2/{repo}/tags/list", params={"n": 4})
    assert response.json()["tags"] == ["a", "b", "c", "d"]
    assert "link" not in response.headers
    response = client.get(f"/v2/{repo}/tags/list", params={"n": 2, "last": "b"})
    assert response.json()["tags"] == ["c", "d"]
    assert "link" not in response.headers
    response = client.get(f"/v2/{repo}/tags/list", params={"n": 5})
    assert response.json()["tags"] == ["a", "b", "c", "d"]
    assert "link" not in response.headers


def test_tags_last_is_exclusive(server):
    client = server.client
    repo = unique_repo()
    push_tags(client, repo, ["a", "b", "c", "d"])
    assert client.get(f"/v2/{repo}/tags/list", params={"last": "b"}).json()["tags"] == ["c", "d"]
    # last need not be an existing tag
    assert client.get(f"/v2/{repo}/tags/list", params={"last": "bb"}).json()["tags"] == [
        "c", "d"]
    assert client.get(f"/v2/{repo}/tags/list", params={"last": ""}).json()["tags"] == [
        "a", "b", "c", "d"]


def test_tags_n_zero(server):
    client = server.client
    repo = unique_repo()
    push_tags(client, repo, ["a", "b"])
    response = client.get(f"/v2/{repo}/tags/list", params={"n": 0})
    assert response.status_code == 200
    assert response.json() == {"name": repo, "tags": []}
    assert "link" not in response.headers


@pytest.mark.parametrize("last", ["zzz", "~", "z/é", "\U0001f600"])
def test_tags_last_beyond_the_end(server, last):
    client = server.client
    repo = unique_repo()
    push_tags(client, repo, ["a", "b"])
    response = client.get(f"/v2/{repo}/tags/list", params={"last": last})
    assert response.status_code == 200
    assert response.json() == {"name": repo, "tags": []}
    assert "link" not in response.headers


def test_tags_of_unknown_repository(server):
    assert_error(server.client.get(f"/v2/{unique_repo()}/tags/list"), 404, "NAME_UNKNOWN")
    assert_error(server.client.get(f"/v2/{unique_repo()}/tags/list", params={"n": 1}), 404,
                 "NAME_UNKNOWN")


def test_tags_huge_n_is_clamped(server):
    client = server.client
    repo = unique_repo()
    push_tags(client, repo, ["a", "b", "c"])
    response = client.get(f"/v2/{repo}/tags/list", params={"n": "2147483647"})
    assert response.status_code == 200
    assert response.json()["tags"] == ["a", "b", "c"]
    assert "link" not in response.headers


def test_tags_n_above_maxtags_is_clamped_with_link(server_factory):
    running = server_factory({"tags.maxtags": 2})
    client = running.client
    repo = unique_repo()
    push_tags(client, repo, ["a", "b", "c"])
    for n in ("2147483647", "3", "1000"):
        response = client.get(f"/v2/{repo}/tags/list", params={"n": n})
        assert response.status_code == 200, response.text
        assert response.json()["tags"] == ["a", "b"]
        assert response.headers["link"] == f'</v2/{repo}/tags/list?n=2&last=b>; rel="next"'
        rest = client.get(next_link(response))
        assert rest.json()["tags"] == ["c"]
        assert "link" not in rest.headers
    # Without n, the default page is maxtags too.
    response = client.get(f"/v2/{repo}/tags/list")
    assert response.json()["tags"] == ["a", "b"]
    assert response.headers["link"] == f'</v2/{repo}/tags/list?n=2&last=b>; rel="next"'


BAD_NUMBERS = ["99999999999999999999", "-1", "abc", "1e3", "+5", " 5", "5 ", "5_0",
               "\u0661\u0660", "0x10", "1.5", "\uff15", "5\n"]


@pytest.mark.parametrize("n", BAD_NUMBERS)
def test_tags_bad_n(server, n):
    client = server.client
    repo = unique_repo()
    push_tags(client, repo, ["a"])
    assert_error(client.get(f"/v2/{repo}/tags/list", params={"n": n}), 400,
                 "PAGINATION_NUMBER_INVALID")


def test_tags_follow_deletes(server):
    client = server.client
    repo = unique_repo()
    digest = push_tags(client, repo, ["a", "b"])
    push_tags(client, repo, ["c"])
    assert client.delete(f"/v2/{repo}/manifests/b").status_code == 202
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["a", "c"]
    assert client.delete(f"/v2/{repo}/manifests/{digest}").status_code == 202
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["c"]


def test_tags_of_other_repositories_do_not_leak(server):
    client = server.client
    repo_a, repo_b = unique_repo(), unique_repo()
    push_tags(client, repo_a, ["a1"])
    push_tags(client, repo_b, ["b1"])
    assert client.get(f"/v2/{repo_a}/tags/list").json()["tags"] == ["a1"]
    assert client.get(f"/v2/{repo_b}/tags/list").json()["tags"] == ["b1"]


# Catalog


def test_catalog_is_sorted_and_paginated(server_factory):
    running = server_factory()
    client = running.client
    assert client.get("/v2/_catalog").json() == {"repositories": []}
    names = ["b/x", "a", "a/b", "a-b", "c.d/e_f", "z"]
    for name in names:
        push_blob(client, name, name.encode())
    response = client.get("/v2/_catalog")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"repositories": sorted(names)}
    assert "link" not in response.headers

    seen: list[str] = []
    url: str | None = "/v2/_catalog?n=4"
    pages = 0
    while url is not None:
        page = client.get(url)
        assert page.status_code == 200, page.text
        items = page.json()["repositories"]
        seen += items
        pages += 1
        url = next_link(page)
        if url is not None:
            assert len(items) == 4
            query = parse_qs(urlsplit(url).query)
            assert urlsplit(url).path == "/v2/_catalog"
            assert query == {"n": ["4"], "last": [items[-1]]}
    assert seen == sorted(names)
    assert pages == 2

    response = client.get("/v2/_catalog", params={"n": 2, "last": "a-b"})
    assert response.json()["repositories"] == ["a/b", "b/x"]
    assert next_link(response) is not None
    response = client.get("/v2/_catalog", params={"last": "c"})
    assert response.json()["repositories"] == ["c.d/e_f", "z"]
    response = client.get("/v2/_catalog", params={"last": "zz"})
    assert response.json()["repositories"] == []
    assert "link" not in response.headers
    response = client.get("/v2/_catalog", params={"n": 0})
    assert response.json() == {"repositories": []}
    assert "link" not in response.headers
    response = client.get("/v2/_catalog", params={"n": len(names)})
    assert response.json()["repositories"] == sorted(names)
    assert "link" not in response.headers


def test_catalog_n_limits(server):
    client = server.client
    push_blob(client, unique_repo(), b"something")
    response = client.get("/v2/_catalog", params={"n": 1000})
    assert response.status_code == 200
    for n in ("1001", "2147483647", "9999999999"):
        assert_error(client.get("/v2/_catalog", params={"n": n}), 400,
                     "PAGINATION_NUMBER_INVALID")


@pytest.mark.parametrize("n", BAD_NUMBERS)
def test_catalog_bad_n(server, n):
    assert_error(server.client.get("/v2/_catalog", params={"n": n}), 400,
                 "PAGINATION_NUMBER_INVALID")


def test_catalog_maxentries(server_factory):
    running = server_factory({"catalog.maxentries": 2})
    client = running.client
    for name in ("a", "b", "c"):
        push_blob(client, name, name.encode())
    assert_error(client.get("/v2/_catalog", params={"n": 3}), 400,
                 "PAGINATION_NUMBER_INVALID")
    response = client.get("/v2/_catalog")
    assert response.json()["repositories"] == ["a", "b"]
    assert next_link(response) is not None
    response = client.get("/v2/_catalog", params={"n": 2})
    assert response.json()["repositories"] == ["a", "b"]


# Referrers


def push_subject(client: httpx.Client, repo: str) -> dict[str, Any]:
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, "base", body).status_code == 201
    return descriptor(OCI_MANIFEST, body)


def push_artifact(client: httpx.Client, repo: str, subject: dict[str, Any],
                  artifact_type: str | None, annotations: dict[str, str] | None = None,
                  config_type: str = OCI_EMPTY, tag: str | None = None) -> bytes:
    config = b"{}" if config_type == OCI_EMPTY else json.dumps(
        {"nonce": uuid.uuid4().hex}).encode()
    push_blob(client, repo, config)
    payload = uuid.uuid4().bytes
    push_blob(client, repo, payload)
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": descriptor(config_type, config),
                                "layers": [descriptor("application/octet-stream", payload)],
                                "subject": subject}
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if annotations is not None:
        document["annotations"] = annotations
    body = json.dumps(document).encode()
    response = put_manifest(client, repo, tag or digest_of(body), body)
    assert response.status_code == 201, response.text
    assert response.headers["oci-subject"] == subject["digest"]
    return body


def referrers(client: httpx.Client, repo: str, digest: str, **params: str) -> httpx.Response:
    return client.get(f"/v2/{repo}/referrers/{digest}", params=params)


def assert_index(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == OCI_INDEX
    document = response.json()
    assert document["schemaVersion"] == 2
    assert document["mediaType"] == OCI_INDEX
    assert response.headers["content-length"] == str(len(response.content))
    return list(document["manifests"])


def test_referrers(server):
    client = server.client
    repo = unique_repo()
    subject = push_subject(client, repo)
    sbom = push_artifact(client, repo, subject, SBOM, annotations={"org.example.k": "v"})
    signature = push_artifact(client, repo, subject, SIGNATURE)
    plain = push_artifact(client, repo, subject, None, config_type=OCI_CONFIG)
    # A manifest with another subject, and one with none, are not listed.
    other = push_subject(client, unique_repo())
    push_artifact(client, repo, other, SBOM)
    push_image(client, repo, "unrelated")

    manifests = assert_index(referrers(client, repo, subject["digest"]))
    expected = [
        {"mediaType": OCI_MANIFEST, "digest": digest_of(sbom), "size": len(sbom),
         "artifactType": SBOM, "annotations": {"org.example.k": "v"}},
        {"mediaType": OCI_MANIFEST, "digest": digest_of(signature), "size": len(signature),
         "artifactType": SIGNATURE},
        {"mediaType": OCI_MANIFEST, "digest": digest_of(plain), "size": len(plain),
         "artifactType": OCI_CONFIG},
    ]
    key = lambda d: d["digest"]  # noqa: E731
    assert sorted(manifests, key=key) == sorted(expected, key=key)
    response = referrers(client, repo, subject["digest"])
    assert "oci-filters-applied" not in response.headers


def test_referrers_filter(server):
    client = server.client
    repo = unique_repo()
    subject = push_subject(client, repo)
    sbom = push_artifact(client, repo, subject, SBOM)
    push_artifact(client, repo, subject, SIGNATURE)

    response = referrers(client, repo, subject["digest"], artifactType=SBOM)
    manifests = assert_index(response)
    assert response.headers["oci-filters-applied"] == "artifactType"
    assert [m["digest"] for m in manifests] == [digest_of(sbom)]
    assert manifests[0]["artifactType"] == SBOM

    response = referrers(client, repo, subject["digest"], artifactType="application/none")
    assert assert_index(response) == []
    assert response.headers["oci-filters-applied"] == "artifactType"


def test_referrers_index_with_subject(server):
    client = server.client
    repo = unique_repo()
    subject = push_subject(client, repo)
    child = image_manifest(client, repo, layers=1)
    assert put_manifest(client, repo, digest_of(child), child).status_code == 201
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [descriptor(OCI_MANIFEST, child)], "subject": subject,
                "annotations": {"a": "b"}}
    untyped = json.dumps(document).encode()
    typed = json.dumps({**document, "artifactType": "application/vnd.example.bundle"}).encode()
    for body in (untyped, typed):
        response = put_manifest(client, repo, digest_of(body), body, OCI_INDEX)
        assert response.status_code == 201, response.text
        assert response.headers["oci-subject"] == subject["digest"]
    manifests = {m["digest"]: m for m in assert_index(referrers(client, repo,
                                                                subject["digest"]))}
    assert manifests == {
        digest_of(untyped): {"mediaType": OCI_INDEX, "digest": digest_of(untyped),
                             "size": len(untyped), "annotations": {"a": "b"}},
        digest_of(typed): {"mediaType": OCI_INDEX, "digest": digest_of(typed),
                           "size": len(typed), "annotations": {"a": "b"},
                           "artifactType": "application/vnd.example.bundle"},
    }


def test_referrers_of_missing_subject(server):
    client = server.client
    repo = unique_repo()
    missing = descriptor(OCI_MANIFEST, b'{"never": "pushed"}')
    body = push_artifact(client, repo, missing, SBOM)
    manifests = assert_index(referrers(client, repo, missing["digest"]))
    assert [m["digest"] for m in manifests] == [digest_of(body)]


def test_referrers_unknown_subject_is_empty(server):
    client = server.client
    repo = unique_repo()
    push_subject(client, repo)
    for digest in (digest_of(b"unknown"), "sha512:" + hashlib.sha512(b"unknown").hexdigest()):
        response = referrers(client, repo, digest)
        assert assert_index(response) == []
        assert response.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                   "manifests": []}


def test_referrers_subject_without_referrers_is_empty(server):
    client = server.client
    repo = unique_repo()
    subject = push_subject(client, repo)
    assert assert_index(referrers(client, repo, subject["digest"])) == []


def test_referrers_are_per_repository(server):
    client = server.client
    repo_a, repo_b = unique_repo(), unique_repo()
    subject = push_subject(client, repo_a)
    push_artifact(client, repo_a, subject, SBOM)
    push_subject(client, repo_b)
    assert assert_index(referrers(client, repo_b, subject["digest"])) == []


def test_referrers_follow_deletes(server):
    client = server.client
    repo = unique_repo()
    subject = push_subject(client, repo)
    sbom = push_artifact(client, repo, subject, SBOM)
    keep = push_artifact(client, repo, subject, SIGNATURE)
    assert client.delete(f"/v2/{repo}/manifests/{digest_of(sbom)}").status_code == 202
    manifests = assert_index(referrers(client, repo, subject["digest"]))
    assert [m["digest"] for m in manifests] == [digest_of(keep)]


@pytest.mark.parametrize("digest", ["sha256:abc", "sha257:" + "a" * 64, "md5:" + "a" * 32,
                                    "sha256:" + "A" * 64, "sha512:" + "a" * 64, "latest",
                                    "sha256:" + "a" * 63, "sha256:" + "a" * 65])
def test_referrers_bad_digest(server, digest):
    client = server.client
    repo = unique_repo()
    push_subject(client, repo)
    assert_error(referrers(client, repo, digest), 400, "DIGEST_INVALID")


def test_fallback_tag_is_an_ordinary_tag(server):
    client = server.client
    repo = unique_repo()
    subject = push_subject(client, repo)
    sbom = push_artifact(client, repo, subject, SBOM)
    fallback_tag = subject["digest"].replace(":", "-")
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        descriptor(OCI_MANIFEST, sbom, artifactType=SBOM)]}).encode()
    response = put_manifest(client, repo, fallback_tag, index, OCI_INDEX)
    assert response.status_code == 201, response.text
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["base", fallback_tag]
    fetched = client.get(f"/v2/{repo}/manifests/{fallback_tag}",
                         headers={"accept": OCI_INDEX})
    assert fetched.status_code == 200
    assert fetched.content == index
    assert fetched.headers["content-type"] == OCI_INDEX


def test_referrers_of_an_unknown_repository_is_an_empty_index(server):
    # The spec: a registry that supports the referrers API never answers it with 404.
    manifests = assert_index(referrers(server.client, unique_repo(), digest_of(b"nothing")))
    assert manifests == []
