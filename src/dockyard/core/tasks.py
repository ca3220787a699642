"""Stopping a component's background tasks (collector, upload purge, retention, health)."""

import asyncio
import contextlib
from typing import Any


async def cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel every task, wait until each has finished unwinding, and empty ``tasks``.

    All are cancelled before the first is awaited, so one slow ``finally`` does not keep the
    others running; a task's own exception is not swallowed, only its cancellation.
    """
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    tasks.clear()
