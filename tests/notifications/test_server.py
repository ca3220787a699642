"""Events from a real Dockyard server reach a real webhook, as Distribution sends them."""

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.notifications.envelope import EVENTS_MEDIA_TYPE
from tests.conftest import RunningServer
from tests.notifications.webhook import Webhook, running_webhook
from tests.pushing import (
    ACCEPT_ALL,
    OCI_MANIFEST,
    digest_of,
    image_manifest,
    push_blob,
    put_manifest,
)

BLOB = "application/octet-stream"
RFC3339_NANO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z")
ServerFactory = Callable[..., RunningServer]


def endpoint(hook: Webhook, **options: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"name": "sink", "url": hook.url,
                              "headers": {"Authorization": ["Bearer x"]},
                              "timeout": "5s", "threshold": 3, "backoff": "1s"}
    config.update(options)
    return {"notifications": {"endpoints": [config]}}


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with running_webhook() as hook:
        yield hook


def summary(event: dict[str, Any]) -> tuple[Any, ...]:
    target = event["target"]
    return (event["action"], target.get("repository"), target.get("mediaType"),
            target.get("digest"), target.get("tag"), target.get("fromRepository"))


def push_marker(server: RunningServer) -> str:
    """Push a blob to a repository of its own; once its event arrives, all earlier did."""
    return push_blob(server.client, f"marker/r{uuid.uuid4().hex[:8]}", os.urandom(64))


def wait_for_digest(hook: Webhook, digest: str) -> list[dict[str, Any]]:
    hook.wait_for(lambda h: any(e["target"].get("digest") == digest
                                for e in h.accepted_events()))
    return hook.accepted_events()


def test_push_pull_mount_and_delete_reach_the_webhook_in_order(
        server_factory: ServerFactory, webhook: Webhook) -> None:
    server = server_factory(endpoint(webhook))
    client = server.client
    repo, other = "notify/app", "notify/other"
    body = image_manifest(client, repo, layers=1)
    document = json.loads(body)
    config_digest = document["config"]["digest"]
    layer_digest = document["layers"][0]["digest"]
    layer_size = document["layers"][0]["size"]
    manifest_digest = digest_of(body)
    assert put_manifest(client, repo, "v1", body).status_code == 201
    pulled = client.get(f"/v2/{repo}/manifests/v1", headers={"accept": ACCEPT_ALL})
    assert pulled.status_code == 200
    assert client.get(f"/v2/{repo}/blobs/{layer_digest}").status_code == 200
    mounted = client.post(f"/v2/{other}/blobs/uploads/",
                          params={"mount": layer_digest, "from": repo})
    assert mounted.status_code == 201, mounted.text
    assert client.delete(f"/v2/{repo}/manifests/v1").status_code == 202
    assert client.delete(f"/v2/{repo}/manifests/{manifest_digest}").status_code == 202
    marker = push_marker(server)

    events = wait_for_digest(webhook, marker)
    assert [summary(e) for e in events] == [
        ("push", repo, BLOB, config_digest, None, None),
        ("push", repo, BLOB, layer_digest, None, None),
        ("push", repo, OCI_MANIFEST, manifest_digest, "v1", None),
        ("pull", repo, OCI_MANIFEST, manifest_digest, "v1", None),
        ("pull", repo, BLOB, layer_digest, None, None),
        ("mount", other, BLOB, layer_digest, None, repo),
        ("delete", repo, None, None, "v1", None),
        ("delete", repo, None, manifest_digest, None, None),
        ("push", events[-1]["target"]["repository"], BLOB, marker, None, None),
    ]
    for delivery in webhook.deliveries:
        assert delivery.path == "/events"
        assert delivery.headers["content-type"] == [EVENTS_MEDIA_TYPE]
        assert delivery.headers["authorization"] == ["Bearer x"]

    push_layer, push_manifest, pull_manifest = events[1], events[2], events[3]
    assert push_layer["target"]["size"] == push_layer["target"]["length"] == layer_size
    assert push_layer["target"]["url"] == f"{server.url}/v2/{repo}/blobs/{layer_digest}"
    assert push_manifest["target"]["size"] == len(body)
    assert push_manifest["request"]["method"] == "PUT"
    assert pull_manifest["request"]["method"] == "GET"
    assert pull_manifest["request"]["host"] == server.host
    assert pull_manifest["request"]["useragent"].startswith("python-httpx/")
    assert pull_manifest["request"]["addr"].startswith("127.0.0.1:")
    assert pull_manifest["actor"] == {}
    # Deletes carry nothing but what identifies the deleted object.
    assert events[6]["target"] == {"repository": repo, "tag": "v1"}
    assert events[7]["target"] == {"repository": repo, "digest": manifest_digest}
    port = server.url.rsplit(":", 1)[1]
    assert {e["source"]["addr"].rsplit(":", 1)[1] for e in events} == {port}
    assert len({e["source"]["instanceID"] for e in events}) == 1
    assert len({e["id"] for e in events}) == len(events)
    assert len({e["request"]["id"] for e in events}) == len(events)
    for item in events:
        assert RFC3339_NANO_UTC.fullmatch(item["timestamp"]), item["timestamp"]


