"""Client tests: credential files isolated per test, and the dockyard CLI run in-process."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from dockyard.cli import app
from tests.conftest import RunningServer, start_server

CREDENTIAL_VARIABLES = ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_RUNTIME_DIR",
                        "XDG_CONFIG_HOME")


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real ~/.docker, ~/.config or podman auth files."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home


class Records(logging.Handler):
    """The messages the client logged (attached to its own logger: ``dockyard.logs`` may
    have stopped ``dockyard`` from propagating to the root, where caplog listens)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def client_log() -> Iterator[Records]:
    logger = logging.getLogger("dockyard.client")
    records, saved = Records(), logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(records)
        logger.setLevel(saved)


class Cli:
    """``dockyard ARGS`` in this process; ``stdout``/``stderr``/``exit_code`` as typer gives."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:  # noqa: A002
        return self.runner.invoke(app, [str(a) for a in args], input=input)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A Dockyard of this module alone (its catalog holds only what the module pushed)."""
    server = start_server(tmp_path_factory.mktemp("client"))
    yield server
    server.stop()


Factory = Callable[..., RunningServer]
