"""registry:2 recipes: persistent storage across restarts, read-only mode, env overrides."""

import sys
from collections.abc import Callable

from tests.conftest import RunningServer
from tests.pushing import ACCEPT_ALL, assert_error, digest_of, push_blob, push_image


def test_storage_survives_a_restart(server_factory: Callable[..., RunningServer]) -> None:
    first = server_factory()
    digest = push_image(first.client, "keep/app", "v1")
    first.stop()
    second = server_factory({"storage.filesystem.rootdirectory": str(first.root)})
    response = second.client.get("/v2/keep/app/manifests/v1", headers={"accept": ACCEPT_ALL})
    assert response.status_code == 200
    assert digest_of(response.content) == digest
    assert second.client.get("/v2/keep/app/tags/list").json()["tags"] == ["v1"]


def test_read_only_mode_serves_reads_and_refuses_writes(
        server_factory: Callable[..., RunningServer]) -> None:
    writable = server_factory()
    digest = push_image(writable.client, "ro/app", "v1")
    blob = push_blob(writable.client, "ro/app", b"layer")
    writable.stop()
    server = server_factory({"storage.filesystem.rootdirectory": str(writable.root),
                             "storage.maintenance.readonly.enabled": True})
    client = server.client
    assert client.get("/v2/ro/app/manifests/v1", headers={"accept": ACCEPT_ALL}
                      ).status_code == 200
    assert client.get(f"/v2/ro/app/blobs/{blob}").content == b"layer"
    assert client.get("/v2/ro/app/tags/list").json()["tags"] == ["v1"]
    assert client.get("/v2/_catalog").json()["repositories"] == ["ro/app"]
    refused = [
        client.post("/v2/ro/app/blobs/uploads/"),
        client.post("/v2/ro/app/blobs/uploads/", params={"digest": digest_of(b"x")},
                    content=b"x"),
        client.put("/v2/ro/app/manifests/v2", content=b"{}"),
        client.delete(f"/v2/ro/app/manifests/{digest}"),
        client.delete("/v2/ro/app/manifests/v1"),
        client.delete(f"/v2/ro/app/blobs/{blob}"),
        client.patch("/v2/ro/app/blobs/uploads/00000000-0000-4000-8000-000000000000",
                     content=b"x"),
    ]
    for response in refused:
        assert_error(response, 405, "UNSUPPORTED")
    assert client.get("/v2/ro/app/tags/list").json()["tags"] == ["v1"]


def test_registry_docs_overrides(server_factory: Callable[..., RunningServer], tmp_path) -> None:
    root = tmp_path / "elsewhere"
    server = server_factory(env={
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(root),
        "REGISTRY_STORAGE_DELETE_ENABLED": "true",
        "REGISTRY_HTTP_SECRET": "a-shared-secret",
        "REGISTRY_LOG_LEVEL": "debug",
        "REGISTRY_PROXY_REMOTEURL": "https://registry-1.docker.io",
    })
    digest = push_blob(server.client, "env/app", b"data")
    assert (root / "docker/registry/v2/blobs/sha256" / digest[7:9] / digest[7:] / "data"
            ).read_bytes() == b"data"
    assert server.client.delete(f"/v2/env/app/blobs/{digest}").status_code == 202
    # Keys Dockyard does not support are named at start, not silently dropped.
    assert "proxy" in server.log()


def test_unix_socket_listener(tmp_path) -> None:
    import os
    import subprocess
    import sys
    import time

    import httpx

    socket_path = tmp_path / "registry.sock"
    config = tmp_path / "config.yml"
    config.write_text(f"version: 0.1\nhttp:\n  net: unix\n  addr: {socket_path}\n"
                      f"storage:\n  filesystem:\n    rootdirectory: {tmp_path}/data\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    process = subprocess.Popen([sys.executable, "-m", "dockyard", "serve", str(config)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path)),
                              base_url="http://registry")
        deadline = time.monotonic() + 60
        while True:  # The socket file appears before the worker accepts: poll until it does.
            try:
                answer = client.get("/v2/")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert answer.json() == {}
        assert push_blob(client, "uds/app", b"over a socket").startswith("sha256:")
    finally:
        process.terminate()
        assert process.wait(60) == 0


def test_config_check_names_ignored_settings(tmp_path) -> None:
    import subprocess
    import sys

    config = tmp_path / "config.yml"
    config.write_text("version: 0.1\nhttp:\n  prefix: /registry\n  secret: s3cret\n"
                      "bogus:\n  key: 1\n")
    result = subprocess.run([sys.executable, "-m", "dockyard", "config", "check", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "http.prefix: not supported" in result.stderr
    assert "bogus: unknown key" in result.stderr
    assert "s3cret" not in result.stdout and "secret:" in result.stdout


def test_registry_docs_tls_and_htpasswd_recipe_from_the_environment(
        server_factory: Callable[..., RunningServer], tmp_path) -> None:
    """The registry:2 docs' `docker run -e REGISTRY_AUTH=htpasswd ... -e REGISTRY_HTTP_TLS_*`."""
    import ssl
    import subprocess

    import httpx

    certs, auth = tmp_path / "certs", tmp_path / "auth"
    certs.mkdir()
    auth.mkdir()
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout",
                    certs / "domain.key", "-x509", "-days", "365", "-out", certs / "domain.crt",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    entry = subprocess.run([sys.executable, "-m", "dockyard", "htpasswd", "-Bbn", "testuser",
                            "testpassword"], check=True, capture_output=True, text=True).stdout
    (auth / "htpasswd").write_text(entry)
    trust = ssl.create_default_context(cafile=str(certs / "domain.crt"))
    server = server_factory(env={
        "REGISTRY_AUTH": "htpasswd",
        "REGISTRY_AUTH_HTPASSWD_REALM": "Registry Realm",
        "REGISTRY_AUTH_HTPASSWD_PATH": str(auth / "htpasswd"),
        "REGISTRY_HTTP_TLS_CERTIFICATE": str(certs / "domain.crt"),
        "REGISTRY_HTTP_TLS_KEY": str(certs / "domain.key"),
    }, scheme="https", verify=trust)
    anonymous = server.client.get("/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="Registry Realm"'
    authed = httpx.Client(base_url=server.url, verify=trust, auth=("testuser", "testpassword"))
    assert authed.get("/v2/").status_code == 200
    digest = push_blob(authed, "docs/recipe", b"over https with a password")
    assert authed.get(f"/v2/docs/recipe/blobs/{digest}").content == b"over https with a password"
    wrong = httpx.get(f"{server.url}/v2/", verify=trust, auth=("testuser", "nope"))
    assert wrong.status_code == 401
