"""Servers with auth configured.

``tests/conftest.py``'s ``server_factory`` waits for ``GET /v2/`` to answer 200, which a
registry with auth never does; ``auth_server_factory`` is the same thing but also accepts
the 401 challenge as "up".
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import RunningServer, free_port


def start_auth_server(tmp: Path, overrides: dict[str, Any] | None = None) -> RunningServer:
    """``dockyard serve`` with ``overrides`` (dotted keys) applied; up when /v2/ answers."""
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info"},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "data")},
                    "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    for dotted, value in (overrides or {}).items():
        node = config
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    config_path = tmp / "config.yml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp / "server.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "dockyard", "serve", str(config_path)],
                                   stdout=log, stderr=subprocess.STDOUT, env=environment)
    server = RunningServer(process, f"http://127.0.0.1:{port}", tmp / "data", config_path,
                           log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockyard exited early:\n{server.log()}")
        try:
            if server.client.get("/v2/").status_code in (200, 401):
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"dockyard did not answer within 30s:\n{server.log()}")


@pytest.fixture
def auth_server_factory(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def factory(overrides: dict[str, Any] | None = None) -> RunningServer:
        directory = tmp_path / f"srv{len(started)}"
        directory.mkdir()
        running = start_auth_server(directory, overrides)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()


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
