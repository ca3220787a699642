"""Real servers: metrics scraped from the debug server, health gating the API, access log."""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import RunningServer, _wait_until_up, free_port
from tests.observability.helpers import eventually, run_worker, samples, value
from tests.pushing import (
    assert_error,
    digest_of,
    image_manifest,
    push_blob,
    put_manifest,
    unique_repo,
)

Factory = Callable[..., RunningServer]
AGENT = "dockyard-observability-test/1.0"


def debug_config(port: int, **extra: Any) -> dict[str, Any]:
    return {"http.debug": {"addr": f"127.0.0.1:{port}",
                           "prometheus": {"enabled": True, "path": "/metrics"}}, **extra}


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return samples(response.text)


REQUESTS = "registry_http_requests_total"
# (method, handler, code) of one image push and pull: config + 2 layers, then the manifest.
PUSH_AND_PULL = {("POST", "blob_upload", "202"): 3, ("PUT", "blob_upload_chunk", "201"): 3,
                 ("PUT", "manifest", "201"): 1, ("GET", "manifest", "200"): 1,
                 ("GET", "blob", "200"): 3, ("HEAD", "blob", "200"): 1}


def request_counts(parsed: dict[tuple[str, frozenset[tuple[str, str]]], float]
                   ) -> dict[tuple[str, str, str], float]:
    return {key: value(parsed, REQUESTS, method=key[0], handler=key[1], code=key[2])
            for key in PUSH_AND_PULL}


def push_and_pull(client: httpx.Client) -> tuple[int, int]:
    """Push an image and pull it back; the total blob bytes and the manifest's size."""
    repo = unique_repo("obs")
    body = image_manifest(client, repo)
    assert put_manifest(client, repo, "v1", body).status_code == 201
    pulled = client.get(f"/v2/{repo}/manifests/v1",
                        headers={"accept": "application/vnd.oci.image.manifest.v1+json"})
    assert pulled.status_code == 200 and pulled.content == body
    document = json.loads(body)
    descriptors = [document["config"], *document["layers"]]
    for descriptor in descriptors:
        blob = client.get(f"/v2/{repo}/blobs/{descriptor['digest']}")
        assert blob.status_code == 200 and digest_of(blob.content) == descriptor["digest"]
    assert client.head(f"/v2/{repo}/blobs/{descriptors[0]['digest']}").status_code == 200
    return sum(d["size"] for d in descriptors), len(body)


def test_requests_and_bytes_are_counted_per_route(server_factory: Factory) -> None:
    port = free_port()
    server = server_factory(debug_config(port))
    before = scrape(port)
    blob_bytes, manifest_bytes = push_and_pull(server.client)

    expected = {key: request_counts(before)[key] + count for key, count in PUSH_AND_PULL.items()}
    after = eventually(lambda: scrape(port), lambda p: request_counts(p) == expected)
    assert request_counts(after) == expected

    def grew(name: str, handler: str) -> float:
        return value(after, name, handler=handler) - value(before, name, handler=handler)

    assert grew("registry_http_in_bytes_total", "blob_upload_chunk") >= blob_bytes
    assert grew("registry_http_in_bytes_total", "manifest") >= manifest_bytes
    assert grew("registry_http_out_bytes_total", "blob") >= blob_bytes
    assert grew("registry_http_out_bytes_total", "manifest") >= manifest_bytes
    durations = "registry_http_request_duration_seconds_count"
    assert value(after, durations, method="PUT", handler="manifest") - \
        value(before, durations, method="PUT", handler="manifest") == 1
    assert value(after, "registry_uploads_in_flight") == 0
    # Labels are the router's names, never request paths.
    assert not any("/" in v for _name, labels in after for _k, v in labels)

    health = httpx.get(f"http://127.0.0.1:{port}/debug/health")
    assert health.status_code == 200 and health.json() == {}
    assert httpx.get(f"http://127.0.0.1:{port}/nothing-here").status_code == 404


def start_with_workers(directory: Path, http: dict[str, Any], workers: int,
                       env: dict[str, str]) -> RunningServer:
    """Like conftest's start_server, with ``--workers``."""
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": str(directory / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", **http}}
    config_path = directory / "config.yml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = directory / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dockyard", "serve", str(config_path), "--workers",
             str(workers)], stdout=log, stderr=subprocess.STDOUT, env=env)
    server = RunningServer(process, f"http://127.0.0.1:{port}", directory / "data",
                           config_path, log_path)
    _wait_until_up(server)
    return server


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[RunningServer, int, Path]]:
    """Two workers sharing an operator-set PROMETHEUS_MULTIPROC_DIR with stale values."""
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    run_worker(metrics_dir, 1000)  # a previous run's values: must not be served
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    server = start_with_workers(tmp_path, {"debug": {
        "addr": f"127.0.0.1:{port}", "prometheus": {"enabled": True}}}, 2, env)
    yield server, port, metrics_dir
    server.stop()


