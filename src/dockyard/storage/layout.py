"""The one description of Dockyard's on-disk layout, which is Distribution's.

::

    <root>/docker/registry/v2/
      blobs/<algorithm>/<hex[0:2]>/<hex>/data        content-addressed bytes (layers, configs,
                                                     manifests), as registry:2 writes them
      repositories/<name>/_uploads/<uuid>/data       an upload in progress
      repositories/<name>/_uploads/<uuid>/startedat  RFC 3339 start time (registry:2 format)

Everything else a registry:2 volume holds (``_layers``/``_manifests`` link files) is metadata,
which Dockyard keeps in its database instead; blobs are shared, so a registry:2 volume's bytes
can be served without copying. Callers must validate names, digests and upload ids against
their grammars before asking for a path: these functions only join.
"""

from pathlib import Path

from dockyard.core.digest import Digest


class Layout:
    """Paths under one storage root."""

    def __init__(self, root: Path):
        self.root = root
        self.v2 = root / "docker" / "registry" / "v2"
        self.blobs = self.v2 / "blobs"
        self.repositories = self.v2 / "repositories"

    def blob_dir(self, digest: Digest) -> Path:
        """The directory holding one blob's ``data`` file."""
        return self.blobs / digest.algorithm / digest.hex[:2] / digest.hex

    def blob_data(self, digest: Digest) -> Path:
        """The file holding one blob's bytes."""
        return self.blob_dir(digest) / "data"

    def uploads_dir(self, repository: str) -> Path:
        """Where a repository's upload sessions live."""
        return self.repositories / repository / "_uploads"

    def upload_dir(self, repository: str, upload_id: str) -> Path:
        """One upload session's directory."""
        return self.uploads_dir(repository) / upload_id

    def upload_data(self, repository: str, upload_id: str) -> Path:
        """The bytes received so far for one upload."""
        return self.upload_dir(repository, upload_id) / "data"

    def upload_started_at(self, repository: str, upload_id: str) -> Path:
        """The file recording when an upload started."""
        return self.upload_dir(repository, upload_id) / "startedat"
