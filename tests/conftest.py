"""Fixtures that start a real Dockyard server (``python -m dockyard serve``) on loopback."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A Dockyard process the tests started, and an HTTP client bound to it."""

    process: subprocess.Popen[bytes]
    url: str
    root: Path
    config_path: Path
    log_path: Path
    verify: Any = True
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=30, verify=self.verify)

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Stop the server; its workers go too (they share its process group)."""
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # Any worker left behind.
        return int(self.process.returncode)


def start_server(tmp: Path, overrides: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None, scheme: str = "http",
                 verify: Any = True, serve_args: Sequence[str] = ()) -> RunningServer:
    """Start ``dockyard serve`` with a config.yml under ``tmp`` and wait until it answers.

    ``serve_args`` go after the config path (``("--workers", "2")``, say)."""
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "fields": {"service": "registry"}},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "data")},
                    "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}",
                 "headers": {"X-Content-Type-Options": ["nosniff"]}},
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
    environment.update(env or {})
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "dockyard", "serve", str(config_path),
                                    *serve_args], stdout=log, stderr=subprocess.STDOUT,
                                   env=environment, start_new_session=True)
    server = RunningServer(process, f"{scheme}://127.0.0.1:{port}", tmp / "data", config_path,
                           log_path, verify)
    _wait_until_up(server)
    return server


def _wait_until_up(server: RunningServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"dockyard exited early:\n{server.log()}")
        try:
            server.client.get("/v2/")  # Any answer (401 with auth, 503 unhealthy) means up.
            return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"dockyard did not answer within {timeout}s:\n{server.log()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One Dockyard with deletes enabled, shared by the API tests."""
    running = start_server(tmp_path_factory.mktemp("dockyard"))
    yield running
    running.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers with their own configuration; stopped at the end of the test."""
    started: list[RunningServer] = []

    def factory(overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None,
                subdir: str = "srv", **options: Any) -> RunningServer:
        directory = tmp_path / f"{subdir}{len(started)}"
        directory.mkdir()
        running = start_server(directory, overrides, env, **options)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()
