"""Cross-repository blob mount, observed on the wire.

skopeo talks to the registry through ``recording_proxy``, a loopback reverse
proxy that records every request and response status. Copying
``HOST/team/mount-a:v1`` to ``HOST/team/mount-b:v1`` must mount each layer
(``POST /v2/team/mount-b/blobs/uploads/?mount=<digest>&from=team/mount-a``
answered ``201 Created``) and never move layer bytes: no layer is downloaded
from A and no upload to B carries more bytes than the (small) config blob.

containers/image only tries a mount for blobs its blob-info cache has seen in
another repository of the same registry; the push to A through the same
proxy address records exactly that.
"""

from __future__ import annotations

import pytest
from images import make_image, write_layout

pytestmark = pytest.mark.e2e

KiB = 1024


def test_cross_repository_mount(registry, tools, http, recording_proxy, tmp_path):
    proxy = recording_proxy
    image = make_image((16 * KiB, 128 * KiB, 512 * KiB))
    src = write_layout(tmp_path / "src", "v1", image)

    tools.skopeo(
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        f"oci:{src}:v1",
        proxy.ref("team/mount-a:v1"),
    )
    pushed = proxy.snapshot()
    # Sanity: the first push really uploaded the layers to A through the proxy.
    for layer in image.layers:
        assert any(
            e.method == "PUT"
            and e.path.startswith("/v2/team/mount-a/blobs/uploads/")
            and e.query.get("digest") == [layer.digest]
            and e.status == 201
            for e in pushed
        ), f"layer {layer.digest} not uploaded to A:\n{proxy.summary()}"

    proxy.clear()
    tools.skopeo(
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        proxy.ref("team/mount-a:v1"),
        proxy.ref("team/mount-b:v1"),
    )
    exchanges = proxy.snapshot()
    log = proxy.summary()

    for layer in image.layers:
        mounts = [
            e
            for e in exchanges
            if e.method == "POST"
            and e.path == "/v2/team/mount-b/blobs/uploads/"
            and e.query.get("mount") == [layer.digest]
        ]
        assert mounts, f"no mount attempted for {layer.digest}:\n{log}"
        assert mounts[-1].query.get("from") == ["team/mount-a"], log
        assert mounts[-1].status == 201, f"mount of {layer.digest} not accepted:\n{log}"
        assert mounts[-1].response_headers.get("location"), "201 mount without Location"
        # Not re-uploaded, not even downloaded.
        assert not [
            e
            for e in exchanges
            if e.method in ("PUT", "PATCH") and e.query.get("digest") == [layer.digest]
        ], log
        assert not [
            e for e in exchanges if e.method == "GET" and e.path.endswith(f"/blobs/{layer.digest}")
        ], log

    uploaded = sum(
        e.request_body_size
        for e in exchanges
        if e.method in ("PATCH", "PUT") and "/blobs/uploads/" in e.path
    )
    assert uploaded <= len(image.config), f"{uploaded} bytes uploaded to B:\n{log}"

    # B is a complete, identical copy.
    assert tools.raw_manifest(registry.ref("team/mount-b:v1")) == image.manifest
    for digest, data in image.blobs.items():
        r = http.get(f"{registry.url}/v2/team/mount-b/blobs/{digest}")
        assert r.status_code == 200 and r.content == data, f"blob {digest} in B"