def test_ignore_rules_apply_to_the_endpoint(server_factory: ServerFactory,
                                            webhook: Webhook) -> None:
    server = server_factory(endpoint(webhook, ignoredmediatypes=[BLOB],
                                     ignore={"actions": ["pull"]}))
    repo = "notify/ignoring"
    body = image_manifest(server.client, repo, layers=1)
    assert put_manifest(server.client, repo, "v1", body).status_code == 201
    assert server.client.get(f"/v2/{repo}/manifests/v1",
                             headers={"accept": ACCEPT_ALL}).status_code == 200
    assert server.client.delete(f"/v2/{repo}/manifests/{digest_of(body)}").status_code == 202
    marker_repo = "notify/marker"
    marker_body = image_manifest(server.client, marker_repo, layers=1)
    assert put_manifest(server.client, marker_repo, "m", marker_body).status_code == 201

    events = wait_for_digest(webhook, digest_of(marker_body))
    assert [summary(e) for e in events] == [
        ("push", repo, OCI_MANIFEST, digest_of(body), "v1", None),
        ("delete", repo, None, digest_of(body), None, None),
        ("push", marker_repo, OCI_MANIFEST, digest_of(marker_body), "m", None),
    ]


def test_a_stuck_endpoint_does_not_slow_pushes(server_factory: ServerFactory) -> None:
    with running_webhook(hang=True) as hook:
        server = server_factory(endpoint(hook, timeout="60s"))
        # The client gives up after 30s, well before the endpoint's 60s timeout: a push
        # that waited for the webhook would fail here.
        pushed = [push_blob(server.client, "notify/busy", os.urandom(256))
                  for _ in range(20)]
        assert hook.answered == 0
        hook.wait_for(lambda h: h.started == 1)
        assert (hook.started, hook.answered) == (1, 0)  # the first delivery is still held

        hook.release()
        hook.wait_for(lambda h: len(h.accepted_events()) == 20)
        assert [e["target"]["digest"] for e in hook.accepted_events()] == pushed


def test_failed_deliveries_are_retried_until_each_event_arrives_once_in_order(
        server_factory: ServerFactory) -> None:
    with running_webhook(fail_first=4) as hook:
        server = server_factory(endpoint(hook, threshold=2, backoff="100ms"))
        pushed = [push_blob(server.client, "notify/flaky", os.urandom(128)) for _ in range(6)]
        hook.wait_for(lambda h: len(h.accepted_events()) >= 6)
        assert [e["target"]["digest"] for e in hook.accepted_events()] == pushed
        failed = [d for d in hook.deliveries if d.status == 500]
        assert len(failed) == 4
        # A retry resends the same batch: every failed request carried the first event.
        assert all(d.events[0]["target"]["digest"] == pushed[0] for d in failed)
        # Settle: nothing is delivered twice afterwards either.
        marker = push_marker(server)
        events = wait_for_digest(hook, marker)
        assert [e["target"]["digest"] for e in events] == [*pushed, marker]


def test_shutdown_gives_up_on_a_stuck_endpoint_and_reports_the_loss(
        server_factory: ServerFactory) -> None:
    with running_webhook(hang=True) as hook:
        server = server_factory(endpoint(hook, timeout="60s"))
        for _ in range(3):
            push_blob(server.client, "notify/leaving", os.urandom(32))
        hook.wait_for(lambda h: h.started == 1)
        # stop() waits 20s and then kills: a shutdown that waited for the endpoint's 60s
        # timeout would end with SIGKILL instead of a clean exit.
        assert server.stop() == 0
        assert "sink: 3 events not delivered at shutdown" in server.log()