def per_process_base_requests(metrics_dir: Path) -> dict[str, float]:
    from prometheus_client.multiprocess import MultiProcessCollector

    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        merged = MultiProcessCollector.merge([str(path)])
        counts[path.stem] = sum(s.value for m in merged for s in m.samples
                                if s.name == REQUESTS and s.labels.get("handler") == "base")
    return counts


def test_workers_are_summed_and_stale_values_dropped(
        two_workers: tuple[RunningServer, int, Path]) -> None:
    server, port, metrics_dir = two_workers
    before = value(scrape(port), REQUESTS, method="GET", handler="blob", code="200")
    assert before == 0  # the 1000 stale requests were removed at start
    base = value(scrape(port), REQUESTS, method="GET", handler="base", code="200")
    sent = 0

    def one_more() -> dict[str, float]:
        nonlocal sent
        # A new connection each time, so that either worker may take it.
        assert httpx.get(f"{server.url}/v2/", headers={"connection": "close"}).status_code \
            == 200
        sent += 1
        return per_process_base_requests(metrics_dir)

    spread = eventually(one_more, lambda c: sum(1 for v in c.values() if v) >= 2, step=0)
    assert sum(1 for v in spread.values() if v) >= 2, spread  # both workers served some
    total = eventually(lambda: value(scrape(port), REQUESTS, method="GET", handler="base",
                                     code="200"), lambda t: t >= base + sent)
    assert total == base + sent


# --------------------------------------------------------------------- health


def test_unwritable_storage_turns_everything_503_and_back(server_factory: Factory) -> None:
    port = free_port()
    server = server_factory(debug_config(port, health={
        "storagedriver": {"enabled": True, "interval": "1s", "threshold": 1}}))
    debug_health = f"http://127.0.0.1:{port}/debug/health"
    assert httpx.get(debug_health).json() == {}
    moved = server.root.with_name("data-moved")
    server.root.rename(moved)  # even root cannot write into a directory that is gone
    try:
        response = eventually(lambda: server.client.get("/v2/"),
                              lambda r: r.status_code != 200)
        assert_error(response, 503, "UNAVAILABLE")
        assert server.client.get("/").status_code == 503
        failing = eventually(lambda: httpx.get(debug_health), lambda r: r.status_code == 503)
        assert failing.status_code == 503
        assert list(failing.json()) == ["storagedriver_filesystem"]
        assert "not writable" in failing.json()["storagedriver_filesystem"]
    finally:
        moved.rename(server.root)
    response = eventually(lambda: server.client.get("/v2/"), lambda r: r.status_code == 200)
    assert response.status_code == 200
    recovered = eventually(lambda: httpx.get(debug_health), lambda r: r.status_code == 200)
    assert recovered.json() == {}


def test_storage_probe_dir_replaced_by_a_file_is_unhealthy(server_factory: Factory) -> None:
    server = server_factory({"health": {
        "storagedriver": {"enabled": True, "interval": "1s", "threshold": 1}}})
    v2 = server.root / "docker" / "registry" / "v2"
    parked = server.root / "v2-parked"
    v2.rename(parked)
    v2.write_text("a file where the storage directory was")
    try:
        response = eventually(lambda: server.client.get("/v2/"),
                              lambda r: r.status_code != 200)
        assert_error(response, 503, "UNAVAILABLE")
    finally:
        v2.unlink()
        parked.rename(v2)
    assert eventually(lambda: server.client.get("/v2/").status_code, lambda s: s == 200) == 200


def test_drain_file_makes_the_registry_unavailable(server_factory: Factory,
                                                   tmp_path: Path) -> None:
    drain = tmp_path / "drain-me"
    port = free_port()
    server = server_factory(debug_config(port, health={
        "file": [{"file": str(drain), "interval": "1s"}]}))
    assert server.client.get("/v2/").status_code == 200
    drain.write_text("")
    response = eventually(lambda: server.client.get("/v2/"), lambda r: r.status_code != 200)
    assert_error(response, 503, "UNAVAILABLE")
    failing = eventually(lambda: httpx.get(f"http://127.0.0.1:{port}/debug/health"),
                         lambda r: r.status_code == 503)
    assert failing.json() == {str(drain): "file exists"}
    drain.unlink()
    assert eventually(lambda: server.client.get("/v2/").status_code, lambda s: s == 200) == 200


