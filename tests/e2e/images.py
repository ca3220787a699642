"""Build small test images offline, as OCI image layouts, in pure Python.

Nothing here talks to a registry: the layouts are written to a local
directory and handed to real clients (``skopeo copy oci:DIR:TAG ...``).
Layer contents are random on every call so that no two test images share
blobs by accident, and gzip output is deterministic (mtime 0) so a blob's
digest only depends on its bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_LAYOUT_VERSION = "1.0.0"

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_EMPTY = "application/vnd.oci.empty.v1+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

# Accept header that lets a registry return any manifest kind we produce.
MANIFEST_ACCEPT = ", ".join([MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST])

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: object) -> bytes:
    """Stable JSON bytes: what we push is exactly what we hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def descriptor(media_type: str, data: bytes, **extra: object) -> dict:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


@dataclass
class Layer:
    blob: bytes  # gzip-compressed tar, as stored in the registry
    diff_id: str  # digest of the uncompressed tar (goes into the config's rootfs)
    files: dict[str, bytes]

    @property
    def digest(self) -> str:
        return sha256_digest(self.blob)


@dataclass
class Image:
    """One single-platform image: its blobs and its manifest, byte-exact."""

    manifest: bytes
    config: bytes
    layers: list[Layer]

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def blobs(self) -> dict[str, bytes]:
        out = {sha256_digest(self.config): self.config}
        out.update({layer.digest: layer.blob for layer in self.layers})
        return out


@dataclass
class Index:
    """A multi-platform image index and its child images."""

    index: bytes
    children: dict[str, Image] = field(default_factory=dict)  # "os/arch" -> image

    @property
    def digest(self) -> str:
        return sha256_digest(self.index)


def make_layer(files: dict[str, bytes]) -> Layer:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, compresslevel=1) as f:
        f.write(tar_bytes)
    return Layer(blob=gz.getvalue(), diff_id=sha256_digest(tar_bytes), files=files)


def random_layer(size: int, name: str | None = None) -> Layer:
    """A layer holding one file of ``size`` random bytes (random => incompressible)."""
    name = name or f"data/{os.urandom(6).hex()}.bin"
    return make_layer({name: os.urandom(size)})


def make_image(
    layer_sizes: tuple[int, ...] = (4 * 1024, 64 * 1024, 512 * 1024),
    *,
    arch: str = "amd64",
    os_name: str = "linux",
    entrypoint: list[str] | None = None,
) -> Image:
    layers = [random_layer(size) for size in layer_sizes]
    config = canonical_json(
        {
            "architecture": arch,
            "os": os_name,
            "config": {"Entrypoint": entrypoint or ["/bin/true"], "Labels": {"e2e": "dockyard"}},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created_by": "dockyard e2e images.py"} for _ in layers],
        }
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": descriptor(MT_OCI_CONFIG, config),
            "layers": [descriptor(MT_OCI_LAYER_GZIP, layer.blob) for layer in layers],
        }
    )
    return Image(manifest=manifest, config=config, layers=layers)


def make_index(
    platforms: tuple[tuple[str, str], ...] = (("linux", "amd64"), ("linux", "arm64")),
    layer_sizes: tuple[int, ...] = (8 * 1024, 128 * 1024),
) -> Index:
    children: dict[str, Image] = {}
    entries = []
    for os_name, arch in platforms:
        image = make_image(layer_sizes, arch=arch, os_name=os_name)
        children[f"{os_name}/{arch}"] = image
        entries.append(
            descriptor(
                MT_OCI_MANIFEST, image.manifest, platform={"architecture": arch, "os": os_name}
            )
        )
    index = canonical_json({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": entries})
    return Index(index=index, children=children)


def _write_blob(layout: Path, data: bytes) -> None:
    algo, hexdigest = sha256_digest(data).split(":")
    path = layout / "blobs" / algo / hexdigest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_layout(layout: Path, tag: str, item: Image | Index) -> Path:
    """Write ``item`` into an OCI image layout at ``layout`` under ``tag``.

    Usable as ``oci:{layout}:{tag}`` by skopeo/podman/buildah.
    """
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
    images = [item] if isinstance(item, Image) else list(item.children.values())
    for image in images:
        for blob in image.blobs.values():
            _write_blob(layout, blob)
        _write_blob(layout, image.manifest)
    if isinstance(item, Image):
        top = descriptor(MT_OCI_MANIFEST, item.manifest, annotations={ANNOTATION_REF_NAME: tag})
    else:
        _write_blob(layout, item.index)
        top = descriptor(MT_OCI_INDEX, item.index, annotations={ANNOTATION_REF_NAME: tag})
    index_json = layout / "index.json"
    existing = json.loads(index_json.read_text()) if index_json.exists() else None
    manifests = [
        m
        for m in (existing or {}).get("manifests", [])
        if m.get("annotations", {}).get(ANNOTATION_REF_NAME) != tag
    ]
    manifests.append(top)
    index_json.write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    return layout


def read_layout(layout: Path) -> tuple[dict, dict[str, bytes]]:
    """Return (index.json, {digest: bytes} of every blob) of an OCI layout."""
    index = json.loads((layout / "index.json").read_text())
    blobs = {}
    for path in (layout / "blobs").rglob("*"):
        if path.is_file():
            blobs[f"{path.parent.name}:{path.name}"] = path.read_bytes()
    return index, blobs


def layout_ref_digest(layout: Path, tag: str) -> str:
    """Digest of the manifest/index tagged ``tag`` in an OCI layout's index.json."""
    index, _ = read_layout(layout)
    for m in index["manifests"]:
        if m.get("annotations", {}).get(ANNOTATION_REF_NAME) == tag:
            return m["digest"]
    raise KeyError(f"tag {tag!r} not in {layout}/index.json: {index}")


def gunzip_tar_members(blob: bytes) -> dict[str, bytes]:
    """Regular files of a (gzip-compressed or plain) tar layer: {name: content}."""
    data = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                f = tar.extractfile(member)
                assert f is not None
                out[member.name.removeprefix("./").lstrip("/")] = f.read()
    return out
