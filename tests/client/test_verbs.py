"""Every simple verb against a running Dockyard: output for people and for scripts, errors."""

from __future__ import annotations

import json

from tests.client.content import SBOM_TYPE, SIGNATURE_TYPE, push_image, push_index, push_referrer
from tests.client.doubles import FaultProxy
from tests.pushing import DOCKER_MANIFEST, digest_of, image_manifest, put_manifest, unique_repo


def test_repos_pages_through_the_catalog(cli, module_server):
    repos = sorted(unique_repo("cat") for _ in range(5))
    for repo in repos:
        push_image(module_server.client, repo, "v1", layer_sizes=(10,))
    with FaultProxy(module_server.host) as proxy:
        result = cli("repos", proxy.host, "--page-size", "2", "--json")
        assert result.exit_code == 0, result.output
        listed = json.loads(result.stdout)
        assert set(repos) <= set(listed) and listed == sorted(listed)
        assert len(proxy.requests("GET", "/v2/_catalog")) >= 3  # 5+ names, 2 per page
    table = cli("repos", module_server.host)
    assert table.exit_code == 0 and repos[0] in table.stdout


def test_tags_sorted_filtered_and_paginated(cli, module_server):
    repo = unique_repo("tags")
    image = push_image(module_server.client, repo, "latest", layer_sizes=(10,))
    for tag in ("v1.10.0", "v1.2.0", "v1.9.1", "2.0.0", "1.2.0-rc.1", "dev"):
        module_server.client.put(f"/v2/{repo}/manifests/{tag}", content=image.body,
                                 headers={"content-type": image.media_type})
    ref = f"{module_server.host}/{repo}"
    with FaultProxy(module_server.host) as proxy:
        plain = cli("tags", f"{proxy.host}/{repo}", "-n", "3", "--json")
        assert plain.exit_code == 0, plain.output
        assert json.loads(plain.stdout)["tags"] == sorted(
            ["latest", "v1.10.0", "v1.2.0", "v1.9.1", "2.0.0", "1.2.0-rc.1", "dev"])
        assert len(proxy.requests("GET", "/tags/list")) >= 3
    semver = json.loads(cli("tags", ref, "--semver", "--json").stdout)["tags"]
    assert semver == ["1.2.0-rc.1", "v1.2.0", "v1.9.1", "v1.10.0", "2.0.0", "dev", "latest"]
    ranged = json.loads(cli("tags", ref, "--semver", "--semver-range", ">=1.2,<2",
                            "--json").stdout)["tags"]
    assert ranged == ["v1.2.0", "v1.9.1", "v1.10.0"]
    filtered = json.loads(cli("tags", ref, "--filter", r"^v1\.", "--json").stdout)["tags"]
    assert filtered == ["v1.10.0", "v1.2.0", "v1.9.1"]
    table = cli("tags", ref, "--semver")
    assert table.exit_code == 0 and "v1.10.0" in table.stdout
    bad = cli("tags", ref, "--semver-range", ">>1")
    assert bad.exit_code == 2 and "invalid --semver-range" in bad.stderr


def test_errors_are_one_line_naming_image_registry_and_reason(cli, module_server):
    missing = f"{module_server.host}/nobody/here"
    result = cli("tags", missing)
    assert result.exit_code == 1
    assert result.stderr == (f"tags {missing}: registry refused: NAME_UNKNOWN "
                             "repository name not known to registry\n")
    manifest = cli("manifest", f"{missing}:v1")
    assert manifest.exit_code == 1 and manifest.stderr.count("\n") == 1
    assert manifest.stderr.startswith(f"manifest {missing}:v1: registry refused: ")
    usage = cli("manifest", "localhost:5000/Bad_Name:v1")
    assert usage.exit_code == 2 and "invalid repository name" in usage.stderr


def test_manifest_prints_exact_bytes_and_picks_a_platform(cli, module_server):
    repo = unique_repo("mf")
    index, (amd64, arm64) = push_index(module_server.client, repo, "multi")
    ref = f"{module_server.host}/{repo}:multi"
    raw = cli("manifest", ref)
    assert raw.exit_code == 0 and raw.stdout_bytes == index.body
    picked = cli("manifest", ref, "--platform", "linux/arm64")
    assert picked.stdout_bytes == arm64.body
    exact = cli("manifest", ref, "--platform", "linux/arm64/v8", "--json")
    described = json.loads(exact.stdout)
    assert described["digest"] == arm64.digest == digest_of(arm64.body)
    assert described["mediaType"] == arm64.media_type
    by_digest = cli("manifest", f"{module_server.host}/{repo}@{amd64.digest}")
    assert by_digest.stdout_bytes == amd64.body
    absent = cli("manifest", ref, "--platform", "linux/s390x")
    assert absent.exit_code == 1 and "no linux/s390x entry" in absent.stderr


