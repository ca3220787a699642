"""Network faults between the client and a real Dockyard: retries, resumed uploads, corruption.

The proxy in ``doubles.py`` stands in for the network only; the registry is real.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator

import pytest

from dockyard.client import ClientOptions, DigestMismatch, RegistryClient, TransportError
from tests.client.content import push_image
from tests.client.doubles import FaultProxy, byte_source
from tests.pushing import push_blob, unique_repo

KiB = 1024


def tags_list(method: str, path: str) -> bool:
    return method == "GET" and path.endswith("/tags/list")


def test_429_and_503_are_retried_after_the_wait_the_registry_asks(cli, module_server,
                                                                  client_log):
    repo = unique_repo("retry")
    push_image(module_server.client, repo, "v1", layer_sizes=(10,))
    with FaultProxy(module_server.host) as proxy:
        proxy.faults.refusals += [(tags_list, 503, "1"), (tags_list, 429, "1")]
        result = cli("tags", f"{proxy.host}/{repo}", "--json")
        assert result.exit_code == 0, result.output
        assert [s.status for s in proxy.requests("GET", "/tags/list")] == [503, 429, 200]
    waits = [m for m in client_log.messages if "retrying GET" in m]
    assert len(waits) == 2 and all(" in 1.0s: HTTP " in w for w in waits), waits


def test_retries_run_out_with_one_line(cli, module_server):
    repo = unique_repo("retry")
    push_image(module_server.client, repo, "v1", layer_sizes=(10,))
    with FaultProxy(module_server.host) as proxy:
        proxy.faults.refusals += [(tags_list, 503, "0")] * 6
        result = cli("tags", f"{proxy.host}/{repo}")
        assert len(proxy.requests("GET", "/tags/list")) == 5  # 1 + ClientOptions.retries
    assert result.exit_code == 1
    assert result.stderr == f"tags {proxy.host}/{repo}: registry refused: UNAVAILABLE try later\n"


def test_chunked_upload_resumes_where_the_registry_stopped(module_server, client_log):
    repo = unique_repo("resume")
    data = os.urandom(1024 * KiB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    options = ClientOptions(chunk_size=256 * KiB, monolithic_limit=0, backoff=0.01)
    opened: list[int] = []
    open_from = byte_source(data, opened, 64 * KiB)

    async def upload(host: str) -> None:
        async with RegistryClient(host, options=options) as client:
            await client.upload_blob_resumable(repo, digest, len(data), open_from)

    with FaultProxy(module_server.host) as proxy:
        proxy.faults.drop_patch = (256 * KiB, 100 * KiB)  # cut the second chunk at 100 KiB
        asyncio.run(upload(proxy.host))
        patches = proxy.requests("PATCH")
        statuses = proxy.requests("GET", "/blobs/uploads/")
    assert patches[0].content_range == f"0-{256 * KiB - 1}"
    assert patches[1].status == 0 and patches[1].content_range.startswith(f"{256 * KiB}-")
    assert len(statuses) == 1  # asked the session where it stands
    assert len(opened) == 2 and opened[0] == 0 and opened[1] >= 256 * KiB  # not from zero
    assert patches[2].content_range.startswith(f"{opened[1]}-")
    assert sum(p.body_size for p in patches) < len(data) + 256 * KiB
    stored = module_server.client.get(f"/v2/{repo}/blobs/{digest}")
    assert stored.status_code == 200 and stored.content == data
    assert any("resumes at byte" in m for m in client_log.messages)


def test_monolithic_upload_and_mount(module_server):
    repo, other = unique_repo("mono"), unique_repo("mono")
    data = os.urandom(300 * KiB)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 100 * KiB):
            yield data[start:start + 100 * KiB]

    async def work(host: str) -> tuple[bool, bool, int | None, int | None]:
        async with RegistryClient(host) as client:
            await client.upload_blob(repo, digest, len(data), chunks())
            mounted = await client.mount_blob(other, digest, repo)
            refused = await client.mount_blob(unique_repo("mono"), "sha256:" + "0" * 64, repo)
            return (mounted, refused, await client.blob_size(other, digest),
                    await client.blob_size(repo, "sha256:" + "1" * 64))

    with FaultProxy(module_server.host) as proxy:
        mounted, refused, size, absent = asyncio.run(work(proxy.host))
        puts = proxy.requests("PUT", "/blobs/uploads/")
    assert (mounted, refused, size, absent) == (True, False, len(data), None)
    assert len(puts) == 1 and puts[0].body_size == len(data)  # one request, no PATCH


def test_a_corrupted_byte_is_a_digest_mismatch(cli, module_server):
    repo = unique_repo("corrupt")
    image = push_image(module_server.client, repo, "v1", layer_sizes=(4000,))
    layer_digest = json.loads(image.body)["layers"][0]["digest"]

    async def read_layer(host: str) -> bytes:
        async with RegistryClient(host) as client, \
                client.blob_stream(repo, layer_digest) as chunks:
            return b"".join([chunk async for chunk in chunks])

    async def manifest(host: str, reference: str) -> None:
        async with RegistryClient(host) as client:
            await client.get_manifest(repo, reference)

    with FaultProxy(module_server.host) as proxy:
        proxy.faults.corrupt = lambda method, path: "/blobs/" in path
        with pytest.raises(DigestMismatch):
            asyncio.run(read_layer(proxy.host))
        inspected = cli("inspect", f"{proxy.host}/{repo}:v1")
        assert inspected.exit_code == 1 and "digest mismatch" in inspected.stderr
        assert inspected.stderr.count("\n") == 1
        proxy.faults.corrupt = lambda method, path: "/manifests/" in path
        for reference in ("v1", image.digest):  # Docker-Content-Digest, then the digest asked
            with pytest.raises(DigestMismatch):
                asyncio.run(manifest(proxy.host, reference))
    assert len(asyncio.run(read_layer(module_server.host))) == 4000  # clean path still works


def test_unreachable_registry_is_a_transport_error():
    options = ClientOptions(retries=1, backoff=0.01)

    async def ping() -> None:
        async with RegistryClient("127.0.0.1:9", options=options) as client:
            await client.ping()

    with pytest.raises(TransportError, match="Connect"):
        asyncio.run(ping())



def test_a_download_cut_mid_stream_resumes_with_a_range_request(module_server, client_log):
    repo = unique_repo("cut")
    data = os.urandom(3 * 1024 * KiB)
    digest = push_blob(module_server.client, repo, data)

    async def read(host: str) -> bytes:
        async with RegistryClient(host, options=ClientOptions(backoff=0.01)) as client, \
                client.blob_stream(repo, digest) as chunks:
            return b"".join([chunk async for chunk in chunks])

    with FaultProxy(module_server.host) as proxy:
        proxy.faults.cut_response = (lambda method, path: "/blobs/sha256:" in path, 1000 * KiB)
        assert asyncio.run(read(proxy.host)) == data
        gets = proxy.requests("GET", "/blobs/sha256:")
    assert [g.range for g in gets] == [None, f"bytes={1000 * KiB}-"]
    assert any("resumes at byte 1024000" in m for m in client_log.messages)
