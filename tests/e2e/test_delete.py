"""Manifest deletion: by tag (Dockyard only), then by digest, observed with skopeo."""

from __future__ import annotations

import pytest
from images import MANIFEST_ACCEPT, make_image, write_layout

pytestmark = pytest.mark.e2e

KiB = 1024
ACCEPT = {"Accept": MANIFEST_ACCEPT}


def _tags(http, registry, repo: str) -> list[str]:
    r = http.get(f"{registry.url}/v2/{repo}/tags/list")
    if r.status_code == 404:  # repository gone altogether is fine too
        return []
    assert r.status_code == 200, r.text
    return r.json().get("tags") or []


def _pull_fails(tools, ref: str, dest: str) -> bool:
    """skopeo cannot copy ``ref`` because the registry reports MANIFEST_UNKNOWN."""
    result = tools.skopeo("copy", "--src-tls-verify=false", ref, dest, check=False)
    assert result.returncode != 0, f"{ref} can still be pulled"
    assert "manifest unknown" in result.stderr.lower(), f"unexpected failure: {result}"
    return True


def test_delete_tag_then_digest(registry, tools, http, tmp_path):
    repo = "team/del"
    base = f"{registry.url}/v2/{repo}"
    image = make_image((8 * KiB, 32 * KiB))
    other = make_image((8 * KiB,))  # a bystander in the same repository
    src = write_layout(tmp_path / "src", "v1", image)
    write_layout(src, "keep", other)
    for tag in ("v1", "v2"):  # two tags, one manifest
        tools.skopeo(
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{src}:v1",
            registry.ref(f"{repo}:{tag}"),
        )
    tools.skopeo(
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        f"oci:{src}:keep",
        registry.ref(f"{repo}:keep"),
    )
    for tag in ("v1", "v2"):
        r = http.get(f"{base}/manifests/{tag}", headers=ACCEPT)
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == image.digest
    assert {"v1", "v2", "keep"} <= set(_tags(http, registry, repo))

    # --- delete by tag ----------------------------------------------------------
    r = http.delete(f"{base}/manifests/v1")
    if registry.kind == "dockyard":
        # OCI distribution-spec: tag deletion answers 202 (Distribution 2.8 answers 400).
        assert r.status_code == 202, (r.status_code, r.text)
    if r.status_code == 202:
        assert http.get(f"{base}/manifests/v1", headers=ACCEPT).status_code == 404
        assert _pull_fails(tools, registry.ref(f"{repo}:v1"), f"oci:{tmp_path / 'out-tag'}:x")
        # Only the tag went away: the other tag and the manifest itself remain.
        r = http.get(f"{base}/manifests/v2", headers=ACCEPT)
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == image.digest
        assert http.get(f"{base}/manifests/{image.digest}", headers=ACCEPT).status_code == 200
        tags = _tags(http, registry, repo)
        assert "v1" not in tags and "v2" in tags
    else:
        # Refused (Distribution 2.8): nothing may have changed.
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
        r = http.get(f"{base}/manifests/v1", headers=ACCEPT)
        assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == image.digest

    # --- delete by digest --------------------------------------------------------
    r = http.delete(f"{base}/manifests/{image.digest}")
    assert r.status_code == 202, (r.status_code, r.text)

    assert http.get(f"{base}/manifests/{image.digest}", headers=ACCEPT).status_code == 404
    assert http.head(f"{base}/manifests/{image.digest}", headers=ACCEPT).status_code == 404
    out = tmp_path / "out"
    assert _pull_fails(tools, registry.ref(f"{repo}@{image.digest}"), f"oci:{out}:by-digest")
    # No tag may still resolve to the deleted manifest.
    for tag in ("v1", "v2"):
        r = http.get(f"{base}/manifests/{tag}", headers=ACCEPT)
        assert r.status_code == 404, (tag, r.status_code)
        assert _pull_fails(tools, registry.ref(f"{repo}:{tag}"), f"oci:{out}:{tag}")
    tags = _tags(http, registry, repo)
    assert "v1" not in tags and "v2" not in tags

    # The bystander is untouched.
    assert "keep" in tags
    assert tools.raw_manifest(registry.ref(f"{repo}:keep")) == other.manifest
    assert http.delete(f"{base}/manifests/{image.digest}").status_code == 404
