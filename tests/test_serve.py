"""``dockyard serve``: configuration at start, environment overrides, shutdown, purging."""

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from tests.conftest import RunningServer, free_port


def test_bad_value_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("version: 0.1\nstorage:\n  delete:\n    enabled: maybe\n")
    result = subprocess.run([sys.executable, "-m", "dockyard", "serve", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "storage.delete.enabled" in result.stderr


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "REGISTRY_HTTP_ADDR": "nonsense"}
    result = subprocess.run([sys.executable, "-m", "dockyard", "serve"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0
    assert "http.addr" in result.stderr


def test_no_config_serves_from_data_in_the_working_directory(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["REGISTRY_HTTP_ADDR"] = f"127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "dockyard", "serve"], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
        _wait(lambda: client.get("/v2/").status_code == 200)
        started = client.post("/v2/x/blobs/uploads/")
        client.put(started.headers["location"], params={"digest": _digest(b"abc")}, content=b"abc")
        assert (tmp_path / "data/dockyard/metadata.sqlite3").exists()
        blob = tmp_path / "data/docker/registry/v2/blobs/sha256" / _digest(b"abc")[7:9]
        assert (blob / _digest(b"abc")[7:] / "data").read_bytes() == b"abc"
        # registry:2 answers deletes with 405 unless storage.delete.enabled is set.
        assert client.delete(f"/v2/x/blobs/{_digest(b'abc')}").status_code == 405
    finally:
        process.terminate()
        assert process.wait(30) == 0


def test_environment_overrides_the_file(server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory(env={"REGISTRY_STORAGE_DELETE_ENABLED": "false"})
    response = server.client.delete(f"/v2/a/manifests/{_digest(b'x')}")
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "UNSUPPORTED"


def test_sigterm_finishes_in_flight_requests(server_factory: Callable[..., RunningServer]
                                             ) -> None:
    server = server_factory()
    location = server.client.post("/v2/slow/blobs/uploads/").headers["location"]
    data = os.urandom(4 * 1024 * 1024)
    result: dict[str, httpx.Response] = {}
    sent_first = threading.Event()

    def slow_body() -> Iterator[bytes]:
        for offset in range(0, len(data), 512 * 1024):
            yield data[offset:offset + 512 * 1024]
            sent_first.set()
            time.sleep(0.2)

    def upload() -> None:
        result["response"] = httpx.put(f"{server.url}{location}", content=slow_body(),
                                       params={"digest": _digest(data)}, timeout=60)

    thread = threading.Thread(target=upload)
    thread.start()
    assert sent_first.wait(30)
    server.process.send_signal(signal.SIGTERM)
    thread.join(60)
    assert result["response"].status_code == 201
    assert server.process.wait(30) == 0


def test_abandoned_uploads_are_purged(server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory({"storage.maintenance.uploadpurging": {
        "enabled": True, "age": "1s", "interval": "1s", "dryrun": False}})
    location = server.client.post("/v2/p/blobs/uploads/").headers["location"]
    server.client.patch(location, content=b"partial")
    _wait(lambda: server.client.get(location).status_code == 404, timeout=15)
    assert server.client.get(location).json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    assert list((server.root / "docker/registry/v2/repositories/p/_uploads").iterdir()) == []


def test_dry_run_purge_keeps_sessions(server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory({"storage.maintenance.uploadpurging": {
        "enabled": True, "age": "1s", "interval": "1s", "dryrun": True}})
    location = server.client.post("/v2/p/blobs/uploads/").headers["location"]
    _wait(lambda: "would purge" in server.log(), timeout=15)
    assert server.client.get(location).status_code == 204


def _wait(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
