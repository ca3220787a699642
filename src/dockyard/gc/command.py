"""``dockyard garbage-collect``: mark and sweep over the metadata database and blob store."""

from dockyard.config import Config


def run_garbage_collect(config: Config, dry_run: bool, delete_untagged: bool, quiet: bool,
                        force: bool) -> int:
    """Collect garbage; returns the process exit code."""
    raise NotImplementedError
