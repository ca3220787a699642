"""The collector task of each serving worker.

Every ``interval`` (with some jitter, so workers started together do not all try at once)
each worker tries the collector lock without waiting; the one that gets it drains the queue,
the others skip that round. The collection runs in a thread (it blocks on the database and
the filesystem); on shutdown the task asks it to stop after its current batch and waits for
it, so the database is never closed under a running transaction.
"""

import asyncio
import logging
import random
import threading

from sqlalchemy import Engine

from dockyard.config import Config
from dockyard.gc.online.runner import collect_once

log = logging.getLogger("dockyard.gc")


async def collect_forever(config: Config, engine: Engine) -> None:
    """Collect every ``dockyard.gc.interval`` until cancelled."""
    interval = max(config.dockyard.gc.interval.total_seconds(), 0.05)
    stop = threading.Event()
    while True:
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))
        job = asyncio.ensure_future(asyncio.to_thread(_collect, config, engine, stop))
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            stop.set()
            await asyncio.wait([job])
            raise


def _collect(config: Config, engine: Engine, stop: threading.Event) -> None:
    try:
        collect_once(config, engine, stop=stop)
    except Exception:  # Try again next round; a failed collection must not stop serving.
        log.exception("garbage collection failed")
