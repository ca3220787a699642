"""Auth through a real ``dockyard serve``: challenges, error envelopes, push/pull, mounts."""

from __future__ import annotations

import base64
import re
import stat

import bcrypt
import httpx
import pytest

from tests.auth.tokens import ISSUER, SERVICE, Issuer, access, write_bundle
from tests.conftest import RunningServer
from tests.pushing import ACCEPT_ALL, assert_error, digest_of, push_blob, push_image, unique_repo

TOKEN_REALM = "http://127.0.0.1:9/token"


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def client_with(server: RunningServer, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, headers=headers)


# ------------------------------------------------------------------------- htpasswd


@pytest.fixture
def htpasswd_server(tmp_path, auth_server_factory) -> RunningServer:
    path = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
    path.write_text(f"# registry users\nalice:{hashed}\n")
    return auth_server_factory({"auth": {"htpasswd": {"realm": "basic-realm",
                                                      "path": str(path)}}})


def assert_basic_challenge(response: httpx.Response) -> None:
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers.get_list("www-authenticate") == ['Basic realm="basic-realm"']


def test_htpasswd_base_without_credentials(htpasswd_server):
    assert_basic_challenge(htpasswd_server.client.get("/v2/"))


@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("mallory", "s3cret"),
                                                ("alice", "")])
def test_htpasswd_wrong_credentials(htpasswd_server, user, password):
    assert_basic_challenge(htpasswd_server.client.get("/v2/", headers=basic(user, password)))


def test_htpasswd_right_password(htpasswd_server):
    response = htpasswd_server.client.get("/v2/", headers=basic("alice", "s3cret"))
    assert response.status_code == 200
    assert response.json() == {}


def test_htpasswd_push_and_pull(htpasswd_server):
    repo = unique_repo("team")
    with client_with(htpasswd_server, basic("alice", "s3cret")) as client:
        digest = push_image(client, repo, "v1")
        got = client.get(f"/v2/{repo}/manifests/v1", headers={"accept": ACCEPT_ALL})
        assert got.status_code == 200
        assert digest_of(got.content) == digest
        catalog = client.get("/v2/_catalog")
        assert catalog.status_code == 200 and repo in catalog.json()["repositories"]
    anonymous = htpasswd_server.client
    assert_basic_challenge(anonymous.get(f"/v2/{repo}/manifests/v1"))
    assert_basic_challenge(anonymous.get("/v2/_catalog"))
    assert_basic_challenge(anonymous.post(f"/v2/{repo}/blobs/uploads/"))
    assert_basic_challenge(anonymous.get("/v2"))


def test_htpasswd_detail_lists_the_needed_access(htpasswd_server):
    response = htpasswd_server.client.post("/v2/team/app/blobs/uploads/")
    assert_basic_challenge(response)
    assert response.json()["errors"][0]["detail"] == [
        {"Type": "repository", "Name": "team/app", "Action": "pull"},
        {"Type": "repository", "Name": "team/app", "Action": "push"}]


def test_htpasswd_user_added_while_running(tmp_path, htpasswd_server):
    path = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"bob-pw", bcrypt.gensalt(4)).decode()
    path.write_text(path.read_text() + f"bob:{hashed}\n")
    assert htpasswd_server.client.get("/v2/", headers=basic("bob", "bob-pw")).status_code == 200
    path.write_text(f"bob:{hashed}\n")
    assert_basic_challenge(htpasswd_server.client.get("/v2/", headers=basic("alice", "s3cret")))


