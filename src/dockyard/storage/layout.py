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
        self._blobs_text = str(self.blobs)
        self.repositories = self.v2 / "repositories"

    def blob_dir(self, digest: Digest) -> Path:
        """The directory holding one blob's ``data`` file."""
        return self.blobs / digest.algorithm / digest.hex[:2] / digest.hex

    def blob_data(self, digest: Digest) -> Path:
        """The file holding one blob's bytes."""
        return self.blob_dir(digest) / "data"

    def blob_data_path(self, digest: Digest) -> str:
        """:meth:`blob_data` as a string, built without pathlib: it is on every blob request."""
        return f"{self._blobs_text}/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}/data"

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


# Distribution's link files (``registry/storage/paths.go``). Dockyard never writes them; the
# importer reads them to index an existing registry:2 tree. Each ``link`` holds a digest text
# (``sha256:<hex>``, no newline).

LAYERS_DIR = "_layers"
MANIFESTS_DIR = "_manifests"
UPLOADS_DIR = "_uploads"
LINK_FILE = "link"


def repository_dir(layout: Layout, repository: str) -> Path:
    """A repository's directory: ``repositories/<name>`` (names may be nested paths)."""
    return layout.repositories / repository


def layer_links_dir(layout: Layout, repository: str) -> Path:
    """``_layers``: one ``<alg>/<hex>/link`` per blob the repository may reach."""
    return repository_dir(layout, repository) / LAYERS_DIR


def layer_link(layout: Layout, repository: str, digest: Digest) -> Path:
    """``_layers/<alg>/<hex>/link``."""
    return layer_links_dir(layout, repository) / digest.algorithm / digest.hex / LINK_FILE


def revision_links_dir(layout: Layout, repository: str) -> Path:
    """``_manifests/revisions``: one ``<alg>/<hex>/link`` per manifest the repository holds."""
    return repository_dir(layout, repository) / MANIFESTS_DIR / "revisions"


def revision_link(layout: Layout, repository: str, digest: Digest) -> Path:
    """``_manifests/revisions/<alg>/<hex>/link``."""
    return revision_links_dir(layout, repository) / digest.algorithm / digest.hex / LINK_FILE


def tags_dir(layout: Layout, repository: str) -> Path:
    """``_manifests/tags``: one directory per tag."""
    return repository_dir(layout, repository) / MANIFESTS_DIR / "tags"


def tag_current_link(layout: Layout, repository: str, tag: str) -> Path:
    """``_manifests/tags/<tag>/current/link``: the digest the tag points to now."""
    return tags_dir(layout, repository) / tag / "current" / LINK_FILE
