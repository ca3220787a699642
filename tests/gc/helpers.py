"""Helpers for the garbage-collect tests: run the command, snapshot the DB and the blob store."""

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.pushing import (
    ACCEPT_ALL,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    push_blob,
    put_manifest,
)

SUMMARY = re.compile(r"^(\d+) blobs marked, (\d+) blobs eligible for deletion, (\d+) bytes "
                     r"(freed|would be freed \(dry run\))", re.MULTILINE)


@dataclass
class Pushed:
    """A manifest pushed in a test, with every blob it references (bytes by digest)."""

    repo: str
    digest: str
    body: bytes
    media_type: str
    blobs: dict[str, bytes]


def run_gc(config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return subprocess.run([sys.executable, "-m", "dockyard", "garbage-collect", *flags,
                           str(config)], capture_output=True, text=True, env=env, timeout=120)


def summary(output: str) -> tuple[int, int, int]:
    """(marked, eligible, bytes) from the summary line."""
    found = SUMMARY.findall(output)
    assert len(found) == 1, output
    marked, eligible, freed, _ = found[0]
    return int(marked), int(eligible), int(freed)


def eligible_blobs(output: str) -> set[str]:
    return set(re.findall(r"^blob eligible for deletion: (\S+)$", output, re.MULTILINE))


def deleted_blob_paths(output: str) -> set[str]:
    return set(re.findall(r"^Deleting blob: (\S+)$", output, re.MULTILINE))


def blob_dir(root: Path, digest: str) -> Path:
    algorithm, hexpart = digest.split(":")
    return root / "docker" / "registry" / "v2" / "blobs" / algorithm / hexpart[:2] / hexpart


def stored_digests(root: Path) -> set[str]:
    """Digests with a data file under blobs/, read from the tree directly."""
    base = root / "docker" / "registry" / "v2" / "blobs"
    return {f"{p.parent.parent.parent.name}:{p.parent.name}" for p in base.glob("*/*/*/data")}


def disk_snapshot(root: Path) -> dict[str, str]:
    """Every file under blobs/ with a hash of its content."""
    base = root / "docker" / "registry" / "v2" / "blobs"
    return {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*")) if p.is_file()}


def db_rows(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every metadata table, sorted (alembic's version table aside)."""
    with sqlite3.connect(root / "dockyard" / "metadata.sqlite3") as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {name: sorted(conn.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
                for name in names}


def blob_rows(root: Path) -> dict[str, int]:
    with sqlite3.connect(root / "dockyard" / "metadata.sqlite3") as conn:
        return dict(conn.execute("SELECT digest, size FROM blobs").fetchall())


def link_rows(root: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(root / "dockyard" / "metadata.sqlite3") as conn:
        return set(conn.execute(
            "SELECT r.name, l.digest FROM repository_blobs l JOIN repositories r "
            "ON r.id = l.repository_id").fetchall())


def push_image(client: httpx.Client, repo: str, reference: str, layers: list[bytes],
               **extra: Any) -> Pushed:
    """Push a config (unique) and ``layers``, then the manifest under ``reference``."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "nonce": os.urandom(8).hex()}).encode()
    blobs = {push_blob(client, repo, config): config}
    for layer in layers:
        blobs[push_blob(client, repo, layer)] = layer
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": descriptor(OCI_CONFIG, config),
                "layers": [descriptor(OCI_LAYER, layer) for layer in layers], **extra}
    body = json.dumps(document).encode()
    response = put_manifest(client, repo, reference, body)
    assert response.status_code == 201, response.text
    return Pushed(repo, digest_of(body), body, OCI_MANIFEST, blobs)


def push_index(client: httpx.Client, repo: str, reference: str, children: list[Pushed]
               ) -> Pushed:
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {**descriptor(OCI_MANIFEST, child.body),
         "platform": {"os": "linux", "architecture": f"arch{i}"}}
        for i, child in enumerate(children)]}
    body = json.dumps(document).encode()
    response = put_manifest(client, repo, reference, body, OCI_INDEX)
    assert response.status_code == 201, response.text
    return Pushed(repo, digest_of(body), body, OCI_INDEX, {})


def push_referrer(client: httpx.Client, repo: str, subject: Pushed, payload: bytes) -> Pushed:
    """An artifact (empty config, one layer) whose subject is ``subject``, pushed by digest."""
    empty = b"{}"
    blobs = {push_blob(client, repo, empty): empty, push_blob(client, repo, payload): payload}
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.sbom",
                "config": descriptor("application/vnd.oci.empty.v1+json", empty),
                "layers": [descriptor("application/vnd.example.sbom.v1+json", payload)],
                "subject": descriptor(subject.media_type, subject.body)}
    body = json.dumps(document).encode()
    response = put_manifest(client, repo, digest_of(body), body)
    assert response.status_code == 201, response.text
    return Pushed(repo, digest_of(body), body, OCI_MANIFEST, blobs)


def assert_pulls(client: httpx.Client, image: Pushed) -> None:
    """GET the manifest by digest and every blob it references; all hash right."""
    response = client.get(f"/v2/{image.repo}/manifests/{image.digest}",
                          headers={"accept": ACCEPT_ALL})
    assert response.status_code == 200, (image.repo, image.digest, response.text)
    assert digest_of(response.content) == image.digest
    for digest, data in image.blobs.items():
        blob = client.get(f"/v2/{image.repo}/blobs/{digest}")
        assert blob.status_code == 200, (image.repo, digest, blob.status_code)
        assert digest_of(blob.content) == digest and blob.content == data


def manifest_status(client: httpx.Client, image: Pushed) -> int:
    return client.get(f"/v2/{image.repo}/manifests/{image.digest}",
                      headers={"accept": ACCEPT_ALL}).status_code
