"""Concurrent pushes into one namespace cannot overshoot its quota together."""

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import RunningServer
from tests.gc.helpers import run_gc
from tests.pushing import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest_of, put_manifest
from tests.quota.helpers import assert_reconciled, engine_of

KiB = 1024


def test_parallel_uploads_fill_the_quota_exactly(
        server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory({"dockyard.quotas": {"namespaces": {"team": "102KiB"}}})
    blobs = [os.urandom(10 * KiB) for _ in range(24)]  # Exactly ten fit, and a manifest.

    def upload(index: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return client.post(f"/v2/team/r{index % 4}/blobs/uploads/",
                               params={"digest": digest_of(blobs[index])},
                               content=blobs[index]).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(upload, range(len(blobs))))
    assert sorted(set(statuses)) == [201, 403] and statuses.count(201) == 10, statuses
    usage = assert_reconciled(engine_of(server.root))
    assert usage["team"].bytes == 100 * KiB and usage["team"].blobs == 10
    for index, status in enumerate(statuses):
        head = server.client.head(f"/v2/team/r{index % 4}/blobs/{digest_of(blobs[index])}")
        assert head.status_code == (200 if status == 201 else 404)

    # A refusal decided inside the transaction may leave its file without a row; the
    # collection sweeps it, and keeps every accepted blob (a manifest references them).
    accepted = [(i, b) for i, (b, s) in enumerate(zip(blobs, statuses, strict=True))
                if s == 201]
    for index, blob in accepted:  # Into one repository; a mount within a namespace is free.
        if index % 4:
            mounted = server.client.post("/v2/team/r0/blobs/uploads/", params={
                "mount": digest_of(blob), "from": f"team/r{index % 4}"})
            assert mounted.status_code == 201, mounted.text
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, accepted[0][1]),
        "layers": [descriptor(OCI_LAYER, b) for _, b in accepted[1:]]}).encode()
    put = put_manifest(server.client, "team/r0", "v1.0.0", manifest)
    assert put.status_code == 201, put.text
    server.stop()
    collected = run_gc(server.config_path)
    assert collected.returncode == 0, collected.stderr
    files = {p.parent.name for p in (server.root / "docker/registry/v2/blobs").rglob("data")}
    refused = {digest_of(b).split(":")[1] for b, s in zip(blobs, statuses, strict=True)
               if s == 403}
    assert not files & refused
    assert {digest_of(b).split(":")[1] for _, b in accepted} <= files
