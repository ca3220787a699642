"""The sync plan file and the semver ranges that filter tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.client.transfer.endpoints import parse_transport
from dockyard.client.transfer.sync_config import TagFilter, in_range, load_sync_file

TAGS = ["latest", "v1.0.0", "v1.2.0", "1.2.5", "v1.10.1", "2.0.0", "2.0.0-rc.1", "1.3", "dev"]


@pytest.mark.parametrize(("text", "expected"), [
    (">=1.2,<2", ["v1.2.0", "1.2.5", "v1.10.1", "1.3"]),
    ("~=1.2", ["v1.2.0", "1.2.5", "v1.10.1", "1.3"]),
    ("~=1.2.0", ["v1.2.0", "1.2.5"]),
    ("==2.0.0", ["2.0.0"]),
    ("==1.*", ["v1.0.0", "v1.2.0", "1.2.5", "v1.10.1", "1.3"]),
    (">=2.0.0-rc.1", ["2.0.0", "2.0.0-rc.1"]),
    (">1.0.0,!=1.3.0", ["v1.2.0", "1.2.5", "v1.10.1", "2.0.0"]),
])
def test_semver_ranges(text: str, expected: list[str]) -> None:
    assert [t for t in TAGS if in_range(t, text)] == expected


@pytest.mark.parametrize("bad", [">=x", "soon", "1.2,,>>3"])
def test_bad_ranges_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="semver range"):
        TagFilter(semver=bad)


def test_sync_file_schema(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    path.write_text("""
prefix: mirror/
repositories:
  - team/web
  - name: team/api
    destination: prod/api
    tags: {regex: "^v", semver: ">=1.2,<2", names: [latest]}
""")
    plan = load_sync_file(path)
    web, api = plan.repositories
    assert plan.destination_of(web) == "mirror/team/web"
    assert plan.destination_of(api) == "mirror/prod/api"
    assert [t for t in TAGS if web.tags.selects(t)] == TAGS
    assert [t for t in TAGS if api.tags.selects(t)] == ["latest", "v1.2.0", "v1.10.1"]


@pytest.mark.parametrize(("body", "message"), [
    ("repositories: []", "repositories"),
    ("repositories: [{name: a, tags: {semver: 'soon'}}]", "repositories.0.tags.semver"),
    ("repositories: [{name: a, tags: {regex: '('}}]", "invalid regex"),
    ("repositories: [{name: a, colour: red}]", "repositories.0.colour"),
])
def test_sync_file_errors_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "images.yaml"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        load_sync_file(path)


@pytest.mark.parametrize(("text", "kind", "path", "ref"), [
    ("docker://localhost:5000/a:v1", "docker", "localhost:5000/a:v1", None),
    ("localhost:5000/a:v1", "docker", "localhost:5000/a:v1", None),
    ("oci:/tmp/lay:v1", "oci", "/tmp/lay", "v1"),
    ("oci:/tmp/lay", "oci", "/tmp/lay", None),
    ("docker-archive:/tmp/a.tar:team/app:v1", "docker-archive", "/tmp/a.tar", "team/app:v1"),
])
def test_transports(text: str, kind: str, path: str, ref: str | None) -> None:
    parsed = parse_transport(text)
    assert (parsed.kind, parsed.path, parsed.reference) == (kind, path, ref)


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported transport"):
        parse_transport("containers-storage:foo")
