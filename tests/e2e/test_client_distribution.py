"""The registry client against Debian's Distribution 2.8 (the reference peer).

Distribution has no referrers API (inspect falls back to the ``sha256-<hex>`` tag) and no
tag delete (``rm`` says so and names the digest delete); everything else behaves as on
Dockyard: paginated listings, verified manifests, retag, resumable uploads, mounts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator

import bcrypt
import httpx
import pytest
import yaml
from tests.client.content import (
    SBOM_TYPE,
    SIGNATURE_TYPE,
    push_blob,
    push_image,
    push_index,
    push_referrer,
)
from tests.client.doubles import FaultProxy, byte_source
from tests.e2e.conftest import RegistryServer, _free_port, _server_command, _server_env, _stop
from typer.testing import CliRunner

from dockyard.cli import app
from dockyard.client import ClientOptions, RegistryClient

KiB = 1024
USER, PASSWORD = "dist-user", "dist-Pa55word"


@pytest.fixture(scope="module")
def secured_distribution(tmp_path_factory) -> Iterator[RegistryServer]:
    """Distribution with TLS (a self-signed certificate) and htpasswd logins."""
    workdir = tmp_path_factory.mktemp("distribution-secured")
    cert, key = workdir / "domain.crt", workdir / "domain.key"
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-x509",
                    "-days", "2", "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    htpasswd = workdir / "htpasswd"
    htpasswd.write_text(f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()}\n")
    port = _free_port()
    config = {"version": 0.1, "log": {"level": "info"},
              "storage": {"filesystem": {"rootdirectory": str(workdir / "data")},
                          "delete": {"enabled": True}},
              "auth": {"htpasswd": {"realm": "dist", "path": str(htpasswd)}},
              "http": {"addr": f"127.0.0.1:{port}",
                       "tls": {"certificate": str(cert), "key": str(key)}}}
    (workdir / "config.yml").write_text(yaml.safe_dump(config))
    server = RegistryServer("distribution", f"127.0.0.1:{port}", workdir, workdir / "log")
    with server.log_path.open("wb") as log:
        server.process = subprocess.Popen(
            _server_command("distribution", workdir / "config.yml"), cwd=workdir,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=_server_env(),
            start_new_session=True)
    server.cert = cert  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"https://{server.host}/v2/", verify=False, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield server
    finally:
        _stop(server)


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)


def cli(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def http(distribution):
    with httpx.Client(base_url=distribution.url, timeout=30) as client:
        yield client


def test_listings_page_through_distribution(distribution, http):
    repos = [f"client/list{i}" for i in range(3)]
    for repo in repos:
        push_image(http, repo, "v1", layer_sizes=(10,))
    for tag in ("v1.2", "v1.10", "v1.9"):
        image = push_image(http, repos[0], tag, layer_sizes=(10,))
    with FaultProxy(distribution.host) as proxy:
        listed = cli("repos", proxy.host, "-n", "1", "--json")
        assert listed.exit_code == 0, listed.output
        assert set(repos) <= set(json.loads(listed.stdout))
        assert len(proxy.requests("GET", "/v2/_catalog")) >= 3
        tags = cli("tags", f"{proxy.host}/{repos[0]}", "-n", "2", "--semver", "--json")
        assert json.loads(tags.stdout)["tags"] == ["v1", "v1.2", "v1.9", "v1.10"]
        # Distribution 2.8 ignores n on tags/list and answers every tag, unsorted, at once.
        assert len(proxy.requests("GET", "/tags/list")) == 1
    raw = cli("manifest", f"{distribution.host}/{repos[0]}:v1.9")
    assert raw.exit_code == 0 and raw.stdout_bytes == image.body


def test_inspect_finds_referrers_through_the_fallback_tag(distribution, http):
    repo = "client/inspect"
    index, (amd64, arm64) = push_index(http, repo, "v1")
    signature = push_referrer(http, repo, index, SIGNATURE_TYPE, b"sig", fallback_tag=True)
    sbom = push_referrer(http, repo, amd64, SBOM_TYPE, b"{}", fallback_tag=True)
    result = cli("inspect", f"{distribution.host}/{repo}:v1", "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["digest"] == index.digest
    assert [m["digest"] for m in view["manifests"]] == [amd64.digest, arm64.digest]
    assert [(i["platform"], i["config"]["architecture"]) for i in view["images"]] == [
        ("linux/amd64", "amd64"), ("linux/arm64/v8", "arm64")]
    assert [(r["digest"], r["kind"]) for r in view["referrers"]] == [
        (signature.digest, "signature")]
    assert [(r["digest"], r["kind"]) for r in view["images"][0]["referrers"]] == [
        (sbom.digest, "sbom")]
    assert view["images"][1]["referrers"] == []


def test_tag_and_rm_on_distribution(distribution, http):
    repo = "client/retag"
    image = push_image(http, repo, "build-1", layer_sizes=(10,))
    ref = f"{distribution.host}/{repo}"
    assert cli("tag", f"{ref}:build-1", "v1", "prod").exit_code == 0
    for tag in ("v1", "prod"):
        assert json.loads(cli("manifest", f"{ref}:{tag}", "--json").stdout)["digest"] == \
            image.digest
    refused = cli("rm", f"{ref}:prod")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith(f"rm {ref}:prod: registry does not support deleting a "
                                     "tag (HTTP 400 ")
    assert f"`dockyard rm {ref}@{image.digest}` deletes the manifest" in refused.stderr
    deleted = cli("rm", f"{ref}@{image.digest}")
    assert deleted.exit_code == 0, deleted.output
    assert cli("manifest", f"{ref}:v1").exit_code == 1


def test_resumable_upload_and_mount_on_distribution(distribution):
    data = os.urandom(600 * KiB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    opened: list[int] = []
    open_from = byte_source(data, opened, 32 * KiB)
    options = ClientOptions(chunk_size=200 * KiB, monolithic_limit=0, backoff=0.01)

    async def work(host: str) -> tuple[int | None, bool, int | None]:
        async with RegistryClient(host, options=options) as client:
            await client.upload_blob_resumable("client/upload", digest, len(data), open_from)
            mounted = await client.mount_blob("client/mounted", digest, "client/upload")
            return (await client.blob_size("client/upload", digest), mounted,
                    await client.blob_size("client/mounted", digest))

    with FaultProxy(distribution.host) as proxy:
        proxy.faults.drop_patch = (200 * KiB, 50 * KiB)
        assert asyncio.run(work(proxy.host)) == (len(data), True, len(data))
        patches = proxy.requests("PATCH")
        sessions = proxy.requests("POST", "/client/upload/blobs/uploads/")
    assert patches[1].status == 0 and patches[1].content_range.startswith(f"{200 * KiB}-")
    # Distribution signs the offset into the Location (_state): once part of the broken
    # chunk reached its disk, the session is invalid and the client starts a new one.
    assert len(sessions) == 2 and opened == [0, 0]
    assert patches[2].content_range == f"0-{200 * KiB - 1}"
    blob = httpx.get(f"{distribution.url}/v2/client/mounted/blobs/{digest}")
    assert blob.content == data


def test_login_and_verbs_over_tls_with_htpasswd(secured_distribution, tmp_path):
    host, cert = secured_distribution.host, str(secured_distribution.cert)
    wrong = cli("login", host, "-u", USER, "-p", "wrong", "--ca-file", cert)
    assert wrong.exit_code == 1 and wrong.stderr.startswith(
        f"login {host}: registry refused: UNAUTHORIZED")
    untrusted = cli("login", host, "-u", USER, "-p", PASSWORD)
    assert untrusted.exit_code == 1 and "not trusted" in untrusted.stderr
    assert cli("login", host, "-u", USER, "-p", PASSWORD, "--ca-file", cert).exit_code == 0
    with httpx.Client(base_url=f"https://{host}", auth=(USER, PASSWORD),
                      verify=ssl.create_default_context(cafile=cert)) as http:
        image = push_image(http, "client/secure", "v1", layer_sizes=(10,))
    ref = f"{host}/client/secure"
    assert cli("tag", f"{ref}:v1", "v2", "--ca-file", cert).exit_code == 0
    listed = cli("tags", ref, "--ca-file", cert, "--json")
    assert json.loads(listed.stdout)["tags"] == ["v1", "v2"]
    inspected = json.loads(cli("inspect", f"{ref}:v2", "--tls-verify=false", "--json").stdout)
    assert inspected["digest"] == image.digest and inspected["referrers"] == []
    anonymous = cli("tags", ref, "--ca-file", cert, "--authfile", tmp_path / "none.json")
    assert anonymous.exit_code == 1 and "UNAUTHORIZED" in anonymous.stderr


def test_a_download_cut_mid_stream_resumes_on_distribution(distribution, http):
    data = os.urandom(2 * 1024 * KiB)
    digest = push_blob(http, "client/cut", data)

    async def read(host: str) -> bytes:
        async with RegistryClient(host, options=ClientOptions(backoff=0.01)) as client, \
                client.blob_stream("client/cut", digest) as chunks:
            return b"".join([chunk async for chunk in chunks])

    with FaultProxy(distribution.host) as proxy:
        proxy.faults.cut_response = (lambda method, path: "/blobs/sha256:" in path, 700 * KiB)
        assert asyncio.run(read(proxy.host)) == data
        ranges = [g.range for g in proxy.requests("GET", "/blobs/sha256:")]
    assert ranges == [None, f"bytes={700 * KiB}-"]
