"""Retention with ``--workers 2``: each worker flushes its own pulls; runs never collide."""

import time
from pathlib import Path

import httpx

from tests.conftest import RunningServer, start_server
from tests.pushing import push_image
from tests.retention.helpers import age_tags, manifest_status, pull_time, run_json, tags_of


def start_two_workers(tmp: Path, retention: dict[str, object]) -> RunningServer:
    return start_server(tmp, {"dockyard.retention": retention}, serve_args=("--workers", "2"))


def test_two_workers_flush_pulls_and_delete_each_tag_once(tmp_path: Path) -> None:
    policy = {"repositories": "team/**", "keep": {"tags": ["v*"], "pushedwithin": "1d",
                                                  "pulledwithin": "1d"}}
    server = start_two_workers(tmp_path, {"interval": "300ms", "pullflush": "200ms",
                                          "policies": [policy]})
    try:
        tags = [f"build-{i}" for i in range(8)]
        for tag in ["v1", *tags]:
            push_image(server.client, "team/app", tag)
        before = time.time() - 1
        pulled = tags[:4]
        for tag in pulled:  # A connection each, so the pulls spread over the workers.
            with httpx.Client(base_url=server.url) as client:
                assert manifest_status(client, "team/app", tag) == 200
        deadline = time.monotonic() + 30
        while any((pull_time(server.root, "team/app", t) or 0) < before for t in pulled):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        age_tags(server.root, "team/app", {t: 60 for t in ["v1", *tags]})

        while tags_of(server.client, "team/app") != {"v1", *pulled}:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        runs = run_json(server.config_path, "history", "--limit", "100000")
        assert {r["status"] for r in runs} == {"finished"}, runs
        deleted = [d["tag"] for r in runs for d in r["deleted"]]
        assert sorted(deleted) == sorted(tags[4:])  # Each exactly once, by one worker.
    finally:
        assert server.stop() == 0
