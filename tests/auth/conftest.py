"""Servers with auth configured: the shared factory, under the names these tests use."""

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer, start_server


def start_auth_server(tmp: Path, overrides: dict[str, Any] | None = None) -> RunningServer:
    """``dockyard serve`` with ``overrides``; up as soon as /v2/ answers (401 included)."""
    return start_server(tmp, overrides)


@pytest.fixture
def auth_server_factory(server_factory: Callable[..., RunningServer]
                        ) -> Callable[..., RunningServer]:
    return server_factory


@pytest.fixture
def dockyard_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog for ``dockyard.*`` even after ``configure_logging`` stopped propagation."""
    logger = logging.getLogger("dockyard")
    saved = logger.propagate
    logger.propagate = True
    caplog.set_level(logging.DEBUG, logger="dockyard")
    try:
        yield caplog
    finally:
        logger.propagate = saved
