"""OCI 1.1 artifacts with a subject, found through the referrers API.

The image is pushed with skopeo; the artifacts are pushed by hand over HTTP
(POST + PUT blob uploads, then a manifest PUT) exactly as an ORAS-style client
would. Distribution 2.8 stores such manifests but predates the referrers API,
so against it the test stops (skips) right after the pushes.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest
from images import (
    MT_OCI_EMPTY,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    canonical_json,
    descriptor,
    make_image,
    sha256_digest,
    write_layout,
)

pytestmark = pytest.mark.e2e

KiB = 1024
EMPTY_JSON = b"{}"
SBOM_TYPE = "application/vnd.example.sbom"
SIG_TYPE = "application/vnd.example.signature"
DISTRIBUTION_SKIP = (
    "Distribution 2.8 predates OCI distribution-spec 1.1: no OCI-Subject header and no "
    "/v2/<name>/referrers/<digest> API"
)


def upload_blob(http, registry, repo: str, data: bytes) -> str:
    """POST to open an upload session, then a monolithic PUT ?digest= to close it."""
    digest = sha256_digest(data)
    r = http.post(f"{registry.url}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, (r.status_code, r.text)
    location = urllib.parse.urljoin(registry.url + "/", r.headers["Location"])
    sep = "&" if urllib.parse.urlsplit(location).query else "?"
    r = http.put(
        f"{location}{sep}digest={urllib.parse.quote(digest)}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, (r.status_code, r.text)
    assert r.headers.get("Docker-Content-Digest", digest) == digest
    r = http.head(f"{registry.url}/v2/{repo}/blobs/{digest}")
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(data)
    return digest


def make_artifact(
    artifact_type: str,
    payload: bytes,
    payload_type: str,
    subject: dict,
    annotations: dict[str, str],
) -> bytes:
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": descriptor(MT_OCI_EMPTY, EMPTY_JSON),
            "layers": [descriptor(payload_type, payload)],
            "subject": subject,
            "annotations": annotations,
        }
    )


def _described(index: dict) -> dict[str, dict]:
    """{digest: descriptor restricted to the fields the spec requires} of a referrers index."""
    keys = ("mediaType", "digest", "size", "artifactType", "annotations")
    out = {}
    for m in index["manifests"]:
        assert m["digest"] not in out, f"duplicate referrer {m['digest']}"
        out[m["digest"]] = {k: m.get(k) for k in keys}
    return out


def test_artifact_subject_and_referrers(registry, tools, http, tmp_path):
    repo = "team/referrers"
    base = f"{registry.url}/v2/{repo}"
    image = make_image((4 * KiB, 16 * KiB))
    src = write_layout(tmp_path / "src", "v1", image)
    tools.skopeo(
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        f"oci:{src}:v1",
        registry.ref(f"{repo}:v1"),
    )
    assert tools.raw_manifest(registry.ref(f"{repo}:v1")) == image.manifest
    subject = descriptor(MT_OCI_MANIFEST, image.manifest)

    # Two artifacts of different types referring to the image.
    sbom_payload = json.dumps({"spdxVersion": "SPDX-2.3", "name": "e2e"}).encode()
    sbom_annotations = {
        "org.opencontainers.image.created": "2024-01-01T00:00:00Z",
        "org.example.sbom.format": "spdx-json",
    }
    sbom = make_artifact(
        SBOM_TYPE, sbom_payload, "application/spdx+json", subject, sbom_annotations
    )
    sig_payload = b"not really a signature"
    sig_annotations = {"org.example.signer": "e2e"}
    sig = make_artifact(
        SIG_TYPE, sig_payload, "application/vnd.example.signature.v1", subject, sig_annotations
    )

    put_responses = {}
    for manifest, payload in ((sbom, sbom_payload), (sig, sig_payload)):
        upload_blob(http, registry, repo, EMPTY_JSON)
        upload_blob(http, registry, repo, payload)
        digest = sha256_digest(manifest)
        r = http.put(
            f"{base}/manifests/{digest}",
            content=manifest,
            headers={"Content-Type": MT_OCI_MANIFEST},
        )
        assert r.status_code == 201, (r.status_code, r.text)
        assert r.headers["Docker-Content-Digest"] == digest
        put_responses[digest] = r
        r = http.get(f"{base}/manifests/{digest}", headers={"Accept": MT_OCI_MANIFEST})
        assert r.status_code == 200 and r.content == manifest

    if registry.kind == "distribution":
        pytest.skip(DISTRIBUTION_SKIP)

    for r in put_responses.values():
        assert r.headers.get("OCI-Subject") == image.digest, dict(r.headers)

    expected = {
        sha256_digest(sbom): {
            "mediaType": MT_OCI_MANIFEST,
            "digest": sha256_digest(sbom),
            "size": len(sbom),
            "artifactType": SBOM_TYPE,
            "annotations": sbom_annotations,
        },
        sha256_digest(sig): {
            "mediaType": MT_OCI_MANIFEST,
            "digest": sha256_digest(sig),
            "size": len(sig),
            "artifactType": SIG_TYPE,
            "annotations": sig_annotations,
        },
    }

    # Unfiltered: both artifacts, with artifactType and annotations.
    r = http.get(f"{base}/referrers/{image.digest}")
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].split(";")[0] == MT_OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2
    assert index.get("mediaType", MT_OCI_INDEX) == MT_OCI_INDEX
    assert _described(index) == expected

    # Filtered by artifactType: only the SBOM, and the registry says it filtered.
    r = http.get(f"{base}/referrers/{image.digest}", params={"artifactType": SBOM_TYPE})
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers.get("OCI-Filters-Applied") == "artifactType", dict(r.headers)
    assert _described(r.json()) == {sha256_digest(sbom): expected[sha256_digest(sbom)]}

    r = http.get(
        f"{base}/referrers/{image.digest}", params={"artifactType": "application/vnd.example.none"}
    )
    assert r.status_code == 200
    assert r.json()["manifests"] == []

    # A manifest nobody refers to has an empty (not missing) referrers list.
    r = http.get(f"{base}/referrers/{sha256_digest(sbom)}")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == MT_OCI_INDEX
    assert r.json()["manifests"] == []
