"""``dockyard retention run`` against a real server's storage, on a realistic tag history."""

import fcntl
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

from tests.conftest import RunningServer
from tests.pushing import ACCEPT_ALL, OCI_MANIFEST, digest_of, push_image, put_manifest
from tests.retention.helpers import age_tags, manifest_status, run_cli, run_json, tags_of

Factory = Callable[..., RunningServer]
POLICY = {"repositories": "team/**",
          "keep": {"last": 2, "tags": ["v*", "latest"], "pushedwithin": "30d"}}
SETTINGS = {"dockyard.retention": {"policies": [POLICY]},
            "dockyard.immutability": [{"repositories": "team/**", "tags": "1.*"}]}

# Days since each tag was pushed; a tag whose name follows ``=`` shares that tag's digest.
API_HISTORY = {"1.0.0": 400, "1.2.3": 90, "v2.0.0-rc1": 20, "dev": 100, "a1b2c3d=dev": 60,
               "test": 80, "prod=v2.0.0-rc1": 45, "20261101-1200": 35, "20261001-0800": 70,
               "latest": 200}
WEB_HISTORY = {"dev": 1, "prod": 50, "e4f5a6b": 40, "20261015-0900": 45}
API_GONE = {"dev", "a1b2c3d", "test", "prod", "20261001-0800"}
WEB_GONE = {"prod", "20261015-0900"}


def tag_again(client: httpx.Client, repo: str, existing: str, tag: str) -> None:
    body = client.get(f"/v2/{repo}/manifests/{existing}", headers={"accept": ACCEPT_ALL}).content
    assert put_manifest(client, repo, tag, body, OCI_MANIFEST).status_code == 201


def push_history(server: RunningServer, repo: str, history: dict[str, float]) -> dict[str, str]:
    """Push every tag (sharing digests where asked), then age them; returns tag -> digest."""
    ages = {}
    for spec, days in history.items():
        name, _, same_as = spec.partition("=")
        if same_as:
            tag_again(server.client, repo, same_as, name)
        else:
            push_image(server.client, repo, name, layers=1)
        ages[name] = days
    age_tags(server.root, repo, ages)
    return {name: digest_of(server.client.get(f"/v2/{repo}/manifests/{name}",
                                              headers={"accept": ACCEPT_ALL}).content)
            for name in ages}


def test_dry_run_lists_exactly_what_the_run_deletes(server_factory: Factory) -> None:
    server = server_factory(SETTINGS)
    client = server.client
    api = push_history(server, "team/api", API_HISTORY)
    push_history(server, "team/web", WEB_HISTORY)
    push_history(server, "legacy/tool", {"old": 500})
    assert api["dev"] == api["a1b2c3d"] and api["prod"] == api["v2.0.0-rc1"]
    assert manifest_status(client, "team/api", "dev") == 200  # Now in the server's cache.

    dry = run_json(server.config_path, "run", "--dry-run")
    assert dry["dry_run"] is True
    assert {(d["repository"], d["tag"]) for d in dry["deleted"]} == \
        {("team/api", t) for t in API_GONE} | {("team/web", t) for t in WEB_GONE}
    assert all(d["kept_by"] == [] and d["policies"] == [0] and d["digest"] == api[d["tag"]]
               for d in dry["deleted"] if d["repository"] == "team/api")
    kept = {(k["repository"], k["tag"]): k["kept_by"] for k in dry["kept"]}
    assert kept[("team/api", "1.0.0")] == ["immutable (tags '1.*' in repositories 'team/**')"]
    assert kept[("team/api", "20261101-1200")] == ["policy 0: last 2 (#2 most recently pushed)"]
    assert "policy 0: tags 'v*'" in kept[("team/api", "v2.0.0-rc1")]
    assert ("legacy/tool", "old") not in kept  # No policy matches it: not even judged.
    assert tags_of(client, "team/api") == set(api)  # A dry run deletes nothing.

    real = run_json(server.config_path, "run")
    assert real["dry_run"] is False and real["skipped"] == []
    assert real["deleted"] == dry["deleted"]
    assert real["kept"] == dry["kept"]

    assert tags_of(client, "team/api") == set(api) - API_GONE
    assert tags_of(client, "team/web") == set(WEB_HISTORY) - WEB_GONE
    assert tags_of(client, "legacy/tool") == {"old"}
    for tag in API_GONE:  # "dev" was cached before the run: the CLI's marker bump drops it.
        assert manifest_status(client, "team/api", tag) == 404, tag
    # Deleting a tag leaves its manifest: the kept tag on the same digest still resolves.
    assert manifest_status(client, "team/api", "v2.0.0-rc1") == 200
    assert manifest_status(client, "team/api", api["prod"]) == 200

    history = run_json(server.config_path, "history")
    assert [run["dry_run"] for run in history] == [False, True]
    latest = history[0]
    assert latest["status"] == "finished" and latest["finished_at"] >= latest["started_at"]
    assert latest["tags_deleted"] == len(API_GONE) + len(WEB_GONE)
    assert latest["tags_kept"] == len(real["kept"])
    assert [(d["repository"], d["tag"], d["digest"]) for d in latest["deleted"]] == \
        [(d["repository"], d["tag"], d["digest"]) for d in real["deleted"]]
    text = run_cli(server.config_path, "history")
    assert text.returncode == 0 and "team/api:dev" in text.stdout


def test_text_output_names_what_went_and_why_the_rest_stayed(server_factory: Factory) -> None:
    server = server_factory(SETTINGS)
    push_history(server, "team/app", {"v1": 90, "scratch": 90, "nightly": 60, "hotfix": 50})
    result = run_cli(server.config_path, "run", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("would delete tag team/app:scratch sha256:")
               and line.endswith("(judged by policy 0; kept by: none)") for line in lines), lines
    assert any(line.startswith("kept team/app:v1 ") and "tags 'v*'" in line for line in lines)
    assert any(line.startswith("kept team/app:nightly ") and "last 2" in line for line in lines)
    assert lines[-1].endswith(": 1 tags and 0 untagged manifests would be deleted, 3 tags "
                              "kept, 0 skipped"), lines[-1]
    result = run_cli(server.config_path, "run")
    assert result.returncode == 0, result.stderr
    assert "deleted tag team/app:scratch sha256:" in result.stdout


def test_a_real_run_refuses_while_another_deletes(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1, "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}},
        "dockyard": {"retention": {"policies": [POLICY]}}}))
    lock_path = tmp_path / "data" / "dockyard" / "retention.lock"
    lock_path.parent.mkdir(parents=True)
    with open(lock_path, "wb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # As a run in another process would.
        refused = run_cli(config, "run")
        assert refused.returncode == 1 and "another retention run" in refused.stderr
        assert run_cli(config, "run", "--dry-run").returncode == 0  # Dry runs need no lock.
    assert run_cli(config, "run").returncode == 0
    assert [r["dry_run"] for r in run_json(config, "history")] == [False, True]
