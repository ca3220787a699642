"""Running blocking calls (database writes, fsync) off the event loop."""

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


async def in_thread(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Await ``function(*args)`` run in the default thread pool."""
    return await asyncio.to_thread(function, *args, **kwargs)
