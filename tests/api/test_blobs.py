"""``/v2/<name>/blobs/<digest>``: HEAD, GET (whole and ranged) and DELETE."""

import hashlib
import os

import pytest

from tests.pushing import assert_error, digest_of, push_blob, push_image, unique_repo

API_VERSION = "registry/2.0"




@pytest.fixture
def blob2048(server):
    """A 2048-byte blob pushed to a fresh repository: (repo, digest, bytes)."""
    repo = unique_repo()
    data = os.urandom(2048)
    digest = push_blob(server.client, repo, data)
    return repo, digest, data


def test_get_returns_bytes_and_headers(server, blob2048):
    repo, digest, data = blob2048
    response = server.client.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-length"] == "2048"
    assert response.headers["docker-content-digest"] == digest
    assert response.headers["etag"] == f'"{digest}"'
    assert response.headers["docker-distribution-api-version"] == API_VERSION


def test_head_has_get_headers_and_no_body(server, blob2048):
    repo, digest, _ = blob2048
    get = server.client.get(f"/v2/{repo}/blobs/{digest}")
    head = server.client.head(f"/v2/{repo}/blobs/{digest}")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-length", "docker-content-digest", "etag", "content-type",
                 "docker-distribution-api-version"):
        assert head.headers.get(name) == get.headers.get(name), name
    assert head.headers["content-length"] == "2048"


def test_head_of_missing_blob_is_404_without_body(server, blob2048):
    repo, _, _ = blob2048
    response = server.client.head(f"/v2/{repo}/blobs/{digest_of(b'missing')}")
    assert response.status_code == 404
    assert response.content == b""
    assert response.headers["docker-distribution-api-version"] == API_VERSION


def test_get_of_missing_blob_is_blob_unknown(server, blob2048):
    repo, _, _ = blob2048
    assert_error(server.client.get(f"/v2/{repo}/blobs/{digest_of(b'missing')}"), 404,
                 "BLOB_UNKNOWN")


