"""Shared tools for the fault tests: a real small filesystem, a disk filler, ``kill -9`` of a
whole server, and the consistency check every fault must leave true."""

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, _wait_until_up
from tests.procs import process_stats
from tests.pushing import ACCEPT_ALL, OCI_INDEX, digest_of

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


@contextlib.contextmanager
def small_filesystem(mountpoint: Path, size: str, kind: str = "tmpfs") -> Iterator[Path]:
    """A real filesystem of ``size`` mounted at ``mountpoint`` (the tests run as root):
    tmpfs, or ext4 in a loop-mounted image next to it. Unmounted afterwards.

    A full-disk test without a real full disk proves nothing, so a failed mount fails the
    test instead of skipping it.
    """
    mountpoint.mkdir(parents=True, exist_ok=True)
    if kind == "tmpfs":
        command = ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                   str(mountpoint)]
    else:
        image = mountpoint.with_name(mountpoint.name + ".img")
        made = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image), size],
                              capture_output=True, text=True)
        if made.returncode != 0:
            pytest.fail(f"cannot make an ext4 image (the fault tests need mkfs.ext4 from "
                        f"e2fsprogs): {made.stderr.strip()}")
        command = ["mount", "-o", "loop", str(image), str(mountpoint)]
    mounted = subprocess.run(command, capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a {size} {kind} at {mountpoint} (the fault tests need "
                    f"root, mount(8) and, for ext4, loop devices): {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill_disk(directory: Path, leave: int = 0) -> Path:
    """Write a filler file until the filesystem is full, then give back ``leave`` bytes."""
    filler = directory / "filler"
    block = b"\0" * (1024 * 1024)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (len(block), 4096, 1):
            while True:
                try:
                    os.write(fd, block[:size])
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler


def assert_full(response: httpx.Response) -> None:
    """The full-disk answer: 507, the spec's envelope, code UNKNOWN, a message that says so."""
    assert response.status_code == 507, response.text
    errors = response.json()["errors"]
    assert [e["code"] for e in errors] == ["UNKNOWN"]
    assert "no space left on the registry's storage" in errors[0]["message"]


def kill_server(server: RunningServer) -> None:
    """``kill -9`` the server and every worker (they share its process group)."""
    server.client.close()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(30)
    deadline = time.monotonic() + 30
    while _live_members(server.process.pid):
        if time.monotonic() > deadline:
            pytest.fail("a server process survived kill -9 of its process group")
        time.sleep(0.05)


def relaunch_with_workers(server: RunningServer, workers: int) -> RunningServer:
    """Stop ``server`` and serve its config again with ``--workers``; the caller stops it."""
    server.stop()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with open(server.log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dockyard", "serve", "--workers", str(workers),
             str(server.config_path)], stdout=log, stderr=subprocess.STDOUT, env=environment,
            start_new_session=True)
    again = RunningServer(process, server.url, server.root, server.config_path,
                          server.log_path)
    _wait_until_up(again)
    return again


def _live_members(group: int) -> list[int]:
    """Processes of ``group`` still running (zombies waiting for a reaper do not count)."""
    return [pid for pid, fields in process_stats() if int(fields[2]) == group
            and fields[0] != "Z"]


def blob_path(root: Path, digest: str) -> Path:
    algorithm, hexpart = digest.split(":")
    return root / "docker/registry/v2/blobs" / algorithm / hexpart[:2] / hexpart / "data"


def upload_dirs(root: Path, repository: str) -> list[Path]:
    """The upload sessions on disk for ``repository``."""
    uploads = root / "docker/registry/v2/repositories" / repository / "_uploads"
    return sorted(uploads.iterdir()) if uploads.exists() else []


def run_scrub(config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockyard", "scrub", "--report-only",
                           str(config_path)], capture_output=True, text=True, timeout=300)


def assert_blob_whole_or_absent(client: httpx.Client, repository: str, digest: str) -> bool:
    """HEAD/GET of ``digest`` answer 404, or the complete blob that hashes to it."""
    head = client.head(f"/v2/{repository}/blobs/{digest}")
    assert head.status_code in (200, 404), head.text
    got = client.get(f"/v2/{repository}/blobs/{digest}")
    assert got.status_code == head.status_code, (head.status_code, got.status_code)
    if got.status_code == 404:
        assert got.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
        return False
    assert digest_of(got.content) == digest, f"{digest} served with bytes of another digest"
    assert int(head.headers["content-length"]) == len(got.content)
    return True


def assert_every_tag_whole(client: httpx.Client) -> dict[str, dict[str, str]]:
    """Every tag of every repository names a manifest that verifies, whose blobs and
    children all GET and verify. Returns ``{repository: {tag: digest}}``."""
    catalog = client.get("/v2/_catalog", params={"n": 1000})
    assert catalog.status_code == 200, catalog.text
    found: dict[str, dict[str, str]] = {}
    for repository in catalog.json()["repositories"]:
        tags = client.get(f"/v2/{repository}/tags/list", params={"n": 1000})
        assert tags.status_code == 200, tags.text
        found[repository] = {}
        for tag in tags.json()["tags"] or []:
            found[repository][tag] = _assert_manifest_whole(client, repository, tag)
    return found


def _assert_manifest_whole(client: httpx.Client, repository: str, reference: str) -> str:
    response = client.get(f"/v2/{repository}/manifests/{reference}",
                          headers={"accept": ACCEPT_ALL})
    assert response.status_code == 200, f"{repository}:{reference} -> {response.text}"
    digest = digest_of(response.content)
    assert response.headers["docker-content-digest"] == digest
    document = json.loads(response.content)
    if document.get("mediaType") in (OCI_INDEX, DOCKER_LIST):
        for child in document["manifests"]:
            assert _assert_manifest_whole(client, repository, child["digest"]) == \
                child["digest"]
        return digest
    for entry in [document["config"], *document["layers"]]:
        assert assert_blob_whole_or_absent(client, repository, entry["digest"]), \
            f"{repository}:{reference} references {entry['digest']}, which is missing"
    return digest
