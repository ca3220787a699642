"""docker-archive endpoints: the tar we write has docker save's shape (uncompressed layers
named by diff ID), we read it and docker's own variants back, and bad bytes are refused."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from dockyard.client.transfer.archive_read import ArchiveSource
from dockyard.client.transfer.archive_write import ArchiveDestination
from dockyard.client.transfer.copy import CopyOptions, copy_image
from dockyard.client.transfer.layout import LayoutDestination, LayoutSource
from dockyard.client.transfer.model import ContentMismatch, Platform, TransferError
from tests.e2e.images import make_image, make_index, read_layout, sha256_digest, write_layout


def run(source, destination, **options):  # type: ignore[no-untyped-def]
    return asyncio.run(copy_image(source, destination, CopyOptions(**options)))


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def test_written_archive_has_docker_save_shape(tmp_path: Path) -> None:
    image = make_image()
    write_layout(tmp_path / "lay", "v1", image)
    run(LayoutSource(str(tmp_path / "lay"), "v1"),
        ArchiveDestination(str(tmp_path / "out.tar"), "team/app:v1"))
    files = members(tmp_path / "out.tar")
    [entry] = json.loads(files["manifest.json"])
    assert entry["RepoTags"] == ["team/app:v1"]
    assert files[entry["Config"]] == image.config
    assert entry["Config"] == sha256_digest(image.config).split(":")[1] + ".json"
    for name, layer in zip(entry["Layers"], image.layers, strict=True):
        assert name == layer.diff_id.split(":")[1] + ".tar"
        assert files[name] == gzip.decompress(layer.blob)  # stored uncompressed
    assert not list(tmp_path.glob(".tmp-*"))


def test_archive_round_trip_reads_back_diff_ids(tmp_path: Path) -> None:
    index = make_index()
    write_layout(tmp_path / "lay", "v1", index)
    run(LayoutSource(str(tmp_path / "lay"), "v1"),
        ArchiveDestination(str(tmp_path / "out.tar"), None), platform=Platform.parse("linux/arm64"))
    source = ArchiveSource(str(tmp_path / "out.tar"), None)
    result = run(source, LayoutDestination(str(tmp_path / "back"), "v1"))
    arm = index.children["linux/arm64"]
    manifest = json.loads(asyncio.run(source.get_manifest()).body)
    assert manifest["config"]["digest"] == sha256_digest(arm.config)
    assert [d["digest"] for d in manifest["layers"]] == [la.diff_id for la in arm.layers]
    _, blobs = read_layout(tmp_path / "back")
    assert blobs[result.digest] == asyncio.run(source.get_manifest()).body


def test_index_needs_a_platform_that_exists(tmp_path: Path) -> None:
    write_layout(tmp_path / "lay", "v1", make_index())
    with pytest.raises(TransferError, match="no image for platform linux/s390x"):
        run(LayoutSource(str(tmp_path / "lay"), "v1"),
            ArchiveDestination(str(tmp_path / "out.tar"), None),
            platform=Platform.parse("linux/s390x"))
    assert not (tmp_path / "out.tar").exists()


def _tar(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)


def _plain_image():  # type: ignore[no-untyped-def]
    image = make_image((2048, 4096))
    return image, [gzip.decompress(layer.blob) for layer in image.layers]


def test_reads_newer_docker_oci_inside_tar(tmp_path: Path) -> None:
    image, plain = _plain_image()
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": b"{}",
             f"blobs/sha256/{sha256_digest(image.config)[7:]}": image.config}
    files.update({f"blobs/sha256/{sha256_digest(p)[7:]}": p for p in plain})
    files["manifest.json"] = json.dumps([{
        "Config": f"blobs/sha256/{sha256_digest(image.config)[7:]}",
        "RepoTags": ["busybox:1"],
        "Layers": [f"blobs/sha256/{sha256_digest(p)[7:]}" for p in plain]}]).encode()
    _tar(tmp_path / "new.tar", files)
    source = ArchiveSource(str(tmp_path / "new.tar"), "docker.io/library/busybox:1")
    run(source, LayoutDestination(str(tmp_path / "out"), "v1"))
    _, blobs = read_layout(tmp_path / "out")
    assert {sha256_digest(p) for p in plain} <= set(blobs)


def test_reads_legacy_symlinked_and_gzipped_layers(tmp_path: Path) -> None:
    image, plain = _plain_image()
    files = {"cfg.json": image.config, "aaa/layer.tar": plain[0],
             "real.tar.gz": image.layers[1].blob}
    files["manifest.json"] = json.dumps([{"Config": "cfg.json", "RepoTags": None,
                                          "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]).encode()
    _tar(tmp_path / "old.tar", files, {"bbb/layer.tar": "../real.tar.gz"})
    source = ArchiveSource(str(tmp_path / "old.tar"), None)
    manifest = json.loads(asyncio.run(source.get_manifest()).body)
    assert [d["digest"] for d in manifest["layers"]] == [image.layers[0].diff_id,
                                                          image.layers[1].digest]
    assert manifest["layers"][1]["mediaType"].endswith("tar.gzip")
    run(source, LayoutDestination(str(tmp_path / "out"), "v1"))


def test_corrupt_layer_in_archive_is_refused(tmp_path: Path) -> None:
    image, plain = _plain_image()
    bad = bytearray(plain[1])
    bad[100] ^= 1
    _tar(tmp_path / "bad.tar", {
        "c.json": image.config, "l0.tar": plain[0], "l1.tar": bytes(bad),
        "manifest.json": json.dumps([{"Config": "c.json", "Layers": ["l0.tar", "l1.tar"]}]
                                    ).encode()})
    with pytest.raises(ContentMismatch):
        run(ArchiveSource(str(tmp_path / "bad.tar"), None),
            LayoutDestination(str(tmp_path / "out"), "v1"))
    assert not (tmp_path / "out" / "index.json").exists()
