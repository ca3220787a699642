"""``dockyard serve``: check and prepare everything once, then hand over to granian.

The preparation (configuration checks, database migration, indexing of a registry:2 tree, the
serving lock) runs here with every library it needs; then the process replaces itself with
:mod:`dockyard.launch`, which keeps only what supervising the workers needs. The lock's file
descriptor is inherited across the ``exec``, so the lock stays held while serving.
"""

import logging
import os
import sys

from dockyard.auth import build_access_controller
from dockyard.config import Config
from dockyard.config_support import unsupported_settings
from dockyard.gc.lock import hold_serving_lock
from dockyard.launch import EFFECTIVE_CONFIG_ENV, WORKERS_ENV, listen_options
from dockyard.logs import configure_logging
from dockyard.metadata.importer import import_distribution_tree
from dockyard.metadata.store import MetadataStore
from dockyard.notifications.settings import parse_endpoints
from dockyard.tls import granian_tls_options

log = logging.getLogger("dockyard.server")


def serve(config: Config, workers: int = 1) -> None:
    """Prepare, then ``exec`` the granian launcher (never returns on success)."""
    configure_logging(config.log.level, config.log.formatter, dict(config.log.fields))
    for line in unsupported_settings(config):
        log.warning("unsupported config: %s", line)
    parse_endpoints(config.notifications)  # Bad settings stop the start here, not in workers;
    build_access_controller(config)        # this also creates a missing htpasswd file once.
    granian_tls_options(config)
    listen_options(config)
    MetadataStore(config.metadata_url, migrate=True).close()
    imported = import_distribution_tree(config)
    if imported.manifests or imported.blob_links:
        log.info("indexed an existing registry:2 tree: %d repositories, %d manifests, %d tags, "
                 "%d blob links, %d skipped", imported.repositories, imported.manifests,
                 imported.tags, imported.blob_links, len(imported.skipped))
    serving_lock = hold_serving_lock(config)
    if serving_lock is not None:
        os.set_inheritable(serving_lock.fileno(), True)
    os.environ[EFFECTIVE_CONFIG_ENV] = config.to_json()
    os.environ[WORKERS_ENV] = str(workers)
    for handler in logging.getLogger("dockyard").handlers:
        handler.flush()
    os.execv(sys.executable, [sys.executable, "-m", "dockyard.launch"])
