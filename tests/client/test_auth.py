"""Logins and the auth dance against an authenticating Dockyard: htpasswd, token, TLS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from dockyard.client import ClientOptions, RegistryClient
from tests.client.content import push_image
from tests.client.doubles import TokenService
from tests.conftest import RunningServer, start_server
from tests.pushing import unique_repo

USER, PASSWORD = "client-user", "s3cret-Pa55"


@pytest.fixture(scope="module")
def htpasswd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("client-htpasswd")
    path = workdir / "htpasswd"
    path.write_text(f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()}\n")
    server = start_server(workdir, {"auth": {"htpasswd": {"realm": "client", "path": str(path)}}})
    server.client.auth = (USER, PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token_service() -> Iterator[TokenService]:
    with TokenService(USER, PASSWORD) as service:
        yield service


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory,
                 token_service: TokenService) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("client-token")
    bundle = workdir / "bundle.pem"
    bundle.write_bytes(token_service.signer.pem())
    server = start_server(workdir, {"auth": {"token": {
        "realm": token_service.realm, "service": token_service.service,
        "issuer": token_service.issuer_name, "rootcertbundle": str(bundle)}}})
    yield server
    server.stop()


def test_login_with_the_right_and_a_wrong_password(cli, htpasswd_server, private_home):
    host = htpasswd_server.host
    saved = private_home / ".config" / "dockyard" / "auth.json"
    wrong = cli("login", host, "-u", USER, "-p", "nope")
    assert wrong.exit_code == 1 and not saved.exists()
    assert wrong.stderr == f"login {host}: registry refused: UNAUTHORIZED " \
        "invalid username or password\n"
    right = cli("login", host, "-u", USER, "--password-stdin", input=PASSWORD + "\n")
    assert right.exit_code == 0, right.output
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    entry = json.loads(saved.read_text())["auths"][host]["auth"]
    assert base64.b64decode(entry).decode() == f"{USER}:{PASSWORD}"


def test_stored_credentials_are_used_until_logout(cli, htpasswd_server):
    repo = unique_repo("auth")
    push_image(htpasswd_server.client, repo, "v1", layer_sizes=(10,))
    ref = f"{htpasswd_server.host}/{repo}"
    anonymous = cli("tags", ref)
    assert anonymous.exit_code == 1
    assert anonymous.stderr.startswith(f"tags {ref}: registry refused: UNAUTHORIZED")
    assert cli("login", htpasswd_server.host, "-u", USER, "-p", PASSWORD).exit_code == 0
    listed = cli("tags", ref, "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout)["tags"] == ["v1"]
    assert cli("logout", htpasswd_server.host).exit_code == 0
    assert cli("tags", ref).exit_code == 1
    assert cli("logout", htpasswd_server.host).exit_code == 1  # nothing left to forget
    explicit = cli("tags", ref, "--creds", f"{USER}:{PASSWORD}")
    assert explicit.exit_code == 0 and "v1" in explicit.stdout


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("where", ["docker", "podman", "registry_auth_file"])
def test_credentials_from_docker_and_podman_files(cli, htpasswd_server, private_home,
                                                  monkeypatch, where):
    repo = unique_repo("files")
    push_image(htpasswd_server.client, repo, "v1", layer_sizes=(10,))
    document = {"auths": {htpasswd_server.host: {"auth": basic(USER, PASSWORD)}}}
    if where == "docker":
        path = private_home / ".docker" / "config.json"
    elif where == "podman":
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(private_home / "run"))
        path = private_home / "run" / "containers" / "auth.json"
        document = {"auths": {htpasswd_server.host: {"username": USER, "password": PASSWORD}}}
    else:
        path = private_home / "elsewhere.json"
        monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    result = cli("tags", f"{htpasswd_server.host}/{repo}", "--json")
    assert result.exit_code == 0, result.output
    other = private_home / "other.json"
    other.write_text(json.dumps({"auths": {}}))
    assert cli("tags", f"{htpasswd_server.host}/{repo}", "--authfile", other).exit_code == 1


def credential_helper(directory: Path, name: str, answers: dict[str, dict[str, str]]) -> Path:
    """A ``docker-credential-<name>`` program (a stand-in for a keyring) on a private PATH;
    it records each registry it was asked about."""
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / f"docker-credential-{name}"
    program.write_text(f"""#!{sys.executable}
