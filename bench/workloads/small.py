"""Workload 3: small requests at concurrency 64 (10 s each): requests/s, p50 and p99.

Prepared (untimed) on each server: repository ``bench/small`` with one image (an OCI image
manifest, a config and one 1 MiB layer) tagged ``latest`` and ``tag-000`` … ``tag-019``.

* ``head_blob``: HEAD of the 1 MiB layer, with ``ab -i -k -c64 -t10`` (Debian's wrk hangs on
  HEAD; see ``tools.py``).
* ``get_manifest_tag`` / ``get_manifest_digest``: GET the manifest by ``latest`` / by its
  digest, ``wrk -t1 -c64 -d10s --latency`` with an Accept header listing the OCI and Docker
  manifest and index types.
* ``get_tags_list``: GET ``tags/list`` (21 tags) with the same wrk command.

Each target is requested once first and must answer 200 with the expected bytes, so a
server answering errors fast cannot score. wrk's non-2xx responses and socket errors, and
ab's failed and non-2xx requests, are recorded as ``errors``.
"""

from __future__ import annotations

import json
import random

import tools
from harness import Context, Group, MiB, Step
from regclient import ACCEPT, Client, RegistryError, make_image, push_image
from servers import Server

REPO = "bench/small"


def prepare_server(ctx: Context, server: Server) -> None:
    image = make_image(seed=10, layers=1, layer_size=1 * MiB)
    client = Client(server.port)
    push_image(client, REPO, "latest", image)
    digest = None
    for i in range(ctx.sizes.small_repo_tags):
        digest = client.put_manifest(REPO, f"tag-{i:03d}", image.manifest)
    client.close()
    ctx.shared["small_image"] = image
    ctx.shared["small_manifest_digest"] = digest


def _targets(ctx: Context) -> dict[str, str]:
    image = ctx.shared["small_image"]
    layer_digest = image.blobs[1][1]  # type: ignore[attr-defined]
    return {
        "head_blob": f"/v2/{REPO}/blobs/{layer_digest}",
        "get_manifest_tag": f"/v2/{REPO}/manifests/latest",
        "get_manifest_digest": f"/v2/{REPO}/manifests/{ctx.shared['small_manifest_digest']}",
        "get_tags_list": f"/v2/{REPO}/tags/list",
    }


def _check(ctx: Context, server: Server, workload: str, path: str) -> None:
    """One request first: the right status and the right bytes."""
    client = Client(server.port)
    image = ctx.shared["small_image"]
    if workload == "head_blob":
        r = client.request("HEAD", path)
        if int(r.headers.get("content-length", -1)) != MiB:
            raise RegistryError(f"HEAD {path}: Content-Length {r.headers.get('content-length')}")
    elif workload.startswith("get_manifest"):
        r = client.request("GET", path, headers={"Accept": ACCEPT})
        if r.body != image.manifest:  # type: ignore[attr-defined]
            raise RegistryError(f"GET {path}: not the pushed manifest bytes")
    else:
        r = client.request("GET", path)
        tags = json.loads(r.body).get("tags") or []
        if len(tags) != ctx.sizes.small_repo_tags + 1:
            raise RegistryError(f"GET {path}: {len(tags)} tags")
    client.close()


def _load(workload: str):  # type: ignore[no-untyped-def]
    def run(ctx: Context, server: Server) -> dict[str, float]:
        path = _targets(ctx)[workload]
        _check(ctx, server, workload, path)
        url = server.base + path
        sizes = ctx.sizes
        if workload == "head_blob":
            csv = ctx.tmp_dir / f"ab-{server.name}-{random.randrange(1 << 30)}.csv"
            run_ = tools.ab_head(url, sizes.connections, sizes.load_seconds, csv)
            result = tools.parse_ab(run_, csv)
            if result["keepalive_requests"] < result["requests"]:
                ctx.note(f"{workload} on {server.name}: only "
                         f"{result['keepalive_requests']:.0f} of {result['requests']:.0f} "
                         "requests were keep-alive")
        else:
            run_ = tools.wrk(url, sizes.connections, sizes.load_seconds, [f"Accept: {ACCEPT}"])
            result = tools.parse_wrk(run_)
        result["client_cpu_s"] = run_.client_cpu_s
        return result
    return run


GROUP = Group(
    name="small",
    description="small requests at concurrency 64: HEAD blob, GET manifest, GET tags/list",
    prepare_server=prepare_server,
    steps=[Step(w, _load(w)) for w in
           ("head_blob", "get_manifest_tag", "get_manifest_digest", "get_tags_list")],
)