def test_inspect_multi_arch_index_with_referrers(cli, module_server):
    repo = unique_repo("insp")
    index, (amd64, arm64) = push_index(module_server.client, repo, "v1")
    signature = push_referrer(module_server.client, repo, index, SIGNATURE_TYPE, b"sig")
    sbom = push_referrer(module_server.client, repo, arm64, SBOM_TYPE, b'{"spdx": 1}')
    ref = f"{module_server.host}/{repo}:v1"
    result = cli("inspect", ref, "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert (view["digest"], view["mediaType"]) == (index.digest, index.media_type)
    assert [(m["platform"], m["digest"], m["size"]) for m in view["manifests"]] == [
        ("linux/amd64", amd64.digest, len(amd64.body)),
        ("linux/arm64/v8", arm64.digest, len(arm64.body))]
    first, second = view["images"]
    assert first["config"]["entrypoint"] == ["/bin/app"]
    assert first["config"]["env"] == ["PATH=/usr/bin", "ARCH=amd64"]
    assert first["config"]["labels"] == {"org.opencontainers.image.title": "app"}
    assert first["config"]["created"] == "2026-01-02T03:04:05Z"
    assert [layer["size"] for layer in first["layers"]] == [1500, 2500]
    assert first["layersSize"] == 4000
    assert [(r["digest"], r["kind"]) for r in view["referrers"]] == [
        (signature.digest, "signature")]
    assert [(r["digest"], r["kind"]) for r in second["referrers"]] == [(sbom.digest, "sbom")]
    assert first["referrers"] == []
    table = cli("inspect", ref)
    assert table.exit_code == 0
    for text in (index.digest, "linux/arm64/v8", "/bin/app", "signature", "sbom"):
        assert text in table.stdout


def test_tag_copies_the_manifest_bytes_under_new_tags(cli, module_server):
    repo = unique_repo("retag")
    index, _ = push_index(module_server.client, repo, "build-7")
    ref = f"{module_server.host}/{repo}"
    with FaultProxy(module_server.host) as proxy:
        result = cli("tag", f"{proxy.host}/{repo}:build-7", "v1.0.0", "stable", "--json")
        assert result.exit_code == 0, result.output
        assert not proxy.requests("POST") and not proxy.requests("PATCH")  # no layer moved
        assert [s.path for s in proxy.requests("PUT")] == [
            f"/v2/{repo}/manifests/v1.0.0", f"/v2/{repo}/manifests/stable"]
    assert json.loads(result.stdout)["digest"] == index.digest
    for tag in ("v1.0.0", "stable"):
        pulled = cli("manifest", f"{ref}:{tag}", "--json")
        assert json.loads(pulled.stdout)["digest"] == index.digest
        assert cli("manifest", f"{ref}:{tag}").stdout_bytes == index.body
    bad = cli("tag", f"{ref}:build-7", "no/slash")
    assert bad.exit_code == 2


def test_rm_a_tag_then_a_digest(cli, module_server):
    repo = unique_repo("rm")
    image = push_image(module_server.client, repo, "keep", layer_sizes=(10,))
    module_server.client.put(f"/v2/{repo}/manifests/drop", content=image.body,
                             headers={"content-type": image.media_type})
    ref = f"{module_server.host}/{repo}"
    untagged = cli("rm", f"{ref}:drop")
    assert untagged.exit_code == 0, untagged.output
    assert json.loads(cli("tags", ref, "--json").stdout)["tags"] == ["keep"]
    assert cli("manifest", f"{ref}@{image.digest}").exit_code == 0  # only the tag went
    deleted = cli("rm", f"{ref}@{image.digest}", "--json")
    assert json.loads(deleted.stdout) == {"name": f"{ref}@{image.digest}", "deleted": "manifest"}
    gone = cli("manifest", f"{ref}:keep")
    assert gone.exit_code == 1 and "MANIFEST_UNKNOWN" in gone.stderr
    again = cli("rm", f"{ref}@{image.digest}")
    assert again.exit_code == 1 and again.stderr.startswith(f"rm {ref}@{image.digest}: ")


def test_rm_when_the_registry_has_deletes_off(cli, server_factory):
    server = server_factory({"storage.delete": {"enabled": False}})
    repo = unique_repo("nodel")
    image = push_image(server.client, repo, "v1", layer_sizes=(10,))
    ref = f"{server.host}/{repo}"
    refused = cli("rm", f"{ref}:v1")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith(f"rm {ref}:v1: registry refused the tag delete (no tag "
                                     "deletes, or deletes disabled) (HTTP 405 UNSUPPORTED")
    assert f"`dockyard rm {ref}@{image.digest}`" in refused.stderr
    by_digest = cli("rm", f"{ref}@{image.digest}")
    assert by_digest.exit_code == 1
    assert by_digest.stderr.startswith(f"rm {ref}@{image.digest}: registry refused: UNSUPPORTED")
    assert cli("manifest", f"{ref}:v1").exit_code == 0


def test_inspect_a_docker_schema2_image(cli, module_server):
    repo = unique_repo("docker")
    body = image_manifest(module_server.client, repo, layers=1, media_type=DOCKER_MANIFEST)
    assert put_manifest(module_server.client, repo, "v1", body, DOCKER_MANIFEST).status_code == 201
    view = json.loads(cli("inspect", f"{module_server.host}/{repo}:v1", "--json").stdout)
    assert (view["digest"], view["mediaType"]) == (digest_of(body), DOCKER_MANIFEST)
    (image,) = view["images"]
    assert image["platform"] == "linux/amd64" and image["config"]["architecture"] == "amd64"
    assert [layer["size"] for layer in image["layers"]] == [1024]
    assert "manifests" not in view and view["referrers"] == []
