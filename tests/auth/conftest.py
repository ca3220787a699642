"""Servers with auth configured: the shared factory, under the names these tests use."""

from collections.abc import Callable
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
