"""A registry client that speaks only the registry HTTP API (no docker daemon needed).

``RegistryClient`` is the library; ``cli_basic`` adds the simple verbs to ``dockyard``.
Nothing here is imported by the server.
"""

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

__all__ = ["ALL_MANIFEST_TYPES", "ClientError", "ClientOptions", "DigestMismatch",
           "FetchedManifest", "ImageReference", "NotFound", "RegistryClient", "RegistryError",
           "TransportError", "Unsupported", "parse_image"]
