"""Quota enforcement through the real HTTP API, on a realistic push history.

After every step the running figure must equal the recount from scratch and the definition
computed in Python; a refused push must answer 403 DENIED with the quota message and leave
no blob file, row or link behind.
"""

import os
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

from dockyard.quota.limits import refusal_message
from tests.conftest import RunningServer, start_server
from tests.gc.helpers import run_gc
from tests.pushing import OCI_MANIFEST, assert_error, digest_of, push_blob
from tests.quota.helpers import assert_reconciled, engine_of, python_usage, used
from tests.quota.images import build, ci_tags, push

KiB = 1024
LIMIT = 300 * KiB
QUOTAS = {"dockyard.quotas": {"namespaces": {"team": "300KiB"}}}


def check(server: RunningServer, engine: Engine) -> dict[str, int]:
    """Running == recount == definition; returns bytes per namespace."""
    running = assert_reconciled(engine)
    assert running == python_usage(engine, server.root)
    return {ns: usage.bytes for ns, usage in running.items()}


def blob_file(root: Path, digest: str) -> Path:
    hex_ = digest.split(":")[1]
    return root / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"


def assert_nothing_stored(server: RunningServer, engine: Engine, repo: str, digest: str) -> None:
    """No file, no blob row, no link, and the repository cannot serve it."""
    assert not blob_file(server.root, digest).exists()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM blobs WHERE digest = :d"),
                            {"d": digest}).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM repository_blobs WHERE digest = :d"),
                            {"d": digest}).scalar() == 0
    assert server.client.head(f"/v2/{repo}/blobs/{digest}").status_code == 404


def assert_denied(response: httpx.Response, namespace: str, used_before: int, adding: int
                  ) -> None:
    assert_error(response, 403, "DENIED")
    message = response.json()["errors"][0]["message"]
    assert message == refusal_message(namespace, used_before, adding, LIMIT), message
    assert message.startswith(f"quota exceeded for namespace {namespace}: used ")
    assert message.endswith(" > limit 300.0 KiB")


def test_quota_history(server_factory: Callable[..., RunningServer], tmp_path: Path) -> None:
    server = server_factory(QUOTAS)
    client, engine = server.client, engine_of(server.root)
    base = os.urandom(100 * KiB)  # The base layer every image starts from.

    app_v1 = build([base, os.urandom(50 * KiB)])
    push(client, "team/app", app_v1, ci_tags("v1.0.0", "staging", "3f2a9c1", "20261130-0900"))
    first = check(server, engine)["team"]
    assert first == sum(map(len, app_v1.blobs.values())) + len(app_v1.body)

    api_v1 = build([base, os.urandom(40 * KiB)])
    push(client, "team/api", api_v1, ci_tags("v1.0.0", "staging", "9be1d04", "20261130-0915"))
    second = check(server, engine)["team"]
    assert second - first == sum(len(b) for d, b in api_v1.blobs.items()
                                 if d not in app_v1.blobs) + len(api_v1.body)  # Base once.

    push(client, "other/app", build([base]), ["v0.1.0", "latest"])
    assert check(server, engine)["other"] > len(base)  # Shared across namespaces: in each.
    assert check(server, engine)["team"] == second

    app_v11 = build([base, os.urandom(60 * KiB)])
    push(client, "team/app", app_v11, ci_tags("v1.1.0", "staging", "77c0e5a", "20261201-1020"))
    push(client, "team/app", app_v11, ["production", "latest"])
    near = check(server, engine)["team"]
    assert 250 * KiB < near < 270 * KiB

    # A chunked upload (POST, PATCH, PUT) that would pass the limit is refused whole.
    big = os.urandom(60 * KiB)
    started = client.post("/v2/team/app/blobs/uploads/")
    location = started.headers["location"]
    patched = client.patch(location, content=big,
                           headers={"content-type": "application/octet-stream"})
    assert patched.status_code == 202
    refused = client.put(patched.headers["location"], params={"digest": digest_of(big)})
    assert_denied(refused, "team", near, len(big))
    assert_nothing_stored(server, engine, "team/app", digest_of(big))
    assert client.get(patched.headers["location"]).status_code == 404  # Session dropped.
    # So is a monolithic POST ?digest=, in another repository of the namespace.
    whole = client.post("/v2/team/web/blobs/uploads/", params={"digest": digest_of(big)},
                        content=big)
    assert_denied(whole, "team", near, len(big))
    assert_nothing_stored(server, engine, "team/web", digest_of(big))
    assert check(server, engine)["team"] == near

    # What fits still goes in; what the namespace already holds never counts twice.
    small = push_blob(client, "team/app", os.urandom(30 * KiB))
    fitted = check(server, engine)["team"]
    assert fitted == near + 30 * KiB
    push(client, "team/app", app_v1, ["v1.0.0"])          # Re-push of an existing image.
    push(client, "team/web", api_v1, ["v1.0.0"])          # Its blobs are in team already.
    assert check(server, engine)["team"] == fitted

    # Mounts: from another namespace, charged (refused here); within the namespace, free.
    foreign = push_blob(client, "other/app", os.urandom(25 * KiB))
    mounted = client.post("/v2/team/app/blobs/uploads/",
                          params={"mount": foreign, "from": "other/app"})
    assert_denied(mounted, "team", fitted, 25 * KiB)
    assert client.head(f"/v2/team/app/blobs/{foreign}").status_code == 404
    inside = client.post("/v2/team/new/blobs/uploads/",
                         params={"mount": small, "from": "team/app"})
    assert inside.status_code == 201, inside.text

    # A manifest whose own bytes do not fit is refused; its bytes are not written.
    room = LIMIT - fitted
    heavy = build([base], note="x" * room)
    for blob in heavy.blobs.values():
        if digest_of(blob) not in app_v1.blobs:
            assert client.post("/v2/team/app/blobs/uploads/", params={
                "digest": digest_of(blob)}, content=blob).status_code == 201
    config_size = sum(len(b) for d, b in heavy.blobs.items() if d not in app_v1.blobs)
    refused = client.put("/v2/team/app/manifests/heavy", content=heavy.body,
                         headers={"content-type": OCI_MANIFEST})
    assert_denied(refused, "team", fitted + config_size, len(heavy.body))
    assert not blob_file(server.root, heavy.digest).exists()
    assert client.get("/v2/team/app/manifests/heavy").status_code == 404
    full = check(server, engine)["team"]

    # Deleting manifests, then the offline collection, frees the quota.
    for image in (app_v1, app_v11):
        assert client.delete(f"/v2/team/app/manifests/{image.digest}").status_code == 202
    after_delete = check(server, engine)["team"]
    assert after_delete == full - len(app_v1.body) - len(app_v11.body)
    server.stop()
    collected = run_gc(server.config_path)
    assert collected.returncode == 0, collected.stderr
    freed = check(server, engine)["team"]
    assert freed < after_delete - 100 * KiB   # app's own layers went; the base stays (api).
    assert used(engine, "team") == freed

    again = start_server(server.config_path.parent, QUOTAS)
    try:
        assert push_blob(again.client, "team/app", big) == digest_of(big)  # Now it fits.
        assert check(again, engine)["team"] == freed + len(big)
    finally:
        again.stop()
