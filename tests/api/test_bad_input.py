"""Hostile and malformed input: names, tags, digests, bodies and random garbage.

Client garbage must never yield a 5xx, never touch storage outside the root, never leave a
partial blob and never create a tag (registry-security checklist, section 3).
"""

import hashlib
import json
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pushing import (
    ACCEPT_ALL,
    OCI_MANIFEST,
    assert_error,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    unique_repo,
)

API_VERSION = "registry/2.0"
KNOWN_CODES = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
               "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN",
               "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNSUPPORTED",
               "RANGE_INVALID", "PAGINATION_NUMBER_INVALID", "UNAUTHORIZED", "DENIED",
               "TOOMANYREQUESTS"}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")


# Raw HTTP, so that paths reach the server exactly as written (httpx normalises "..").


@dataclass
class RawResponse:
    status: int | None
    headers: dict[str, str]
    body: bytes

    def codes(self) -> list[str]:
        return [e["code"] for e in json.loads(self.body)["errors"]]


def _parse(data: bytes) -> RawResponse:
    if not data:
        return RawResponse(None, {}, b"")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(status, headers, body)


def raw_request(server, method: str, target: str | bytes, body: bytes = b"",
                headers: dict[str, str] | None = None, declared: int | str | None = None,
                close: str = "none") -> RawResponse:
    """Send one request on a fresh connection and read the answer until the server closes.

    ``declared`` overrides Content-Length; ``close`` is ``"shutdown"`` (half-close after the
    body) or ``"close"`` (drop the connection without reading an answer).
    """
    host, port = server.host.split(":")
    target_bytes = target if isinstance(target, bytes) else target.encode("latin-1")
    lines = [f"Host: {server.host}", "Connection: close",
             f"Content-Length: {len(body) if declared is None else declared}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    request = (method.encode() + b" " + target_bytes + b" HTTP/1.1\r\n"
               + "".join(line + "\r\n" for line in lines).encode("latin-1") + b"\r\n" + body)
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(request)
        if close == "close":
            return RawResponse(None, {}, b"")
        if close == "shutdown":
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return _parse(b"".join(chunks))


def assert_raw_error(response: RawResponse, allowed: set[tuple[int, str]]) -> None:
    assert response.status is not None, "no answer"
    assert response.headers.get("docker-distribution-api-version") == API_VERSION
    codes = response.codes() if response.body else []
    assert len(codes) <= 1
    assert (response.status, codes[0] if codes else None) in allowed, (
        response.status, response.body[:300])




# Storage invariants


def assert_storage_sane(root: Path) -> None:
    """Nothing outside the root, only complete blobs, only well-formed repository paths."""
    assert {p.name for p in root.parent.iterdir()} <= {"config.yml", "server.log", "data"}
    assert {p.name for p in root.iterdir()} <= {"docker", "dockyard"}
    for path in (root / "dockyard").iterdir():
        assert path.name.startswith("metadata.sqlite3") or path.name in (
            "serving.lock", "import.lock", "import-state.jsonl",
            "locks", "gc.lock", "gc-trash", "metadata.changed"), path  # docs/gc.md
    assert [p.name for p in (root / "docker").iterdir()] == ["registry"]
    assert [p.name for p in (root / "docker" / "registry").iterdir()] == ["v2"]
    v2 = root / "docker" / "registry" / "v2"
    assert {p.name for p in v2.iterdir()} <= {"blobs", "repositories"}

    blobs = v2 / "blobs"
    for directory, subdirs, files in os.walk(blobs):
        relative = Path(directory).relative_to(blobs).parts
        if len(relative) < 3:
            assert not files, (directory, files)
            if relative:
                assert relative[0] in ("sha256", "sha512"), directory
            continue
        algorithm, prefix, hexpart = relative[:3]
        assert len(relative) == 3 and not subdirs, directory
        assert files == ["data"], (directory, files)
        assert hexpart.startswith(prefix) and len(prefix) == 2, directory
        data = (Path(directory) / "data").read_bytes()
        assert hashlib.new(algorithm, data).hexdigest() == hexpart, f"corrupt blob {directory}"

    repositories = v2 / "repositories"
    for directory, subdirs, files in os.walk(repositories):
        relative = Path(directory).relative_to(repositories).parts
        if "_uploads" in relative:
            position = relative.index("_uploads")
            assert all(COMPONENT_RE.fullmatch(c) for c in relative[:position]), directory
            assert len(relative) <= position + 2, directory
            if len(relative) == position + 2:
                assert UUID_RE.fullmatch(relative[-1]), directory
                assert set(files) <= {"data", "startedat"}, (directory, files)
                assert not subdirs
            else:
                assert not files, (directory, files)
        else:
            assert all(COMPONENT_RE.fullmatch(c) for c in relative), directory
            assert not files, (directory, files)


