"""The debug server on its own: /debug/health, the metrics path, a busy address."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.config import Config, ConfigError
from dockyard.observability import start_debug_server
from dockyard.observability.debug_server import DebugServer
from dockyard.observability.health import Check, ThreadedHealth, file_probe
from tests.observability.helpers import eventually, run_worker, samples, value


@pytest.fixture
def drain(tmp_path: Path) -> Path:
    return tmp_path / "drain"


@pytest.fixture
def debug_server(drain: Path, tmp_path: Path) -> Iterator[DebugServer]:
    directory = tmp_path / "prom"
    directory.mkdir()
    run_worker(directory, 2)
    health = ThreadedHealth([Check(str(drain), file_probe(str(drain)), 0.02)])
    server = DebugServer("127.0.0.1", 0, health, "/custom-metrics", str(directory))
    server.start()
    yield server
    server.stop()


def url(server: DebugServer, path: str) -> str:
    host, port = server.address
    return f"http://{host}:{port}{path}"


def test_health_is_an_empty_object_while_checks_pass(debug_server: DebugServer) -> None:
    response = httpx.get(url(debug_server, "/debug/health"))
    assert response.status_code == 200
    assert response.json() == {}
    assert response.headers["content-type"].startswith("application/json")


def test_health_lists_failing_checks_with_503(debug_server: DebugServer, drain: Path) -> None:
    drain.write_text("")
    response = eventually(lambda: httpx.get(url(debug_server, "/debug/health")),
                          lambda r: r.status_code != 200)
    assert response.status_code == 503
    assert response.json() == {str(drain): "file exists"}
    drain.unlink()
    response = eventually(lambda: httpx.get(url(debug_server, "/debug/health")),
                          lambda r: r.status_code == 200)
    assert response.status_code == 200 and response.json() == {}


def test_metrics_at_the_configured_path(debug_server: DebugServer) -> None:
    response = httpx.get(url(debug_server, "/custom-metrics"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    parsed = samples(response.text)
    assert value(parsed, "registry_http_requests_total", method="GET", handler="blob",
                 code="200") == 2
    assert httpx.head(url(debug_server, "/custom-metrics")).status_code == 200


def test_other_paths_are_not_found(debug_server: DebugServer) -> None:
    for path in ("/metrics", "/debug/vars", "/"):
        assert httpx.get(url(debug_server, path)).status_code == 404


def test_no_metrics_path_without_prometheus(drain: Path) -> None:
    server = DebugServer("127.0.0.1", 0, ThreadedHealth([]))
    server.start()
    try:
        assert httpx.get(url(server, "/metrics")).status_code == 404
        assert httpx.get(url(server, "/debug/health")).json() == {}
    finally:
        server.stop()


def config(**sections: object) -> Config:
    return Config.model_validate({"version": "0.1", **sections})


def test_not_configured_means_no_server() -> None:
    assert start_debug_server(config()) is None


def test_a_busy_address_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ConfigError) as raised:
            start_debug_server(config(http={"debug": {"addr": addr}}))
    assert raised.value.paths == ["http.debug.addr"]
    assert addr in str(raised.value)


def test_started_from_config_in_process(tmp_path: Path) -> None:
    """Without prometheus the server still answers health, from the configured checks."""
    drain = tmp_path / "drain"
    drain.write_text("")
    server = start_debug_server(config(
        http={"debug": {"addr": "127.0.0.1:0"}},
        health={"file": [{"file": str(drain), "interval": "20ms"}]}))
    assert server is not None
    try:
        response = eventually(lambda: httpx.get(url(server, "/debug/health")),
                              lambda r: r.status_code == 503)
        assert json.loads(response.text) == {str(drain): "file exists"}
    finally:
        server.stop()
