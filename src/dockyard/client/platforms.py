"""Platforms (``os/arch[/variant]``) of index entries, and picking one from an index."""

from __future__ import annotations

from typing import Any

# buildx stores provenance and SBOM attestations as index entries with this annotation.
ATTESTATION_ANNOTATION = "vnd.docker.reference.type"


def platform_text(platform: dict[str, Any] | None) -> str:
    """``linux/arm64/v8`` from an OCI platform object ("" when absent)."""
    if not platform:
        return ""
    parts = [str(platform.get("os", "")), str(platform.get("architecture", ""))]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)


def is_attestation(descriptor: dict[str, Any]) -> bool:
    annotations = descriptor.get("annotations") or {}
    return annotations.get(ATTESTATION_ANNOTATION) == "attestation-manifest"


def parse_platform(text: str) -> tuple[str, str, str | None]:
    """``os/arch[/variant]`` or raise ValueError."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant], "
                         "e.g. linux/arm64/v8")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def select(index: dict[str, Any], wanted: str) -> dict[str, Any] | None:
    """The index entry for ``wanted``; without a variant, the first entry of that os/arch."""
    os_name, arch, variant = parse_platform(wanted)
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        if is_attestation(entry):
            continue
        if platform.get("os") != os_name or platform.get("architecture") != arch:
            continue
        if variant is None or platform.get("variant") == variant:
            return dict(entry)
    return None