# Names

BAD_NAMES = [
    "../x", "a/../b", "%2e%2e/x", "..%2fx", "a%2f..%2f..%2fb", "%252e%252e/x", "..", ".",
    "A/B", "Test", "a//b", "a/", "/abs", ".a", "a.", "a..b", "-a", "a-", "a_", "_a",
    "a___b", "x" * 256, "a/" + "b" * 254, "a%00b", "a%0ab", "a%0d%0ab", "%C3%A9",
    "caf%C3%A9", "a%20b", "a%5cb", "a%3ab", "a:b", "a@b", "%e2%80%aeabc", "%D0%B0bc",
    "a%25", "a%zz",
]
NAME_ANSWERS = {(400, "NAME_INVALID"), (404, "NAME_UNKNOWN")}


def name_requests(name: str) -> list[tuple[str, str, bytes]]:
    data = b"bad-name blob " + name.encode()
    digest = digest_of(data)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
    return [
        ("GET", f"/v2/{name}/tags/list", b""),
        ("GET", f"/v2/{name}/manifests/latest", b""),
        ("PUT", f"/v2/{name}/manifests/latest", manifest),
        ("DELETE", f"/v2/{name}/manifests/latest", b""),
        ("POST", f"/v2/{name}/blobs/uploads/", b""),
        ("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data),
        ("GET", f"/v2/{name}/blobs/{digest}", b""),
        ("DELETE", f"/v2/{name}/blobs/{digest}", b""),
        ("PATCH", f"/v2/{name}/blobs/uploads/{uuid.uuid4()}", data),
        ("GET", f"/v2/{name}/referrers/{digest}", b""),
    ]


@pytest.mark.parametrize("name", BAD_NAMES, ids=lambda n: n[:40])
def test_bad_names(server, name):
    for method, target, body in name_requests(name):
        response = raw_request(server, method, target, body,
                               headers={"content-type": OCI_MANIFEST} if body else None)
        assert_raw_error(response, NAME_ANSWERS)
    data = b"bad-name blob " + name.encode()
    assert not (server.root / "docker" / "registry" / "v2" / "blobs" / "sha256"
                / digest_of(data)[7:9] / digest_of(data)[7:]).exists()
    assert_storage_sane(server.root)


@pytest.mark.parametrize("target", [
    b"/v2/caf\xc3\xa9/tags/list", b"/v2/a\x00b/tags/list", b"/v2/a b/tags/list",
    b"/v2/a\tb/tags/list", b"/v2/\xff/tags/list",
], ids=["utf8", "nul", "space", "tab", "latin1"])
def test_raw_bytes_in_request_line(server, target):
    response = raw_request(server, "GET", target)
    assert response.status in (400, 404)
    if response.body:
        assert response.codes() in (["NAME_INVALID"], ["NAME_UNKNOWN"])
    assert server.client.get("/v2/").status_code == 200


def test_invalid_mount_source_name_opens_a_session(server):
    repo = unique_repo()
    digest = push_blob(server.client, unique_repo(), b"mount source")
    for source in ("../x", "A", "a//b", "x" * 256):
        response = server.client.post(f"/v2/{repo}/blobs/uploads/",
                                      params={"mount": digest, "from": source})
        assert response.status_code == 202, response.text
        assert server.client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404


def test_longest_valid_name_works(server):
    name = "/".join(["n" * 63] * 4)  # 255 characters
    assert len(name) == 255
    client = server.client
    digest = push_blob(client, name, b"long name")
    assert client.head(f"/v2/{name}/blobs/{digest}").status_code == 200
    manifest = push_image(client, name, "v1")
    assert client.get(f"/v2/{name}/tags/list").json() == {"name": name, "tags": ["v1"]}
    assert client.head(f"/v2/{name}/manifests/{manifest}",
                       headers={"accept": ACCEPT_ALL}).status_code == 200


# Tags

BAD_TAGS = {
    "x" * 129: "TAG_INVALID",
    ".bad": "TAG_INVALID",
    "-bad": "TAG_INVALID",
    "a@b": "TAG_INVALID",
    "latest%0A": "TAG_INVALID",
    "latest%00": "TAG_INVALID",
    "caf%C3%A9": "TAG_INVALID",
    "a%20b": "TAG_INVALID",
    "a+b": "TAG_INVALID",
    "%2e%2e": "TAG_INVALID",
    "a:b": "DIGEST_INVALID",
    "latest:": "DIGEST_INVALID",
    ":latest": "DIGEST_INVALID",
}


@pytest.mark.parametrize("tag", sorted(BAD_TAGS), ids=lambda t: t[:30])
def test_bad_tags(server, tag):
    client = server.client
    repo = unique_repo()
    push_image(client, repo, "good")
    body = image_manifest(client, repo)
    code = BAD_TAGS[tag]
    url = httpx.URL(f"{server.url}/v2/{repo}/manifests/{tag}")
    assert_error(client.put(url, content=body, headers={"content-type": OCI_MANIFEST}), 400,
                 code)
    assert_error(client.get(url, headers={"accept": ACCEPT_ALL}), 400, code)
    assert_error(client.delete(url), 400, code)
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["good"]


def test_tag_with_slash_is_not_a_tag(server):
    client = server.client
    repo = unique_repo()
    push_image(client, repo, "good")
    body = image_manifest(client, repo)
    response = raw_request(server, "PUT", f"/v2/{repo}/manifests/a%2Fb", body,
                           headers={"content-type": OCI_MANIFEST})
    assert_raw_error(response, {(400, "TAG_INVALID"), (404, "NAME_UNKNOWN")})
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["good"]


def test_longest_valid_tag_works(server):
    client = server.client
    repo = unique_repo()
    tag = "_" + "A9.-_z" * 21 + "b"  # 128 characters
    assert len(tag) == 128
    digest = push_image(client, repo, tag)
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == [tag]
    response = client.get(f"/v2/{repo}/manifests/{tag}", headers={"accept": ACCEPT_ALL})
    assert response.headers["docker-content-digest"] == digest


# Digests

BAD_DIGESTS = [
    "sha257:" + "a" * 64, "md5:" + "a" * 32, "sha256:" + "a" * 63, "sha256:" + "a" * 65,
    "sha256:" + "A" * 64, "SHA256:" + "a" * 64, "sha512:" + "a" * 64, "sha512:" + "a" * 127,
    "sha256:" + "g" * 64, "sha256:", ":" + "a" * 64, "sha256:" + "a" * 64 + "%0A",
    "sha256:" + "a" * 64 + ":x", "sha256:%2e%2e", "sha256+b64u:" + "a" * 43,
]


@pytest.mark.parametrize("digest", BAD_DIGESTS, ids=lambda d: d[:20])
def test_bad_digests(server, digest):
    client = server.client
    repo = unique_repo()
    push_image(client, repo, "good")
    data = b"data for a bad digest"

    def url(path: str) -> httpx.URL:
        return httpx.URL(f"{server.url}{path}")

    assert_error(client.get(url(f"/v2/{repo}/blobs/{digest}")), 400, "DIGEST_INVALID")
    assert client.head(url(f"/v2/{repo}/blobs/{digest}")).status_code == 400
    assert_error(client.delete(url(f"/v2/{repo}/blobs/{digest}")), 400, "DIGEST_INVALID")
    assert_error(client.get(url(f"/v2/{repo}/manifests/{digest}"),
                            headers={"accept": ACCEPT_ALL}), 400, "DIGEST_INVALID")
    assert client.head(url(f"/v2/{repo}/manifests/{digest}")).status_code == 400
    assert_error(client.delete(url(f"/v2/{repo}/manifests/{digest}")), 400, "DIGEST_INVALID")
    body = image_manifest(client, repo)
    assert_error(client.put(url(f"/v2/{repo}/manifests/{digest}"), content=body,
                            headers={"content-type": OCI_MANIFEST}), 400, "DIGEST_INVALID")
    assert_error(client.get(url(f"/v2/{repo}/referrers/{digest}")), 400, "DIGEST_INVALID")

    started = client.post(f"/v2/{repo}/blobs/uploads/")
    location = started.headers["location"]
    assert_error(client.put(url(f"{location}?digest={digest}"), content=data), 400,
                 "DIGEST_INVALID")
    assert_error(client.post(url(f"/v2/{repo}/blobs/uploads/?digest={digest}"), content=data),
                 400, "DIGEST_INVALID")
    assert client.head(f"/v2/{repo}/blobs/{digest_of(data)}").status_code == 404
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["good"]


# Bodies


def uploads_of(root: Path, repo: str) -> list[str]:
    directory = root / "docker" / "registry" / "v2" / "repositories" / repo / "_uploads"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


@pytest.mark.parametrize("close", ["shutdown", "close"])
def test_truncated_monolithic_upload_stores_nothing(server, close):
    client = server.client
    repo = unique_repo()
    push_blob(client, repo, b"repository exists")
    data = os.urandom(20_000)
    digest = digest_of(data)
    response = raw_request(server, "POST", f"/v2/{repo}/blobs/uploads/?digest={digest}",
                           data[:10_000], declared=len(data), close=close,
                           headers={"content-type": "application/octet-stream"})
    assert client.get("/v2/").status_code == 200
    assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
    assert client.head(f"/v2/{repo}/blobs/{digest_of(data[:10_000])}").status_code == 404
    assert wait_for(lambda: uploads_of(server.root, repo) == []), uploads_of(server.root, repo)
    assert_storage_sane(server.root)
    # A client that half-closed still reads the answer: it must be a 4xx, not a 5xx.
    assert response.status is None or 400 <= response.status < 500, response


def test_truncated_patch_leaves_a_resumable_session(server):
    client = server.client
    repo = unique_repo()
    data = os.urandom(30_000)
    location = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
    assert client.patch(location, content=data[:10_000],
                        headers={"content-range": "0-9999"}).status_code == 202
    response = raw_request(server, "PATCH", location, data[10_000:15_000],
                           declared=10_000, close="shutdown",
                           headers={"content-range": "10000-19999"})

    def status_range() -> str:
        status = client.get(location)
        assert status.status_code == 204, status.text
        return str(status.headers["range"])

    wait_for(lambda: status_range() in ("0-9999", "0-14999"))
    received = int(status_range().split("-")[1]) + 1
    assert received in (10_000, 15_000)
    assert client.head(f"/v2/{repo}/blobs/{digest_of(data)}").status_code == 404
    resumed = client.patch(location, content=data[received:],
                           headers={"content-range": f"{received}-{len(data) - 1}"})
    assert resumed.status_code == 202, resumed.text
    done = client.put(location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    assert client.get(f"/v2/{repo}/blobs/{digest_of(data)}").content == data
    # A client that half-closed still reads the answer: it must be a 4xx, not a 5xx.
    assert response.status is None or 400 <= response.status < 500, response


def test_body_longer_than_content_range(server):
    client = server.client
    repo = unique_repo()
    location = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
    response = raw_request(server, "PATCH", location, b"x" * 200,
                           headers={"content-range": "0-99"})
    assert_raw_error(response, {(400, "SIZE_INVALID")})
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"


@pytest.mark.parametrize("content_range", ["abc", "0-", "-5", "5-1", "0-99999999999999999999",
                                           "0 - 3", "0-3-5", "١-٢"])
def test_malformed_content_range(server, content_range):
    client = server.client
    repo = unique_repo()
    location = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
    response = client.patch(location, content=b"abcd",
                            headers={"content-range": content_range.encode()})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["errors"][0]["code"] in (
        "BLOB_UPLOAD_INVALID", "RANGE_INVALID", "SIZE_INVALID")
    status = client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"


@pytest.mark.parametrize("value", ["-1", "abc", "1e3", "99999999999999999999999", "+4"])
def test_malformed_content_length(server, value):
    repo = unique_repo()
    location = server.client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
    response = raw_request(server, "PATCH", location, b"abcd", declared=value)
    assert response.status is not None and 400 <= response.status < 500, response
    status = server.client.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"


# Everything at once, on a server of its own


def test_barrage_leaves_no_trace(server_factory):
    running = server_factory()
    client = running.client
    repo = unique_repo()
    digest = push_image(client, repo, "good")
    blob = push_blob(client, repo, b"kept blob")
    statuses: list[tuple[int | None, str, str]] = []

    for name in BAD_NAMES:
        for method, target, body in name_requests(name):
            response = raw_request(running, method, target, body)
            statuses.append((response.status, method, target))
    for tag in BAD_TAGS:
        body = image_manifest(client, repo)
        response = client.put(httpx.URL(f"{running.url}/v2/{repo}/manifests/{tag}"),
                              content=body, headers={"content-type": OCI_MANIFEST})
        statuses.append((response.status_code, "PUT", tag))
    for bad in BAD_DIGESTS:
        data = os.urandom(100)
        location = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
        for method, url, body in [
            ("PUT", f"{location}?digest={bad}", data),
            ("POST", f"/v2/{repo}/blobs/uploads/?digest={bad}", data),
            ("PUT", f"/v2/{repo}/manifests/{bad}", image_manifest(client, repo)),
            ("GET", f"/v2/{repo}/blobs/{bad}", b""),
        ]:
            response = client.request(method, httpx.URL(f"{running.url}{url}"), content=body)
            statuses.append((response.status_code, method, url))
    for _ in range(3):
        data = os.urandom(5000)
        wrong = digest_of(data + b"!")
        location = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
        statuses.append((client.put(location, params={"digest": wrong}, content=data
                                    ).status_code, "PUT", "wrong digest"))
        statuses.append((client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": wrong},
                                     content=data).status_code, "POST", "wrong digest"))
        response = raw_request(running, "POST", f"/v2/{repo}/blobs/uploads/?digest="
                               f"{digest_of(data)}", data[:2000], declared=len(data),
                               close="shutdown")
        statuses.append((response.status, "POST", "truncated"))
        statuses.append((client.put(f"/v2/{repo}/manifests/bad", content=b"[" * 100_000,
                                    headers={"content-type": OCI_MANIFEST}).status_code,
                         "PUT", "deep"))

    assert client.get("/v2/").status_code == 200
    assert client.get(f"/v2/{repo}/tags/list").json() == {"name": repo, "tags": ["good"]}
    assert client.get("/v2/_catalog").json() == {"repositories": [repo]}
    assert client.get(f"/v2/{repo}/manifests/good", headers={"accept": ACCEPT_ALL}
                      ).headers["docker-content-digest"] == digest
    assert client.get(f"/v2/{repo}/blobs/{blob}").content == b"kept blob"
    wait_for(lambda: uploads_of(running.root, repo) == [])
    assert_storage_sane(running.root)
    assert [s for s in statuses if s[0] is not None and s[0] >= 500] == []
    assert all(s[0] is None or 400 <= s[0] < 500 for s in statuses), [
        s for s in statuses if s[0] is not None and not 400 <= s[0] < 500]


def test_shared_server_storage_is_sane(server):
    """Whatever ran before on the shared server left only complete blobs."""
    assert_storage_sane(server.root)


# Random garbage

SEGMENTS = ["v2", "..", ".", "%2e%2e", "%2f", "%2F", "a", "test", "blobs", "uploads",
            "manifests", "tags", "list", "referrers", "_catalog", "latest", "%00", "%0a",
            "%ff", "%C3%A9", "A", "-", "_", "__", ":", "@", "x" * 300, "sha256:",
            digest_of(b"fuzz"), "sha256:" + "A" * 64, str(uuid.UUID(int=0)), "%", "%%",
            "~", "*", "'", '"', "<script>", "?", "#", ";", "="]
QUERIES = ["", "?n=5", "?n=-1", "?n=99999999999999999999", "?last=%ff", "?digest=",
           f"?digest={digest_of(b'')}", "?digest=sha256:zz", "?mount=x&from=y",
           f"?mount={digest_of(b'fuzz')}&from=..%2f..", "?artifactType=%00", "?n=1e3&n=2",
           "?" + "a=" * 500]
HEADER_NAMES = ["range", "content-range", "content-type", "accept", "if-none-match",
                "transfer-encoding-ish", "x-custom"]
header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                       max_size=60).map(str.strip)
path_piece = st.one_of(st.sampled_from(SEGMENTS),
                       st.text(st.sampled_from("abcxyz019._-:%AZ~"), min_size=1, max_size=12))


