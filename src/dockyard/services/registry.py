"""The services of one registry, built over one metadata store and one blob store."""

from dataclasses import dataclass

from dockyard.metadata.base import Metadata
from dockyard.services.blobs import BlobService
from dockyard.services.listing import ListingService
from dockyard.services.manifests import ManifestService
from dockyard.services.settings import RegistrySettings
from dockyard.services.uploads import UploadService
from dockyard.storage.base import BlobStore


@dataclass(frozen=True, slots=True)
class Registry:
    """Everything a handler may call."""

    settings: RegistrySettings
    blobs: BlobService
    uploads: UploadService
    manifests: ManifestService
    listing: ListingService

    @classmethod
    def build(cls, metadata: Metadata, store: BlobStore,
              settings: RegistrySettings) -> "Registry":
        return cls(settings=settings,
                   blobs=BlobService(metadata, store, settings),
                   uploads=UploadService(metadata, store, settings.quotas),
                   manifests=ManifestService(metadata, store, settings),
                   listing=ListingService(metadata, settings))
