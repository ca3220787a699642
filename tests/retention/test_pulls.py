"""Pull times: recorded in memory on each manifest GET/HEAD, flushed in the background."""

import time
from collections.abc import Callable

from tests.conftest import RunningServer
from tests.pushing import push_image
from tests.retention.helpers import (
    DAY,
    age_tags,
    database,
    manifest_status,
    pull_time,
    run_json,
)

Factory = Callable[..., RunningServer]
POLICY = {"policies": [{"repositories": "team/**", "keep": {"pulledwithin": "7d"}}]}


def wait_for_pull_time(server: RunningServer, repo: str, reference: str,
                       after: float) -> float:
    """Poll the database until the background flush has written a pull time after ``after``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = pull_time(server.root, repo, reference)
        if found is not None and found >= after:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no pull time for {repo} {reference} was flushed\n{server.log()}")


def test_a_pull_through_the_api_keeps_a_tag(server_factory: Factory) -> None:
    server = server_factory({"dockyard.retention": {**POLICY, "pullflush": "200ms"}})
    repo = "team/app"
    for tag in ("used", "unused", "by-digest", "head-only"):
        push_image(server.client, repo, tag)
    age_tags(server.root, repo, {"used": 90, "unused": 90, "by-digest": 90, "head-only": 90})
    first = run_json(server.config_path, "run", "--dry-run")["deleted"]
    assert {d["tag"] for d in first} == {"used", "unused", "by-digest", "head-only"}
    digest = next(d["digest"] for d in first if d["tag"] == "by-digest")

    before = time.time() - 1
    assert manifest_status(server.client, repo, "used") == 200
    assert manifest_status(server.client, repo, digest) == 200
    assert server.client.head(f"/v2/{repo}/manifests/head-only").status_code == 200
    for reference in ("used", digest, "head-only"):
        wait_for_pull_time(server, repo, reference, before)
    assert pull_time(server.root, repo, "unused") is None

    dry = run_json(server.config_path, "run", "--dry-run")
    assert [d["tag"] for d in dry["deleted"]] == ["unused"]
    kept = {k["tag"]: k["kept_by"] for k in dry["kept"]}
    assert kept == {t: ["policy 0: pulled within 7d"] for t in ("used", "by-digest", "head-only")}
    assert run_json(server.config_path, "run")["deleted"] == dry["deleted"]
    assert manifest_status(server.client, repo, "unused") == 404


def test_a_clean_stop_flushes_pending_pulls(server_factory: Factory) -> None:
    server = server_factory({"dockyard.retention": {**POLICY, "pullflush": "1h"}})
    push_image(server.client, "team/app", "v1")
    before = time.time() - 1
    assert manifest_status(server.client, "team/app", "v1") == 200
    assert pull_time(server.root, "team/app", "v1") is None  # Not flushed yet (1 h).
    assert server.stop() == 0
    found = pull_time(server.root, "team/app", "v1")
    assert found is not None and found >= before


def test_a_pull_from_before_the_last_push_does_not_count(server_factory: Factory) -> None:
    policy = {"repositories": "team/**", "keep": {"pulledwithin": "30d"}}
    server = server_factory({"dockyard.retention": {"policies": [policy]}})
    for tag in ("pulled-since", "pulled-before"):
        push_image(server.client, "team/app", tag)
    age_tags(server.root, "team/app", {"pulled-since": 10, "pulled-before": 10})
    with database(server.root) as conn:  # Pull times as an older registry would have them.
        conn.executemany(
            "INSERT INTO pull_times (repository_id, reference, pulled_at) SELECT id, ?, ? "
            "FROM repositories WHERE name = 'team/app'",
            [("pulled-since", time.time() - 5 * DAY), ("pulled-before", time.time() - 20 * DAY)])
    dry = run_json(server.config_path, "run", "--dry-run")
    assert [d["tag"] for d in dry["deleted"]] == ["pulled-before"]


def test_a_real_run_forgets_pull_times_of_what_is_gone(server_factory: Factory) -> None:
    server = server_factory({"dockyard.retention": {"policies": [
        {"repositories": "team/**", "keep": {"tags": ["v*"]}}]}})
    for tag in ("v1", "gone"):
        push_image(server.client, "team/app", tag)
    with database(server.root) as conn:
        conn.executemany(
            "INSERT INTO pull_times (repository_id, reference, pulled_at) SELECT id, ?, ? "
            "FROM repositories WHERE name = 'team/app'",
            [("v1", time.time()), ("gone", time.time()), ("deleted-long-ago", time.time())])
    run_json(server.config_path, "run", "--dry-run")
    assert pull_time(server.root, "team/app", "deleted-long-ago") is not None
    assert [d["tag"] for d in run_json(server.config_path, "run")["deleted"]] == ["gone"]
    assert pull_time(server.root, "team/app", "v1") is not None
    assert pull_time(server.root, "team/app", "gone") is None
    assert pull_time(server.root, "team/app", "deleted-long-ago") is None