@st.composite
def garbage_requests(draw):
    method = draw(st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE",
                                   "OPTIONS"]))
    pieces = draw(st.lists(path_piece, min_size=0, max_size=8))
    prefix = draw(st.sampled_from(["/v2/", "/v2/test/", "/v2//", "/", "/v2/" + "a/" * 3]))
    path = prefix + "/".join(pieces)
    query = draw(st.sampled_from(QUERIES))
    headers = draw(st.dictionaries(st.sampled_from(HEADER_NAMES), header_value, max_size=4))
    body = draw(st.one_of(
        st.binary(max_size=2048),
        st.sampled_from([b"", b"{}", b"[]", b"null", b'{"schemaVersion":2}',
                         json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                     "config": {}, "layers": [{}]}).encode(),
                         b'{"a":' * 5000])))
    return method, path + query, headers, body


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(request=garbage_requests())
def test_random_garbage_never_5xx(server, request):
    method, target, headers, body = request
    try:
        url = httpx.URL(server.url + target)
    except httpx.InvalidURL:
        return
    response = server.client.request(method, url, headers=headers, content=body)
    assert response.status_code < 500, (method, target, headers, response.text[:500])
    assert response.headers["docker-distribution-api-version"] == API_VERSION
    if response.status_code >= 400 and method != "HEAD":
        codes = [e["code"] for e in response.json()["errors"]]
        assert len(codes) == 1 and codes[0] in KNOWN_CODES, response.text