# ----------------------------------------------------------------- access log


def traffic(server: RunningServer) -> None:
    """Three requests with a recognisable user agent, then a clean stop (lines flushed)."""
    server.client.headers["user-agent"] = AGENT
    repo = unique_repo("obs")
    assert server.client.get("/v2/").status_code == 200
    started = server.client.post(f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202
    data = b"hello access log"
    done = server.client.put(started.headers["location"], params={"digest": digest_of(data)},
                             content=data)
    assert done.status_code == 201
    assert server.stop() == 0


def test_access_log_text_lines(server_factory: Factory) -> None:
    server = server_factory()
    traffic(server)
    lines = [line for line in server.log().splitlines()
             if 'msg="response completed"' in line and AGENT in line]
    assert len(lines) == 3, server.log()
    get, post, put = lines
    assert 'http.request.method="GET"' in get and 'http.request.uri="/v2/"' in get
    assert "http.response.status=200" in get and "http.response.written=2" in get
    assert 'http.request.method="POST"' in post and "http.response.status=202" in post
    assert 'http.request.method="PUT"' in put and "http.response.status=201" in put
    assert "http.request.read=16" in put and "?digest=sha256%3A" in put
    for line in lines:
        assert 'service="registry"' in line
        assert 'http.request.remoteaddr="127.0.0.1:' in line
        assert 'http.response.duration="' in line and 'http.request.id="' in line


def test_access_log_json_lines(server_factory: Factory) -> None:
    server = server_factory({"log.formatter": "json"})
    traffic(server)
    entries = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("msg") == "response completed" and \
                    entry.get("http.request.useragent") == AGENT:
                entries.append(entry)
    assert [(e["http.request.method"], e["http.response.status"]) for e in entries] == [
        ("GET", 200), ("POST", 202), ("PUT", 201)]
    put = entries[2]
    assert put["http.request.read"] == 16 and put["service"] == "registry"
    assert put["http.request.uri"].startswith("/v2/obs/")
    assert put["http.request.remoteaddr"].startswith("127.0.0.1:")


def test_access_log_can_be_disabled(server_factory: Factory) -> None:
    server = server_factory({"log.accesslog": {"disabled": True}})
    traffic(server)
    assert "response completed" not in server.log()


def test_storage_operations_and_uploads_in_flight(server_factory: Factory) -> None:
    import threading

    port = free_port()
    server = server_factory(debug_config(port))
    push_and_pull(server.client)
    storage = "registry_storage_action_seconds_count"
    parsed = eventually(lambda: scrape(port),
                        lambda p: value(p, storage, driver="filesystem", action="Move") >= 3)
    for action, at_least in (("Move", 3), ("Writer", 3), ("PutContent", 1), ("Stat", 1)):
        assert value(parsed, storage, driver="filesystem", action=action) >= at_least, action
    # The blob-descriptor (metadata) cache answers repeated look-ups of one blob.
    repo = unique_repo("obs")
    digest = push_blob(server.client, repo, b"cached twice")
    before = scrape(port)
    for _ in range(2):
        assert server.client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200
    after = eventually(lambda: scrape(port), lambda p: value(p, "registry_storage_cache_total",
                                                             type="Hit") > value(
        before, "registry_storage_cache_total", type="Hit"))
    def grew(kind: str) -> float:
        return value(after, "registry_storage_cache_total", type=kind) - value(
            before, "registry_storage_cache_total", type=kind)

    assert grew("Hit") >= 1
    assert grew("Hit") + grew("Miss") == grew("Request") >= 2

    # An upload whose body is still arriving is in flight.
    location = server.client.post("/v2/obs/inflight/blobs/uploads/").headers["location"]
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield b"first part"
        release.wait(30)
        yield b"second part"

    thread = threading.Thread(target=lambda: server.client.patch(location, content=slow_body()))
    thread.start()
    try:
        eventually(lambda: scrape(port), lambda p: value(p, "registry_uploads_in_flight") == 1)
    finally:
        release.set()
        thread.join(30)
    eventually(lambda: scrape(port), lambda p: value(p, "registry_uploads_in_flight") == 0)
