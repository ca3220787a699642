"""Retention scheduled inside the server, and the seed's cleanup script as one policy line."""

import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import RunningServer, start_server
from tests.pushing import push_image
from tests.retention.helpers import age_tags, database, manifest_status, run_json, tags_of

Factory = Callable[..., RunningServer]

# cleanup-registry.sh kept DAYS_TO_KEEP=30: it deleted every tag pushed more than 30 days ago.
SEED_LINE = '- {repositories: "**", keep: {pushedwithin: 30d}}'


def test_a_scheduled_run_deletes_and_the_api_then_404s(server_factory: Factory) -> None:
    policy = {"repositories": "team/**", "keep": {"tags": ["v*"], "pushedwithin": "1d"}}
    server = server_factory({"dockyard.retention": {"interval": "300ms",
                                                    "policies": [policy]}})
    client = server.client
    push_image(client, "team/app", "v1")
    push_image(client, "team/app", "feature-x")
    assert manifest_status(client, "team/app", "feature-x") == 200  # Cached by the server.
    age_tags(server.root, "team/app", {"v1": 60, "feature-x": 60})  # Now policy drops it.

    deadline = time.monotonic() + 30
    while manifest_status(client, "team/app", "feature-x") != 404:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    assert tags_of(client, "team/app") == {"v1"}
    runs = run_json(server.config_path, "history", "--limit", "100000")
    deleting = [r for r in runs if r["deleted"]]
    assert len(deleting) == 1 and deleting[0]["trigger"] == "schedule"
    assert deleting[0]["dry_run"] is False and deleting[0]["status"] == "finished"
    assert [(d["repository"], d["tag"]) for d in deleting[0]["deleted"]] == \
        [("team/app", "feature-x")]


def test_seed_cleanup_script_is_one_policy_line(server_factory: Factory) -> None:
    server = server_factory({"dockyard.retention.policies": yaml.safe_load(SEED_LINE)})
    ages = {"team/app": {"v1.0.0": 45, "v1.1.0": 29, "latest": 31},
            "base/images/debian": {"12": 300, "12-slim": 2},
            "tool": {"20261101-1200": 29.5, "20261001-0800": 60}}
    for repo, tags in ages.items():
        for tag in tags:
            push_image(server.client, repo, tag)
        age_tags(server.root, repo, tags)
    real = run_json(server.config_path, "run")
    assert {(d["repository"], d["tag"]) for d in real["deleted"]} == {
        ("team/app", "v1.0.0"), ("team/app", "latest"), ("base/images/debian", "12"),
        ("tool", "20261001-0800")}
    assert tags_of(server.client, "base/images/debian") == {"12-slim"}


def test_the_schedule_survives_restarts(tmp_path: Path) -> None:
    """Anchored on the last recorded run: a server restarted more often than the interval
    still runs, and one that starts after an overdue run runs at once."""
    policy = {"repositories": "team/**", "keep": {"tags": ["v*"]}}
    overrides = {"dockyard.retention": {"interval": "1h", "policies": [policy]}}
    first = start_server(tmp_path, overrides)
    push_image(first.client, "team/app", "v1")
    push_image(first.client, "team/app", "feature-y")
    assert first.stop() == 0
    with database(tmp_path / "data") as conn:  # A real run two hours ago, as if recorded.
        conn.execute("INSERT INTO retention_runs (started_at, finished_at, dry_run, trigger, "
                     "status, tags_deleted, tags_kept, manifests_deleted) "
                     "VALUES (?, ?, 0, 'schedule', 'finished', 0, 0, 0)",
                     (time.time() - 7200, time.time() - 7199))
    second = start_server(tmp_path, overrides)
    try:
        deadline = time.monotonic() + 30
        while manifest_status(second.client, "team/app", "feature-y") != 404:
            assert time.monotonic() < deadline, second.log()
            time.sleep(0.1)
        assert tags_of(second.client, "team/app") == {"v1"}
    finally:
        second.stop()