import json, sys
asked = sys.stdin.read().strip()
with open({str(directory / "asked")!r}, "a") as log:
    log.write(sys.argv[1] + " " + asked + "\\n")
answers = {json.dumps(answers)}
if asked not in answers:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps(answers[asked]))
""")
    program.chmod(0o755)
    return directory / "asked"


@pytest.mark.parametrize("style", ["credHelpers", "credsStore"])
def test_credentials_from_a_docker_credential_helper(cli, htpasswd_server, private_home,
                                                     monkeypatch, style):
    host = htpasswd_server.host
    repo = unique_repo("helper")
    push_image(htpasswd_server.client, repo, "v1", layer_sizes=(10,))
    bin_dir = private_home / "bin"
    asked = credential_helper(bin_dir, "fake", {host: {"ServerURL": host, "Username": USER,
                                                       "Secret": PASSWORD}})
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = {"credHelpers": {host: "fake"}} if style == "credHelpers" else \
        {"credsStore": "fake"}
    docker = private_home / ".docker" / "config.json"
    docker.parent.mkdir()
    docker.write_text(json.dumps(config))
    result = cli("tags", f"{host}/{repo}", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tags"] == ["v1"]
    assert asked.read_text().splitlines() == [f"get {host}"]
    docker.write_text(json.dumps({"credsStore": "fake",
                                  "credHelpers": {host: "absent-helper"}}))
    assert cli("tags", f"{host}/{repo}").exit_code == 1  # the named helper wins, and is absent


def test_token_dance_caches_one_token_per_scope(token_server, token_service):
    repo = unique_repo("token")
    options = ClientOptions(username=USER, password=PASSWORD)

    async def work() -> tuple[list[int], list[str]]:
        counts = []
        async with RegistryClient(token_server.host, options=options) as client:
            config = b'{"architecture":"amd64","os":"linux"}'
            digest = "sha256:" + hashlib.sha256(config).hexdigest()

            async def body():
                yield config

            await client.upload_blob(repo, digest, len(config), body())
            counts.append(client.token_requests)  # push scope
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": digest, "size": len(config)}, "layers": []}).encode()
            for tag in ("v1", "v2", "v3"):
                await client.put_manifest(repo, tag, manifest,
                                          "application/vnd.oci.image.manifest.v1+json")
            counts.append(client.token_requests)  # same scope: cached
            for _ in range(3):
                await client.get_manifest(repo, "v1")
            tags = [t async for t in client.tags(repo)]
            counts.append(client.token_requests)  # pull scope: one more
            return counts, tags

    token_service.requests.clear()
    counts, tags = asyncio.run(work())
    assert tags == ["v1", "v2", "v3"]
    assert counts == [1, 1, 2], token_service.requests
    assert [q.get("scope") for q in token_service.requests] == [
        [f"repository:{repo}:pull,push"], [f"repository:{repo}:pull"]]


def test_an_expiring_token_is_renewed(token_server, token_service):
    repo = unique_repo("renew")
    options = ClientOptions(username=USER, password=PASSWORD)

    async def work() -> int:
        async with RegistryClient(token_server.host, options=options) as client:
            assert await client.head_manifest(repo, "v1") is None
            await asyncio.sleep(1.2)  # past the 1 s lifetime: the cached token is stale
            assert await client.head_manifest(repo, "v1") is None
            return client.token_requests

    token_service.lifetime = 1
    try:
        assert asyncio.run(work()) == 2
    finally:
        token_service.lifetime = 300


def test_token_login_and_refusals(cli, token_server, token_service):
    host = token_server.host
    wrong = cli("login", host, "-u", USER, "-p", "wrong")
    assert wrong.exit_code == 1
    assert wrong.stderr == (f"login {host}: registry refused: UNAUTHORIZED token service "
                            "refused the credentials\n")
    assert cli("login", host, "-u", USER, "-p", PASSWORD).exit_code == 0
    repo = unique_repo("token")
    listed = cli("tags", f"{host}/{repo}")  # a token, then the registry's own answer
    assert listed.exit_code == 1 and "NAME_UNKNOWN" in listed.stderr
    token_service.requests.clear()
    catalog = cli("repos", host, "--json")
    assert catalog.exit_code == 0, catalog.output
    assert [q.get("scope") for q in token_service.requests] == [["registry:catalog:*"]]
    cli("logout", host)
    anonymous = cli("tags", f"{host}/{repo}")
    assert anonymous.exit_code == 1
    assert anonymous.stderr.startswith(f"tags {host}/{repo}: registry refused: UNAUTHORIZED "
                                       "authentication required")


def test_a_scope_the_token_service_does_not_grant_fails_after_one_retry(
        cli, token_server, token_service):
    ref = f"{token_server.host}/secret/app"
    token_service.requests.clear()
    refused = cli("tags", ref, "--creds", f"{USER}:{PASSWORD}")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith(f"tags {ref}: registry refused: UNAUTHORIZED")
    assert [q.get("scope") for q in token_service.requests] == [
        ["repository:secret/app:pull"]] * 2  # the token, then one fresh try; no loop


def openssl_self_signed(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "domain.key", directory / "domain.crt"
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256",
                    "-keyout", key, "-x509", "-days", "2", "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def test_tls_with_a_custom_ca_or_without_verification(cli, server_factory, tmp_path):
    cert, key = openssl_self_signed(tmp_path / "certs")
    server = server_factory({"http.tls": {"certificate": str(cert), "key": str(key)}},
                            scheme="https",
                            verify=ssl.create_default_context(cafile=str(cert)))
    repo = unique_repo("tls")
    push_image(server.client, repo, "v1", layer_sizes=(10,))
    ref = f"{server.host}/{repo}"
    untrusted = cli("tags", ref)
    assert untrusted.exit_code == 1
    assert untrusted.stderr.startswith(f"tags {ref}: TLS certificate of {server.host} not "
                                       "trusted")
    trusted = cli("tags", ref, "--ca-file", str(cert), "--json")
    assert trusted.exit_code == 0 and json.loads(trusted.stdout)["tags"] == ["v1"]
    unverified = cli("tags", ref, "--tls-verify=false", "--json")
    assert unverified.exit_code == 0 and json.loads(unverified.stdout)["tags"] == ["v1"]
    assert os.path.exists(cert)


def test_copy_and_sync_from_a_tls_registry(cli, server_factory, tmp_path):
    """copy trusts a private CA with --ca-file; sync reaches it with --src-tls-verify=false;
    without either the certificate is refused and nothing is copied."""
    cert, key = openssl_self_signed(tmp_path / "certs")
    source = server_factory({"http.tls": {"certificate": str(cert), "key": str(key)}},
                            scheme="https",
                            verify=ssl.create_default_context(cafile=str(cert)))
    destination = server_factory()
    repo = unique_repo("tlscopy")
    push_image(source.client, repo, "v1", layer_sizes=(10, 2000))
    push_image(source.client, repo, "v2", layer_sizes=(30,))
    src, dst = f"{source.host}/{repo}", f"{destination.host}/{repo}"

    refused = cli("copy", f"{src}:v1", f"{dst}:v1")
    assert refused.exit_code == 1 and "not trusted" in refused.stderr
    assert destination.client.head(f"/v2/{repo}/manifests/v1").status_code == 404

    assert cli("copy", f"{src}:v1", f"{dst}:v1", "--ca-file", str(cert)).exit_code == 0
    synced = cli("sync", source.host, destination.host, "--repo", repo,
                 "--src-tls-verify=false", "--json")
    assert synced.exit_code == 0, synced.stderr
    for tag in ("v1", "v2"):
        digests = {server.client.head(f"/v2/{repo}/manifests/{tag}", headers={
            "accept": "application/vnd.oci.image.manifest.v1+json"}
        ).headers.get("docker-content-digest") for server in (source, destination)}
        assert len(digests) == 1 and None not in digests, (tag, digests)
