"""The inspect view: what ``docker buildx imagetools inspect`` shows, as one JSON document.

``{name, digest, mediaType, size, manifests?, images[], referrers[]}``: an index lists every
entry with its platform, digest and size; each image gives its config (created, entrypoint,
cmd, env, labels...) and layers with sizes; referrers (signatures, SBOMs) come from the
referrers API or its ``sha256-<hex>`` tag fallback.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard.client.documents import json_object
from dockyard.client.errors import ClientError
from dockyard.client.platforms import is_attestation, platform_text
from dockyard.client.reference import ImageReference
from dockyard.client.registry import FetchedManifest, RegistryClient

IMAGE_CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                                "application/vnd.docker.container.image.v1+json"})
_KINDS = {
    "application/vnd.dev.cosign.artifact.sig.v1+json": "signature",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "signature",
    "application/vnd.cncf.notary.signature": "signature",
    "application/spdx+json": "sbom",
    "application/vnd.cyclonedx+json": "sbom",
    "application/vnd.syft+json": "sbom",
    "application/vnd.in-toto+json": "attestation",
}


async def inspect_image(client: RegistryClient, ref: ImageReference,
                        with_referrers: bool = True) -> dict[str, Any]:
    """The whole view of ``ref`` (manifests verified, configs verified)."""
    top = await client.get_manifest(ref.repository, ref.reference)
    document = _object(top)
    view: dict[str, Any] = {"name": str(ref), "digest": top.digest,
                            "mediaType": top.media_type, "size": len(top.body)}
    if top.is_index:
        entries = [d for d in document.get("manifests") or [] if isinstance(d, dict)]
        view["manifests"] = [_entry(d) for d in entries]
        images = [d for d in entries if not is_attestation(d)]
        view["images"] = list(await asyncio.gather(
            *(_child(client, ref.repository, d, with_referrers) for d in images)))
    else:
        view["images"] = [await _image(client, ref.repository, top, document, "")]
    if with_referrers:
        view["referrers"] = await _referrers(client, ref.repository, top.digest)
    return view


async def _child(client: RegistryClient, repository: str, entry: dict[str, Any],
                 with_referrers: bool) -> dict[str, Any]:
    fetched = await client.get_manifest(repository, str(entry.get("digest")))
    image = await _image(client, repository, fetched, _object(fetched),
                         platform_text(entry.get("platform")))
    if with_referrers:
        image["referrers"] = await _referrers(client, repository, fetched.digest)
    return image


async def _image(client: RegistryClient, repository: str, fetched: FetchedManifest,
                 document: dict[str, Any], platform: str) -> dict[str, Any]:
    layers = [{"digest": d.get("digest"), "mediaType": d.get("mediaType"),
               "size": int(d.get("size") or 0)}
              for d in document.get("layers") or [] if isinstance(d, dict)]
    descriptor = document.get("config") or {}
    image: dict[str, Any] = {
        "platform": platform, "digest": fetched.digest, "mediaType": fetched.media_type,
        "size": len(fetched.body), "artifactType": document.get("artifactType"),
        "layers": layers, "layersSize": sum(layer["size"] for layer in layers),
        "config": None}
    if descriptor.get("mediaType") in IMAGE_CONFIG_TYPES and descriptor.get("digest"):
        config = _config(await client.read_blob(repository, str(descriptor["digest"])))
        image["config"] = _config_view(config, str(descriptor["digest"]))
        if not platform:
            image["platform"] = platform_text(config)
    return image


def _config_view(config: dict[str, Any], digest: str) -> dict[str, Any]:
    runtime = config.get("config") or {}
    return {"digest": digest, "created": config.get("created"),
            "os": config.get("os"), "architecture": config.get("architecture"),
            "variant": config.get("variant"), "entrypoint": runtime.get("Entrypoint"),
            "cmd": runtime.get("Cmd"), "env": runtime.get("Env") or [],
            "workingDir": runtime.get("WorkingDir") or None, "user": runtime.get("User") or None,
            "labels": runtime.get("Labels") or {}}


async def _referrers(client: RegistryClient, repository: str, digest: str
                     ) -> list[dict[str, Any]]:
    index = await client.referrers(repository, digest)
    return [{"digest": d.get("digest"), "mediaType": d.get("mediaType"),
             "artifactType": d.get("artifactType"), "size": d.get("size"),
             "kind": _KINDS.get(str(d.get("artifactType")), "artifact"),
             "annotations": d.get("annotations") or {}}
            for d in index.get("manifests") or []]


def _entry(descriptor: dict[str, Any]) -> dict[str, Any]:
    return {"digest": descriptor.get("digest"), "mediaType": descriptor.get("mediaType"),
            "size": descriptor.get("size"), "platform": platform_text(descriptor.get("platform")),
            "attestation": is_attestation(descriptor),
            "annotations": descriptor.get("annotations") or {}}


def _object(fetched: FetchedManifest) -> dict[str, Any]:
    return fetched.json()


def _config(body: bytes) -> dict[str, Any]:
    return json_object(body, "image config", ClientError)
