"""The JSON Dockyard sends is Distribution's (``notifications/event.go``)."""

import json
from datetime import UTC, datetime, timedelta, timezone

from dockyard.config import Config
from dockyard.notifications.envelope import (
    EVENTS_MEDIA_TYPE,
    envelope,
    event_record,
    rfc3339_nano,
    source_for,
)
from tests.notifications.helpers import BLOB, OCI_MANIFEST, SOURCE, event


def test_media_type_is_distributions() -> None:
    assert EVENTS_MEDIA_TYPE == "application/vnd.docker.distribution.events.v2+json"


def test_manifest_push_by_tag_has_every_field() -> None:
    record = event_record(event("push", tag="v1", number=250000), SOURCE)
    assert record == {
        "id": "event-250000",
        "timestamp": "2024-05-01T12:00:00.25Z",
        "action": "push",
        "target": {
            "mediaType": OCI_MANIFEST,
            "digest": "sha256:aa",
            "size": 10,
            "length": 10,
            "repository": "lib/app",
            "url": "http://registry.example:5000/v2/lib/app/manifests/sha256:aa",
            "tag": "v1",
        },
        "request": {"id": "req-1", "addr": "10.0.0.7:51234", "host": "registry.example:5000",
                    "method": "PUT", "useragent": "docker/27.0"},
        "actor": {"name": "alice"},
        "source": {"addr": "node1:5000",
                   "instanceID": "0b7a5b4c-0000-4000-8000-000000000001"},
    }


def test_mount_names_the_source_repository() -> None:
    target = event_record(event("mount", media_type=BLOB, from_repository="lib/base"),
                          SOURCE)["target"]
    assert target["fromRepository"] == "lib/base"
    assert target["mediaType"] == BLOB
    assert "tag" not in target


def test_deletes_carry_only_digest_repository_and_tag() -> None:
    by_digest = event_record(event("delete", media_type="", size=0), SOURCE)
    assert by_digest["target"] == {"digest": "sha256:aa", "repository": "lib/app"}
    by_tag = event_record(event("delete", digest="", media_type="", size=0, tag="v1"),
                          SOURCE)
    assert by_tag["target"] == {"repository": "lib/app", "tag": "v1"}
    # Even if a handler passed more, a delete says no more than Distribution's does.
    noisy = event_record(event("delete", media_type=BLOB, size=99), SOURCE)
    assert noisy["target"] == {"digest": "sha256:aa", "repository": "lib/app"}


def test_omitempty_rules() -> None:
    record = event_record(event("pull", size=0, actor=None), SOURCE)
    assert "size" not in record["target"] and "length" not in record["target"]
    assert record["actor"] == {}
    bare = event("pull")
    blank = type(bare.request)(id="", addr="", host="", method="GET", useragent="")
    anonymous = event_record(type(bare)(bare.action, bare.target, blank, None), SOURCE)
    # id, method and useragent have no omitempty in Go; addr and host do.
    assert anonymous["request"] == {"id": "", "method": "GET", "useragent": ""}


def test_timestamps_are_rfc3339_nano_in_utc() -> None:
    assert rfc3339_nano(datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)) == "2024-05-01T12:00:00Z"
    assert rfc3339_nano(datetime(2024, 5, 1, 12, 0, 0, 123400, tzinfo=UTC)) == \
        "2024-05-01T12:00:00.1234Z"
    plus_two = timezone(timedelta(hours=2))
    assert rfc3339_nano(datetime(2024, 5, 1, 14, 0, 0, 1, tzinfo=plus_two)) == \
        "2024-05-01T12:00:00.000001Z"


def test_envelope_keeps_order() -> None:
    events = [event(number=n) for n in (3, 1, 2)]
    body = json.loads(envelope(events, SOURCE))
    assert list(body) == ["events"]
    assert [e["id"] for e in body["events"]] == ["event-3", "event-1", "event-2"]


def test_source_is_hostname_and_listen_port() -> None:
    def config(http: dict[str, str]) -> Config:
        return Config.model_validate({"version": "0.1", "http": http})

    assert source_for(config({"addr": ":5000"}), hostname="node1").addr == "node1:5000"
    assert source_for(config({"addr": "127.0.0.1:5443"}), hostname="n").addr == "n:5443"
    assert source_for(config({"net": "unix", "addr": "/run/r.sock"}), hostname="n").addr == "n"
    first, second = source_for(config({})), source_for(config({}))
    assert first.instance_id and first.instance_id != second.instance_id
