"""A registry client that speaks only the registry HTTP API (no docker daemon needed).

``RegistryClient`` is the library; ``cli_basic`` adds the simple verbs to ``dockyard``.
Names are loaded on first use (PEP 562), so registering the CLI verbs does not import httpx
into ``dockyard serve``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ClientError": "errors", "DigestMismatch": "errors", "NotFound": "errors",
    "RegistryError": "errors", "TransportError": "errors", "Unsupported": "errors",
    "ClientOptions": "options", "ImageReference": "reference", "parse_image": "reference",
    "ALL_MANIFEST_TYPES": "registry", "FetchedManifest": "registry",
    "RegistryClient": "registry",
}
__all__ = ["ALL_MANIFEST_TYPES", "ClientError", "ClientOptions", "DigestMismatch",
           "FetchedManifest", "ImageReference", "NotFound", "RegistryClient", "RegistryError",
           "TransportError", "Unsupported", "parse_image"]

if TYPE_CHECKING:
    from dockyard.client.errors import (
        ClientError,
        DigestMismatch,
        NotFound,
        RegistryError,
        TransportError,
        Unsupported,
    )
    from dockyard.client.options import ClientOptions
    from dockyard.client.reference import ImageReference, parse_image
    from dockyard.client.registry import ALL_MANIFEST_TYPES, FetchedManifest, RegistryClient


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.client' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dockyard.client.{module}"), name)