def test_get_in_unknown_repository_is_blob_unknown(server, blob2048):
    _, digest, _ = blob2048
    assert_error(server.client.get(f"/v2/{unique_repo()}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


@pytest.mark.parametrize("header,start,end", [
    ("bytes=500-1499", 500, 1499),
    ("bytes=-500", 1548, 2047),
    ("bytes=500-", 500, 2047),
    ("bytes=2000-5000", 2000, 2047),
    ("bytes=0-0", 0, 0),
    ("bytes=2047-2047", 2047, 2047),
    ("bytes=0-2047", 0, 2047),
    ("bytes=-5000", 0, 2047),
])
def test_range_requests(server, blob2048, header, start, end):
    repo, digest, data = blob2048
    response = server.client.get(f"/v2/{repo}/blobs/{digest}", headers={"range": header})
    assert response.status_code == 206, response.text
    assert response.headers["content-range"] == f"bytes {start}-{end}/2048"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == data[start:end + 1]
    assert response.headers["docker-content-digest"] == digest


@pytest.mark.parametrize("header", ["bytes=500-0", "bytes=5000-10000", "bytes=2048-",
                                    "bytes=2048-2048", "bytes=-0"])
def test_unsatisfiable_range_is_416(server, blob2048, header):
    repo, digest, _ = blob2048
    response = server.client.get(f"/v2/{repo}/blobs/{digest}", headers={"range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */2048"
    assert_error(response, 416, "RANGE_INVALID")


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=0-99, 200-299", "junk",
                                    "bytes=abc-def", "items=0-5", "bytes=", "bytes=-",
                                    "bytes=1-2-3", "bytes=99999999999999999999-"])
def test_multi_or_junk_range_gives_whole_blob(server, blob2048, header):
    repo, digest, data = blob2048
    response = server.client.get(f"/v2/{repo}/blobs/{digest}", headers={"range": header})
    assert response.status_code == 200, response.text
    assert response.content == data
    assert "content-range" not in response.headers
    assert response.headers["content-length"] == "2048"


def test_if_none_match_on_blobs(server, blob2048):
    """Distribution serves blobs through http.ServeContent, which answers If-None-Match."""
    repo, digest, data = blob2048
    for method in ("GET", "HEAD"):
        response = server.client.request(method, f"/v2/{repo}/blobs/{digest}",
                                         headers={"if-none-match": f'"{digest}"'})
        assert response.status_code == 304, (method, response.status_code)
        assert response.content == b""
        assert response.headers["etag"] == f'"{digest}"'
    other = server.client.get(f"/v2/{repo}/blobs/{digest}",
                              headers={"if-none-match": f'"{digest_of(b"other")}"'})
    assert other.status_code == 200
    assert other.content == data


def test_large_blob_roundtrip(server):
    repo = unique_repo()
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = push_blob(server.client, repo, data)
    response = server.client.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == digest.split(":")[1]
    ranged = server.client.get(f"/v2/{repo}/blobs/{digest}",
                               headers={"range": "bytes=1048570-2097160"})
    assert ranged.status_code == 206
    assert ranged.content == data[1048570:2097161]


def test_blob_is_only_reachable_through_a_repository_holding_it(server):
    client = server.client
    repo_a, repo_b = unique_repo(), unique_repo()
    digest = push_blob(client, repo_a, os.urandom(100))
    push_blob(client, repo_b, os.urandom(100))  # B exists, but lacks A's blob
    assert client.head(f"/v2/{repo_a}/blobs/{digest}").status_code == 200
    assert client.head(f"/v2/{repo_b}/blobs/{digest}").status_code == 404
    assert_error(client.get(f"/v2/{repo_b}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert_error(client.get(f"/v2/{repo_b}/blobs/{digest}", headers={"range": "bytes=0-9"}),
                 404, "BLOB_UNKNOWN")


def test_manifest_layers_are_blobs_of_the_repository(server):
    client = server.client
    repo = unique_repo()
    digest = push_image(client, repo, "v1")
    manifest = client.get(f"/v2/{repo}/manifests/{digest}",
                          headers={"accept": "application/vnd.oci.image.manifest.v1+json"})
    layer = manifest.json()["layers"][0]
    response = client.get(f"/v2/{repo}/blobs/{layer['digest']}")
    assert response.status_code == 200
    assert len(response.content) == layer["size"]


def test_delete_then_404(server, blob2048):
    repo, digest, _ = blob2048
    response = server.client.delete(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 202, response.text
    assert response.headers["docker-distribution-api-version"] == API_VERSION
    assert server.client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
    assert_error(server.client.get(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert_error(server.client.delete(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_delete_in_one_repository_leaves_the_other(server):
    client = server.client
    repo_a, repo_b = unique_repo(), unique_repo()
    data = os.urandom(777)
    digest = push_blob(client, repo_a, data)
    push_blob(client, repo_b, data)
    assert client.delete(f"/v2/{repo_a}/blobs/{digest}").status_code == 202
    assert client.head(f"/v2/{repo_a}/blobs/{digest}").status_code == 404
    response = client.get(f"/v2/{repo_b}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data


def test_delete_unknown_blob(server, blob2048):
    repo, _, _ = blob2048
    assert_error(server.client.delete(f"/v2/{repo}/blobs/{digest_of(b'nope')}"), 404,
                 "BLOB_UNKNOWN")
    assert_error(server.client.delete(f"/v2/{repo}/blobs/sha256:zz"), 400, "DIGEST_INVALID")


def test_deletes_disabled_are_unsupported(server_factory):
    running = server_factory({"storage.delete.enabled": False})
    client = running.client
    repo = unique_repo()
    blob = push_blob(client, repo, b"keep me")
    manifest = push_image(client, repo, "v1")

    assert_error(client.delete(f"/v2/{repo}/blobs/{blob}"), 405, "UNSUPPORTED")
    assert_error(client.delete(f"/v2/{repo}/manifests/{manifest}"), 405, "UNSUPPORTED")
    assert_error(client.delete(f"/v2/{repo}/manifests/v1"), 405, "UNSUPPORTED")

    # Nothing was deleted.
    assert client.head(f"/v2/{repo}/blobs/{blob}").status_code == 200
    accept = {"accept": "application/vnd.oci.image.manifest.v1+json"}
    assert client.head(f"/v2/{repo}/manifests/{manifest}", headers=accept).status_code == 200
    assert client.head(f"/v2/{repo}/manifests/v1", headers=accept).status_code == 200
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1"]


def test_sha512_blob_is_served(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(4000)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    started = client.post(f"/v2/{repo}/blobs/uploads/")
    done = client.put(started.headers["location"], params={"digest": digest}, content=data)
    assert done.status_code == 201, done.text
    response = client.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["docker-content-digest"] == digest
    ranged = client.get(f"/v2/{repo}/blobs/{digest}", headers={"range": "bytes=10-19"})
    assert ranged.status_code == 206
    assert ranged.content == data[10:20]
