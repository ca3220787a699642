"""Background upkeep: purging abandoned upload sessions (``storage.maintenance.uploadpurging``)."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from dockyard.storage.base import BlobStore

log = logging.getLogger("dockyard.maintenance")


async def purge_uploads_forever(store: BlobStore, age: timedelta, interval: timedelta,
                                dry_run: bool) -> None:
    """Purge sessions older than ``age`` now and then every ``interval``, until cancelled."""
    while True:
        try:
            purged = await store.purge_uploads(datetime.now(UTC) - age, dry_run)
            if purged:
                verb = "would purge" if dry_run else "purged"
                log.info("%s %d abandoned upload sessions", verb, len(purged),
                         extra={"sessions": purged[:20]})
        except Exception:  # Keep purging on the next round; a failure here must not stop serving.
            log.exception("upload purge failed")
        await asyncio.sleep(max(interval.total_seconds(), 1.0))
