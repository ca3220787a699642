"""OCI image layout endpoints: copies between layouts keep every digest, verify every blob,
and never leave index.json naming content that is not there."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from dockyard.client.transfer.copy import CopyOptions, copy_image
from dockyard.client.transfer.layout import LayoutDestination, LayoutSource
from dockyard.client.transfer.model import ContentMismatch, Platform, TransferError
from tests.e2e.images import (
    ANNOTATION_REF_NAME,
    layout_ref_digest,
    make_image,
    make_index,
    read_layout,
    write_layout,
)


def copy(src: str, dst: str, **options: object):
    source = LayoutSource(*_split(src))
    destination = LayoutDestination(*_split(dst))
    return asyncio.run(copy_image(source, destination, CopyOptions(**options)))  # type: ignore[arg-type]


def _split(text: str) -> tuple[str, str | None]:
    path, _, tag = text.partition(":")
    return path, tag or None


def test_index_round_trip_keeps_digests_and_blobs(tmp_path: Path) -> None:
    index = make_index()
    write_layout(tmp_path / "a", "v1", index)
    result = copy(f"{tmp_path / 'a'}:v1", f"{tmp_path / 'b'}:v2")
    assert result.digest == index.digest
    assert layout_ref_digest(tmp_path / "b", "v2") == index.digest
    _, blobs_a = read_layout(tmp_path / "a")
    _, blobs_b = read_layout(tmp_path / "b")
    assert blobs_a == blobs_b
    assert (tmp_path / "b" / "oci-layout").is_file()
    assert not list((tmp_path / "b").rglob(".tmp-*")), "temporary files left behind"


def test_platform_picks_one_child(tmp_path: Path) -> None:
    index = make_index()
    write_layout(tmp_path / "a", "v1", index)
    result = copy(f"{tmp_path / 'a'}:v1", f"{tmp_path / 'b'}:arm",
                  platform=Platform.parse("linux/arm64"))
    arm = index.children["linux/arm64"]
    assert result.digest == arm.digest
    assert layout_ref_digest(tmp_path / "b", "arm") == arm.digest
    _, blobs = read_layout(tmp_path / "b")
    assert set(blobs) == {*arm.blobs, arm.digest}


def test_second_copy_is_up_to_date_and_other_tags_survive(tmp_path: Path) -> None:
    image, other = make_image(), make_image()
    write_layout(tmp_path / "a", "v1", image)
    write_layout(tmp_path / "b", "keep", other)
    first = copy(f"{tmp_path / 'a'}:v1", f"{tmp_path / 'b'}:v1")
    second = copy(f"{tmp_path / 'a'}:v1", f"{tmp_path / 'b'}:v1")
    assert (first.up_to_date, first.stats.blobs_copied) == (False, 4)
    assert (second.up_to_date, second.stats.bytes_copied) == (True, 0)
    tags = {m["annotations"][ANNOTATION_REF_NAME]
            for m in json.loads((tmp_path / "b" / "index.json").read_text())["manifests"]}
    assert tags == {"v1", "keep"}


def test_present_blobs_are_skipped(tmp_path: Path) -> None:
    image = make_image()
    write_layout(tmp_path / "a", "v1", image)
    write_layout(tmp_path / "b", "old", image)
    result = copy(f"{tmp_path / 'a'}:v1", f"{tmp_path / 'b'}:new")
    assert result.stats.blobs_skipped == 4 and result.stats.bytes_copied == 0


def test_corrupt_source_blob_is_refused_and_index_untouched(tmp_path: Path) -> None:
    image = make_image()
    write_layout(tmp_path / "a", "v1", image)
    layer = image.layers[-1]
    path = tmp_path / "a" / "blobs" / "sha256" / layer.digest.split(":")[1]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ContentMismatch):
        copy(f"{tmp_path / 'a'}:v1", f"{tmp_path / 'b'}:v1")
    assert not (tmp_path / "b" / "blobs" / "sha256" / layer.digest.split(":")[1]).exists()
    assert not (tmp_path / "b" / "index.json").exists()
    assert not list((tmp_path / "b").rglob(".tmp-*"))


def test_missing_tag_and_ambiguous_layout_are_named(tmp_path: Path) -> None:
    write_layout(tmp_path / "a", "v1", make_image())
    write_layout(tmp_path / "a", "v2", make_image())
    with pytest.raises(TransferError, match="tag 'nope' not found"):
        copy(f"{tmp_path / 'a'}:nope", f"{tmp_path / 'b'}:x")
    with pytest.raises(TransferError, match="holds 2 images"):
        copy(f"{tmp_path / 'a'}", f"{tmp_path / 'b'}:x")
