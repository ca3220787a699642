"""``GET /v2/`` and the headers every response carries, errors and 404s included."""

import httpx
import pytest

from tests.pushing import ACCEPT_ALL, assert_error, digest_of, push_blob, push_image, unique_repo

API_VERSION = "registry/2.0"


def assert_common_headers(response: httpx.Response) -> None:
    assert response.headers.get("docker-distribution-api-version") == API_VERSION, \
        (response.request.method, response.request.url, dict(response.headers))
    assert response.headers.get_list("x-content-type-options") == ["nosniff"], \
        (response.request.method, response.request.url, dict(response.headers))




def test_base_answers_200_with_empty_object(server):
    response = server.client.get("/v2/")
    assert response.status_code == 200
    assert response.json() == {}
    assert response.content == b"{}"
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-length"] == "2"
    assert_common_headers(response)


def test_base_without_trailing_slash(server):
    response = server.client.get("/v2")
    assert response.status_code in (200, 301, 307, 308)
    assert_common_headers(response)
    if response.status_code == 200:
        assert response.json() == {}


def test_base_head_has_headers_and_no_body(server):
    response = server.client.head("/v2/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "2"
    assert_common_headers(response)


def test_successful_responses_carry_the_headers(server):
    client = server.client
    repo = unique_repo()
    digest = push_image(client, repo, "v1")
    blob = push_blob(client, repo, b"some blob")
    started = client.post(f"/v2/{repo}/blobs/uploads/")
    responses = [
        started,
        client.get(started.headers["location"]),
        client.patch(started.headers["location"], content=b"abc"),
        client.head(f"/v2/{repo}/blobs/{blob}"),
        client.get(f"/v2/{repo}/blobs/{blob}"),
        client.get(f"/v2/{repo}/manifests/v1", headers={"accept": ACCEPT_ALL}),
        client.head(f"/v2/{repo}/manifests/{digest}", headers={"accept": ACCEPT_ALL}),
        client.get(f"/v2/{repo}/tags/list"),
        client.get(f"/v2/{repo}/referrers/{digest}"),
        client.get("/v2/_catalog"),
        client.delete(started.headers["location"]),
    ]
    assert [r.status_code for r in responses] == [
        202, 204, 202, 200, 200, 200, 200, 200, 200, 200, 204]
    for response in responses:
        assert_common_headers(response)


@pytest.mark.parametrize("method,path,status,code", [
    ("GET", "/v2/{repo}/tags/list", 404, "NAME_UNKNOWN"),
    ("GET", "/v2/{repo}/manifests/latest", 404, "NAME_UNKNOWN"),
    ("HEAD", "/v2/{repo}/blobs/{digest}", 404, None),
    ("GET", "/v2/{repo}/blobs/{digest}", 404, "BLOB_UNKNOWN"),
    ("GET", "/v2/{repo}/blobs/sha256:nothex", 400, "DIGEST_INVALID"),
    ("GET", "/v2/UPPER/tags/list", 400, "NAME_INVALID"),
    ("GET", "/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000", 404,
     "BLOB_UPLOAD_UNKNOWN"),
    ("GET", "/v2/_catalog?n=abc", 400, "PAGINATION_NUMBER_INVALID"),
    ("GET", "/v2/{repo}/nothing-here", 404, None),
    ("GET", "/", 200, None),
    ("GET", "/not-v2", 404, None),
    ("GET", "/v2x", 404, None),
])
def test_every_answer_carries_the_headers(server, method, path, status, code):
    target = path.format(repo=unique_repo(), digest=digest_of(b"never pushed"))
    response = server.client.request(method, target)
    assert response.status_code == status, response.text
    assert_common_headers(response)
    if code is not None:
        assert_error(response, status, code)
    elif status >= 400 and method != "HEAD":
        # Even unrouted paths answer with the error envelope.
        assert response.json()["errors"][0]["code"]


def test_head_error_has_no_body(server):
    response = server.client.head(f"/v2/{unique_repo()}/manifests/latest")
    assert response.status_code == 404
    assert response.content == b""
    assert_common_headers(response)


def test_method_not_allowed_is_unsupported(server):
    repo = unique_repo()
    for method, path in [("POST", f"/v2/{repo}/manifests/latest"),
                         ("PATCH", f"/v2/{repo}/tags/list"),
                         ("PUT", f"/v2/{repo}/blobs/{digest_of(b'x')}"),
                         ("DELETE", "/v2/_catalog")]:
        response = server.client.request(method, path)
        assert_error(response, 405, "UNSUPPORTED")
        assert_common_headers(response)


def test_configured_headers_are_added(server_factory):
    running = server_factory({"http.headers": {
        "X-Content-Type-Options": ["nosniff"],
        "X-Frame-Options": ["DENY"],
        "X-Multi": ["one", "two"]}})
    for response in (running.client.get("/v2/"),
                     running.client.get(f"/v2/{unique_repo()}/tags/list")):
        assert response.headers["docker-distribution-api-version"] == API_VERSION
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers.get_list("x-multi", split_commas=True) == ["one", "two"]
