"""``/v2/<name>/blobs/uploads/``: sessions, chunks, completion, cancel, monolithic and mount."""

import hashlib
import os
import re
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from tests.pushing import assert_error, digest_of, push_blob, unique_repo

API_VERSION = "registry/2.0"
EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")




def blob_file(root: Path, digest: str) -> Path:
    algorithm, hexpart = digest.split(":")
    blobs = root / "docker" / "registry" / "v2" / "blobs"
    return blobs / algorithm / hexpart[:2] / hexpart / "data"


def start(client: httpx.Client, repo: str) -> str:
    response = client.post(f"/v2/{repo}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return response.headers["location"]


def patch(client: httpx.Client, location: str, data: bytes, first: int) -> httpx.Response:
    return client.patch(location, content=data, headers={
        "content-type": "application/octet-stream",
        "content-range": f"{first}-{first + len(data) - 1}"})


def test_post_opens_a_session(server):
    repo = unique_repo()
    response = server.client.post(f"/v2/{repo}/blobs/uploads/")
    assert response.status_code == 202
    upload_id = response.headers["docker-upload-uuid"]
    assert UUID_RE.fullmatch(upload_id)
    assert response.headers["location"] == f"/v2/{repo}/blobs/uploads/{upload_id}"
    assert response.headers["range"] == "0-0"
    assert response.headers["content-length"] == "0"
    assert response.headers["docker-distribution-api-version"] == API_VERSION


def test_post_without_trailing_slash(server):
    repo = unique_repo()
    response = server.client.post(f"/v2/{repo}/blobs/uploads")
    assert response.status_code == 202
    assert response.headers["location"].startswith(f"/v2/{repo}/blobs/uploads/")


def test_session_status(server):
    client = server.client
    repo = unique_repo()
    location = start(client, repo)
    response = client.get(location)
    assert response.status_code == 204
    assert response.headers["range"] == "0-0"
    assert response.headers["location"] == location
    assert response.headers["docker-upload-uuid"] == location.rsplit("/", 1)[1]
    assert response.content == b""
    assert patch(client, location, b"x" * 100, 0).status_code == 202
    response = client.get(location)
    assert response.status_code == 204
    assert response.headers["range"] == "0-99"
    assert response.headers["location"] == location


def test_monolithic_post_with_digest(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(1500)
    digest = digest_of(data)
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest},
                           content=data, headers={"content-type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v2/{repo}/blobs/{digest}"
    assert response.headers["docker-content-digest"] == digest
    fetched = client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.content == data


def test_monolithic_post_with_wrong_digest(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(1500)
    wrong = digest_of(b"something else " + data)
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": wrong}, content=data)
    assert_error(response, 400, "DIGEST_INVALID")
    for digest in (wrong, digest_of(data)):
        assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
        assert not blob_file(server.root, digest).exists()


def test_chunked_upload(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(3000)
    location = start(client, repo)
    offset = 0
    for size in (1000, 1000, 1000):
        response = patch(client, location, data[offset:offset + size], offset)
        assert response.status_code == 202, response.text
        offset += size
        assert response.headers["range"] == f"0-{offset - 1}"
        assert response.headers["location"] == location
        assert response.headers["docker-upload-uuid"] == location.rsplit("/", 1)[1]
        assert response.headers["content-length"] == "0"
    digest = digest_of(data)
    done = client.put(location, params={"digest": digest})
    assert done.status_code == 201, done.text
    assert done.headers["location"] == f"/v2/{repo}/blobs/{digest}"
    assert done.headers["docker-content-digest"] == digest
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_content_range_with_bytes_prefix_is_accepted(server):
    client = server.client
    repo = unique_repo()
    location = start(client, repo)
    response = client.patch(location, content=b"abcd", headers={"content-range": "bytes 0-3"})
    assert response.status_code == 202, response.text
    assert response.headers["range"] == "0-3"


def test_streamed_patch_without_content_range(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(200_000)
    location = start(client, repo)

    def body():
        for i in range(0, len(data), 7001):
            yield data[i:i + 7001]

    response = client.patch(location, content=body(),
                            headers={"content-type": "application/octet-stream"})
    assert response.status_code == 202, response.text
    assert response.headers["range"] == f"0-{len(data) - 1}"
    # A second streamed chunk appends.
    more = os.urandom(10)
    response = client.patch(location, content=more)
    assert response.status_code == 202
    assert response.headers["range"] == f"0-{len(data) + 9}"
    digest = digest_of(data + more)
    assert client.put(location, params={"digest": digest}).status_code == 201
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data + more


def test_out_of_order_chunk_is_416_and_session_survives(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(300)
    location = start(client, repo)
    assert patch(client, location, data[:100], 0).status_code == 202

    skipped = patch(client, location, data[200:], 200)
    assert_error(skipped, 416, "RANGE_INVALID")

    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-99"
    assert status.headers["location"] == location

    assert patch(client, location, data[100:200], 100).status_code == 202
    assert patch(client, location, data[200:], 200).status_code == 202
    digest = digest_of(data)
    assert client.put(location, params={"digest": digest}).status_code == 201
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_repeated_chunk_is_416_and_session_survives(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(200)
    location = start(client, repo)
    assert patch(client, location, data[:100], 0).status_code == 202
    assert_error(patch(client, location, data[:100], 0), 416, "RANGE_INVALID")
    # An overlapping chunk is just as wrong.
    assert_error(patch(client, location, data[50:150], 50), 416, "RANGE_INVALID")

    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-99"

    assert patch(client, location, data[100:], 100).status_code == 202
    digest = digest_of(data)
    done = client.put(location, params={"digest": digest})
    assert done.status_code == 201, done.text
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_content_length_must_match_range(server):
    client = server.client
    repo = unique_repo()
    location = start(client, repo)
    response = client.patch(location, content=b"x" * 50, headers={"content-range": "0-99"})
    assert_error(response, 400, "SIZE_INVALID")
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"
    data = b"y" * 100
    assert patch(client, location, data, 0).status_code == 202
    assert client.put(location, params={"digest": digest_of(data)}).status_code == 201


@pytest.mark.parametrize("actual", [50, 150])
def test_streamed_chunk_not_matching_its_range_is_discarded(server, actual):
    """Without Content-Length the length is only known at the end; a mismatch drops the chunk."""
    client = server.client
    repo = unique_repo()
    data = os.urandom(300)
    location = start(client, repo)
    assert patch(client, location, data[:100], 0).status_code == 202

    def body():
        yield data[100:100 + actual]

    response = client.patch(location, content=body(), headers={"content-range": "100-199"})
    assert_error(response, 400, "SIZE_INVALID")
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-99"
    assert patch(client, location, data[100:], 100).status_code == 202
    digest = digest_of(data)
    done = client.put(location, params={"digest": digest})
    assert done.status_code == 201, done.text
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_put_carries_the_last_chunk(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(2500)
    location = start(client, repo)
    assert patch(client, location, data[:1000], 0).status_code == 202
    digest = digest_of(data)
    done = client.put(location, params={"digest": digest}, content=data[1000:],
                      headers={"content-type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    assert done.headers["location"] == f"/v2/{repo}/blobs/{digest}"
    assert done.headers["docker-content-digest"] == digest
    fetched = client.get(f"/v2/{repo}/blobs/{digest}")
    assert fetched.content == data
    assert fetched.headers["content-length"] == "2500"


def test_put_with_last_chunk_and_content_range(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(2000)
    location = start(client, repo)
    assert patch(client, location, data[:1000], 0).status_code == 202
    digest = digest_of(data)
    done = client.put(location, params={"digest": digest}, content=data[1000:],
                      headers={"content-range": "1000-1999"})
    assert done.status_code == 201, done.text
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_put_with_wrong_digest_stores_nothing(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(1000)
    wrong = digest_of(data + b"!")
    location = start(client, repo)
    assert patch(client, location, data, 0).status_code == 202
    assert_error(client.put(location, params={"digest": wrong}), 400, "DIGEST_INVALID")
    for digest in (wrong, digest_of(data)):
        assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
        assert_error(client.get(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
        assert not blob_file(server.root, digest).exists()
        assert not blob_file(server.root, digest).parent.exists()


def test_put_with_wrong_digest_and_body_stores_nothing(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(1000)
    wrong = digest_of(b"other")
    location = start(client, repo)
    assert_error(client.put(location, params={"digest": wrong}, content=data), 400,
                 "DIGEST_INVALID")
    assert client.head(f"/v2/{repo}/blobs/{wrong}").status_code == 404
    assert client.head(f"/v2/{repo}/blobs/{digest_of(data)}").status_code == 404
    assert not blob_file(server.root, wrong).exists()
    assert not blob_file(server.root, digest_of(data)).exists()


def test_put_without_digest(server):
    client = server.client
    repo = unique_repo()
    location = start(client, repo)
    assert patch(client, location, b"abc", 0).status_code == 202
    assert_error(client.put(location), 400, "DIGEST_INVALID")
    assert_error(client.put(location, params={"digest": ""}), 400, "DIGEST_INVALID")
    assert_error(client.put(location, params={"digest": "sha256:abc"}), 400, "DIGEST_INVALID")


def test_upload_is_gone_after_completion(server):
    client = server.client
    repo = unique_repo()
    location = start(client, repo)
    data = b"complete me"
    assert client.put(location, params={"digest": digest_of(data)}, content=data
                      ).status_code == 201
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch(client, location, b"more", len(data)), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.put(location, params={"digest": digest_of(data)}), 404,
                 "BLOB_UPLOAD_UNKNOWN")


def test_cancel_upload(server):
    client = server.client
    repo = unique_repo()
    location = start(client, repo)
    data = os.urandom(100)
    assert patch(client, location, data, 0).status_code == 202
    response = client.delete(location)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["docker-distribution-api-version"] == API_VERSION
    assert_error(client.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch(client, location, data, 100), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.put(location, params={"digest": digest_of(data)}), 404,
                 "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.delete(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert client.head(f"/v2/{repo}/blobs/{digest_of(data)}").status_code == 404


def test_session_of_one_repository_is_unknown_in_another(server):
    client = server.client
    repo_a, repo_b = unique_repo(), unique_repo()
    location = start(client, repo_a)
    start(client, repo_b)  # B has uploads of its own
    upload_id = location.rsplit("/", 1)[1]
    data = os.urandom(100)
    assert patch(client, location, data, 0).status_code == 202
    foreign = f"/v2/{repo_b}/blobs/uploads/{upload_id}"

    assert_error(patch(client, foreign, b"evil", 100), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.patch(foreign, content=b"evil"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.get(foreign), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.put(foreign, params={"digest": digest_of(data)}), 404,
                 "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.put(foreign, params={"digest": digest_of(data + b"evil")},
                            content=b"evil"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.delete(foreign), 404, "BLOB_UPLOAD_UNKNOWN")

    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-99"
    assert client.put(location, params={"digest": digest_of(data)}).status_code == 201
    assert client.head(f"/v2/{repo_a}/blobs/{digest_of(data)}").status_code == 200
    assert client.head(f"/v2/{repo_b}/blobs/{digest_of(data)}").status_code == 404


def test_empty_blob(server):
    client = server.client
    repo = unique_repo()
    assert digest_of(b"") == EMPTY_DIGEST
    location = start(client, repo)
    done = client.put(location, params={"digest": EMPTY_DIGEST})
    assert done.status_code == 201, done.text
    assert done.headers["docker-content-digest"] == EMPTY_DIGEST
    head = client.head(f"/v2/{repo}/blobs/{EMPTY_DIGEST}")
    assert head.status_code == 200
    assert head.headers["content-length"] == "0"
    get = client.get(f"/v2/{repo}/blobs/{EMPTY_DIGEST}")
    assert get.status_code == 200
    assert get.content == b""


def test_empty_blob_monolithic(server):
    client = server.client
    repo = unique_repo()
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": EMPTY_DIGEST},
                           content=b"")
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v2/{repo}/blobs/{EMPTY_DIGEST}"
    assert client.head(f"/v2/{repo}/blobs/{EMPTY_DIGEST}").status_code == 200


def test_sha512_upload(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(5000)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    location = start(client, repo)
    assert patch(client, location, data[:2000], 0).status_code == 202
    done = client.put(location, params={"digest": digest}, content=data[2000:])
    assert done.status_code == 201, done.text
    assert done.headers["location"] == f"/v2/{repo}/blobs/{digest}"
    assert done.headers["docker-content-digest"] == digest
    head = client.head(f"/v2/{repo}/blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["content-length"] == "5000"
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_sha512_wrong_digest(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(500)
    wrong = "sha512:" + hashlib.sha512(data + b"x").hexdigest()
    location = start(client, repo)
    assert_error(client.put(location, params={"digest": wrong}, content=data), 400,
                 "DIGEST_INVALID")
    assert not blob_file(server.root, wrong).exists()


def test_sha512_monolithic(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(300)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest},
                           content=data)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == digest
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_mount(server):
    client = server.client
    repo_a, repo_b = unique_repo(), unique_repo()
    data = os.urandom(1234)
    digest = push_blob(client, repo_a, data)
    assert client.head(f"/v2/{repo_b}/blobs/{digest}").status_code == 404
    response = client.post(f"/v2/{repo_b}/blobs/uploads/",
                           params={"mount": digest, "from": repo_a})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v2/{repo_b}/blobs/{digest}"
    assert response.headers["docker-content-digest"] == digest
    head = client.head(f"/v2/{repo_b}/blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["content-length"] == "1234"
    assert client.get(f"/v2/{repo_b}/blobs/{digest}").content == data
    # The mount is a link of B's own: deleting it in B leaves A's.
    assert client.delete(f"/v2/{repo_b}/blobs/{digest}").status_code == 202
    assert client.head(f"/v2/{repo_b}/blobs/{digest}").status_code == 404
    assert client.head(f"/v2/{repo_a}/blobs/{digest}").status_code == 200


def assert_new_session(response: httpx.Response, repo: str) -> None:
    assert response.status_code == 202, response.text
    upload_id = response.headers["docker-upload-uuid"]
    assert response.headers["location"] == f"/v2/{repo}/blobs/uploads/{upload_id}"
    assert response.headers["range"] == "0-0"


def test_mount_fallbacks_open_a_session(server):
    client = server.client
    repo_a, repo_b, repo_c = unique_repo(), unique_repo(), unique_repo()
    digest = push_blob(client, repo_a, os.urandom(64))
    push_blob(client, repo_c, os.urandom(64))
    cases = [
        {"mount": digest_of(b"never pushed"), "from": repo_a},  # missing blob
        {"mount": digest, "from": repo_c},  # source lacks it
        {"mount": digest, "from": unique_repo()},  # source does not exist
        {"mount": digest},  # no from
        {"mount": digest, "from": ""},
        {"mount": digest, "from": "../" + repo_a},  # invalid source name
    ]
    for params in cases:
        response = client.post(f"/v2/{repo_b}/blobs/uploads/", params=params)
        assert_new_session(response, repo_b)
        assert client.head(f"/v2/{repo_b}/blobs/{digest}").status_code == 404, params
        # The session is a real one.
        data = os.urandom(10)
        done = client.put(response.headers["location"], params={"digest": digest_of(data)},
                          content=data)
        assert done.status_code == 201


def test_mount_with_invalid_digest(server):
    repo = unique_repo()
    response = server.client.post(f"/v2/{repo}/blobs/uploads/",
                                  params={"mount": "sha256:xyz", "from": unique_repo()})
    assert_error(response, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("upload_id", [
    "not-a-uuid", "00000000-0000-0000-0000-000000000000", str(uuid.uuid4()),
    str(uuid.uuid4()).upper(), "%2e%2e", "...", ".x", "x" * 300, "%2e%2e%5c%2e%2e",
])
def test_forged_upload_ids_are_unknown(server, upload_id):
    client = server.client
    repo = unique_repo()
    start(client, repo)
    url = httpx.URL(f"{server.url}/v2/{repo}/blobs/uploads/{upload_id}")
    for method, kwargs in [("GET", {}), ("PATCH", {"content": b"abc"}),
                           ("PUT", {"params": {"digest": digest_of(b"abc")},
                                    "content": b"abc"}),
                           ("DELETE", {})]:
        response = client.request(method, url, **kwargs)
        assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert client.head(f"/v2/{repo}/blobs/{digest_of(b'abc')}").status_code == 404


def test_upload_id_with_encoded_slash_is_not_found(server):
    client = server.client
    repo = unique_repo()
    location = start(client, repo)
    upload_id = location.rsplit("/", 1)[1]
    data = b"abc"
    for forged in ("..%2fx", f"..%2f..%2f_uploads%2f{upload_id}", f"{upload_id}%2f"):
        url = httpx.URL(f"{server.url}/v2/{repo}/blobs/uploads/{forged}")
        for method in ("GET", "PATCH", "PUT", "DELETE"):
            response = client.request(method, url, content=data,
                                      params={"digest": digest_of(data)})
            assert response.status_code in (400, 404), (forged, method, response.text)
            assert response.json()["errors"][0]["code"] in (
                "BLOB_UPLOAD_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN"), response.text
    assert client.get(location).headers["range"] == "0-0"


def test_concurrent_uploads_of_the_same_content(server):
    repo = unique_repo()
    data = os.urandom(512 * 1024)
    digest = digest_of(data)
    results: list[int | str] = []

    def upload() -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                location = start(client, repo)
                half = len(data) // 2
                assert patch(client, location, data[:half], 0).status_code == 202
                done = client.put(location, params={"digest": digest}, content=data[half:])
                results.append(done.status_code)
        except Exception as exc:  # noqa: BLE001 - reported through results
            results.append(repr(exc))

    threads = [threading.Thread(target=upload) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [201] * 10
    fetched = server.client.get(f"/v2/{repo}/blobs/{digest}")
    assert fetched.status_code == 200
    assert fetched.content == data
    stored = blob_file(server.root, digest)
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest.split(":")[1]
    assert sorted(p.name for p in stored.parent.iterdir()) == ["data"]


def test_concurrent_monolithic_uploads_into_many_repositories(server):
    data = os.urandom(200 * 1024)
    digest = digest_of(data)
    repos = [unique_repo() for _ in range(8)]
    results: list[int | str] = []

    def upload(repo: str) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest},
                                       content=data)
                results.append(response.status_code)
        except Exception as exc:  # noqa: BLE001 - reported through results
            results.append(repr(exc))

    threads = [threading.Thread(target=upload, args=(r,)) for r in repos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [201] * 8
    for repo in repos:
        assert server.client.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_content_range_with_a_total_is_accepted(server):
    client = server.client
    repo = unique_repo()
    data = b"0123456789"
    location = start(client, repo)
    response = client.patch(location, content=data[:4], headers={"content-range": "bytes 0-3/10"})
    assert response.status_code == 202, response.text
    assert response.headers["range"] == "0-3"
    response = client.patch(location, content=data[4:], headers={"content-range": "4-9/*"})
    assert response.headers["range"] == "0-9"
    assert client.put(location, params={"digest": digest_of(data)}).status_code == 201


def test_malformed_content_range_is_refused_and_the_session_survives(server):
    client = server.client
    location = start(client, unique_repo())
    response = client.patch(location, content=b"abc", headers={"content-range": "zero-two"})
    assert_error(response, 400, "BLOB_UPLOAD_INVALID")
    assert client.get(location).headers["range"] == "0-0"