def test_htpasswd_missing_file_is_provisioned(tmp_path, auth_server_factory):
    path = tmp_path / "auth" / "htpasswd"
    server = auth_server_factory({"auth": {"htpasswd": {"realm": "basic-realm",
                                                        "path": str(path)}}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    log = server.log()
    assert "htpasswd is missing, provisioning with default user" in log
    match = re.search(r'password="([A-Za-z0-9_-]{43})"', log)
    assert match, log
    assert server.client.get("/v2/", headers=basic("docker", match.group(1))).status_code == 200
    assert_basic_challenge(server.client.get("/v2/", headers=basic("docker", "guess")))


def test_bad_auth_config_stops_the_server(tmp_path):
    from tests.auth.conftest import start_auth_server

    with pytest.raises(RuntimeError) as failed:
        start_auth_server(tmp_path, {"auth": {"token": {
            "realm": TOKEN_REALM, "service": SERVICE, "issuer": ISSUER,
            "rootcertbundle": str(tmp_path / "missing.pem")}}})
    assert "auth.token.rootcertbundle" in str(failed.value)


# ---------------------------------------------------------------------------- token


@pytest.fixture(scope="module")
def signer() -> Issuer:
    return Issuer.new("server-token-signer")


@pytest.fixture
def token_server(tmp_path, auth_server_factory, signer) -> RunningServer:
    bundle = write_bundle(tmp_path / "bundle.pem", signer)
    return auth_server_factory({"auth": {"token": {
        "realm": TOKEN_REALM, "service": SERVICE, "issuer": ISSUER,
        "rootcertbundle": str(bundle)}}})


def challenge(response: httpx.Response) -> str:
    assert_error(response, 401, "UNAUTHORIZED")
    values = response.headers.get_list("www-authenticate")
    assert len(values) == 1, values
    return values[0]


def test_token_challenges(token_server):
    client = token_server.client
    base = f'Bearer realm="{TOKEN_REALM}",service="{SERVICE}"'
    assert challenge(client.get("/v2/")) == base
    assert challenge(client.post("/v2/team/app/blobs/uploads/")) == \
        base + ',scope="repository:team/app:pull,push"'
    assert challenge(client.get("/v2/team/app/manifests/latest")) == \
        base + ',scope="repository:team/app:pull"'
    assert challenge(client.delete(f"/v2/team/app/manifests/{digest_of(b'x')}")) == \
        base + ',scope="repository:team/app:delete"'
    assert challenge(client.get("/v2/_catalog")) == base + ',scope="registry:catalog:*"'


def test_invalid_token(token_server):
    for token in ("garbage", Issuer.new("stranger").token(
            access_=[access("repository", "team/app", "pull", "push")])):
        response = token_server.client.get("/v2/team/app/tags/list", headers=bearer(token))
        assert challenge(response).endswith(
            ',scope="repository:team/app:pull",error="invalid_token"')


def test_pull_only_token_cannot_push(token_server, signer):
    token = signer.token(access_=[access("repository", "team/app", "pull")])
    with client_with(token_server, bearer(token)) as client:
        assert client.get("/v2/").status_code == 200
        response = client.post("/v2/team/app/blobs/uploads/")
        assert challenge(response) == (
            f'Bearer realm="{TOKEN_REALM}",service="{SERVICE}",'
            'scope="repository:team/app:pull,push",error="insufficient_scope"')
        assert response.json()["errors"][0]["detail"] == [
            {"Type": "repository", "Name": "team/app", "Action": "pull"},
            {"Type": "repository", "Name": "team/app", "Action": "push"}]
        assert challenge(client.get("/v2/_catalog")).endswith('error="insufficient_scope"')


def test_token_push_and_pull(token_server, signer):
    repo = unique_repo("team")
    token = signer.token(access_=[access("repository", repo, "pull", "push")])
    with client_with(token_server, bearer(token)) as client:
        digest = push_image(client, repo, "v1")
        got = client.get(f"/v2/{repo}/manifests/v1", headers={"accept": ACCEPT_ALL})
        assert got.status_code == 200 and digest_of(got.content) == digest
        other = client.get(f"/v2/{unique_repo('team')}/tags/list")
        assert challenge(other).endswith('error="insufficient_scope"')
        deleted = client.delete(f"/v2/{repo}/manifests/{digest}")
        assert challenge(deleted).endswith('error="insufficient_scope"')


def test_mount_needs_pull_on_the_source(token_server, signer):
    source, target = unique_repo("team"), unique_repo("team")
    with client_with(token_server, bearer(signer.token(
            access_=[access("repository", source, "pull", "push")]))) as client:
        digest = push_blob(client, source, b"layer bytes to mount")

    push_only = signer.token(access_=[access("repository", target, "pull", "push")])
    with client_with(token_server, bearer(push_only)) as client:
        response = client.post(f"/v2/{target}/blobs/uploads/",
                               params={"mount": digest, "from": source})
        assert response.status_code == 202, response.text
        assert client.head(f"/v2/{target}/blobs/{digest}").status_code == 404

    both = signer.token(access_=[access("repository", target, "pull", "push"),
                                 access("repository", source, "pull")])
    with client_with(token_server, bearer(both)) as client:
        response = client.post(f"/v2/{target}/blobs/uploads/",
                               params={"mount": digest, "from": source})
        assert response.status_code == 201, response.text
        assert client.head(f"/v2/{target}/blobs/{digest}").status_code == 200


# ---------------------------------------------------------------------------- silly


def test_silly(auth_server_factory):
    server = auth_server_factory({"auth": {"silly": {"realm": "https://auth.test/token",
                                                     "service": "reg"}}})
    response = server.client.get("/v2/_catalog")
    assert challenge(response) == \
        'Bearer realm="https://auth.test/token",service="reg",scope="registry:catalog:*"'
    assert server.client.get("/v2/", headers={"authorization": "whatever"}).status_code == 200


def test_path_variants_never_serve_data_anonymously(htpasswd_server):
    repo = unique_repo("team")
    with client_with(htpasswd_server, basic("alice", "s3cret")) as client:
        push_image(client, repo, "v1")
    for path in (f"/v2/{repo}/tags/list", f"/v2//{repo}/tags/list", f"/v2/{repo}/tags/list/",
                 "/v2/_catalog?n=1", "/v2/_catalog/", "//v2/_catalog", "/v2/%5Fcatalog"):
        response = htpasswd_server.client.get(path)
        assert response.status_code in (401, 400, 404), (path, response.status_code)
        if response.status_code != 401:
            assert "repositories" not in response.text and "v1" not in response.text

