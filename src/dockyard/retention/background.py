"""Retention inside the server: flush pull times every few seconds, run the policies on a
schedule.

Each worker process runs both tasks. Pull times are per-process sets, so every worker must
flush its own; scheduled runs are serialised by the retention lock, so with several workers
one of them runs and the others log that a run was already going. Scheduled runs delete
through the app's metadata object, so a single worker's cache drops what they delete.
"""

import asyncio
import logging
import time

from sqlalchemy import Engine

from dockyard.config import Config
from dockyard.core.immutability import ImmutableTagRule
from dockyard.core.tasks import cancel_all
from dockyard.retention.pulls import PullLog, write_pull_times
from dockyard.retention.runner import Deleter, RetentionBusy, RunTarget, run_retention
from dockyard.retention.runs import last_real_run_start

log = logging.getLogger("dockyard.retention")
FIRST_RUN_WAIT = 3600.0  # With no run recorded yet, the first comes after min(interval, 1 h).
SLACK = 0.1  # A run this close (as a share of the interval) to being due counts as due.


class RetentionBackground:
    """The pull log handlers feed, and the two background tasks of one process."""

    def __init__(self, config: Config, engine: Engine, deleter: Deleter):
        self.settings = config.dockyard.retention
        self.pulls = PullLog()
        self._engine = engine
        self._target = RunTarget(engine, deleter, config.root_directory)
        self._immutable = tuple(ImmutableTagRule(r.repositories, r.tags)
                                for r in config.dockyard.immutability)
        self._read_only = config.storage.maintenance.readonly.enabled
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start flushing pulls; start the schedule when an interval and a policy are set."""
        self._tasks.append(asyncio.create_task(self._flush_forever()))
        interval = self.settings.interval.total_seconds()
        if interval > 0 and self.settings.configured and not self._read_only:
            self._tasks.append(asyncio.create_task(self._run_forever(interval)))

    async def stop(self) -> None:
        """Cancel both tasks and write the pulls still pending (a clean stop loses none)."""
        await cancel_all(self._tasks)
        await self.flush()

    async def flush(self) -> int:
        """Write pending pull times now; on failure keep them for the next flush."""
        batch = self.pulls.take()
        if not batch:
            return 0
        try:
            await asyncio.to_thread(write_pull_times, self._engine, batch, time.time())
        except Exception:  # The database may be busy or read-only; try again next time.
            self.pulls.give_back(batch)
            log.warning("could not record %d pull times; will retry", len(batch),
                        exc_info=True)
            return 0
        return len(batch)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.pullflush.total_seconds())
            await self.flush()

    async def _run_forever(self, interval: float) -> None:
        """Run when ``interval`` has passed since the last real run of any process.

        The schedule is anchored in the database, not in this process's start: a server
        restarted more often than the interval still runs, and after another worker's (or a
        CLI) run the others wait a whole interval again instead of running right after it.
        """
        last = await asyncio.to_thread(last_real_run_start, self._engine)
        delay = min(interval, FIRST_RUN_WAIT) if last is None else last + interval - time.time()
        while True:
            await asyncio.sleep(max(delay, 0.0))
            last = await asyncio.to_thread(last_real_run_start, self._engine)
            if last is not None and last + interval - time.time() > interval * SLACK:
                delay = last + interval - time.time()  # Someone else ran meanwhile.
                continue
            await self.run_once()
            delay = interval

    async def run_once(self) -> None:
        """One scheduled run; a failure is logged and the schedule goes on."""
        try:
            report = await asyncio.to_thread(run_retention, self.settings, self._immutable,
                                             self._target, False, "schedule")
        except RetentionBusy:
            log.info("scheduled retention run skipped: another run is in progress")
            return
        except Exception:
            log.exception("scheduled retention run failed")
            return
        tags = sum(1 for d in report.deleted if d.tag is not None)
        log.info("retention run %d: %d tags deleted, %d kept, %d untagged manifests deleted",
                 report.run_id, tags, len(report.kept), len(report.deleted) - tags,
                 extra={"deleted": [f"{d.repository}:{d.tag}" if d.tag else
                                    f"{d.repository}@{d.digest}" for d in report.deleted[:50]],
                        "skipped": report.skipped[:50]})
