"""Metrics recorded per request and through the storage/cache/upload API, and their
multiprocess aggregation."""

import io
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import values

from dockyard.config import Config
from dockyard.observability import Observer, build_observer, metrics
from tests.observability.helpers import clean_environment, make_request, run_worker, samples, value

ENABLED = {"http": {"debug": {"addr": "127.0.0.1:0", "prometheus": {"enabled": True}}},
           "log": {"accesslog": {"disabled": True}}}


def config(**sections: object) -> Config:
    return Config.model_validate({"version": "0.1", **sections})


@pytest.fixture
def recorder() -> metrics.Metrics:
    return metrics.enable()


def sample(recorder: metrics.Metrics, name: str, **labels: str) -> float:
    return recorder.registry.get_sample_value(name, labels) or 0.0


def test_metrics_are_recorded_only_when_the_debug_server_exposes_them() -> None:
    assert not isinstance(build_observer(config(log={"accesslog": {"disabled": True}})),
                          Observer)
    without_addr = config(http={"debug": {"prometheus": {"enabled": True}}})
    assert build_observer(without_addr).metrics is None  # type: ignore[union-attr]
    observer = build_observer(config(**ENABLED))
    assert isinstance(observer, Observer) and observer.metrics is metrics.active()
    assert observer.access_log is None


def test_each_request_counts_by_method_handler_and_code(recorder: metrics.Metrics) -> None:
    observer = build_observer(config(**ENABLED))
    labels = {"method": "PUT", "handler": "blob_upload_chunk", "code": "201"}
    before = sample(recorder, "registry_http_requests_total", **labels)
    durations = sample(recorder, "registry_http_request_duration_seconds_count",
                       method="PUT", handler="blob_upload_chunk")
    slow = sample(recorder, "registry_http_request_duration_seconds_bucket",
                  method="PUT", handler="blob_upload_chunk", le="0.5")
    bytes_in = sample(recorder, "registry_http_in_bytes_total", handler="blob_upload_chunk")
    bytes_out = sample(recorder, "registry_http_out_bytes_total", handler="blob_upload_chunk")
    for _ in range(2):
        observer.on_request(make_request("PUT", "/v2/a/blobs/uploads/x", route="blob_upload_chunk",
                                         status=201, bytes_in=1000, bytes_out=3), 0.75)
    assert sample(recorder, "registry_http_requests_total", **labels) == before + 2
    assert sample(recorder, "registry_http_request_duration_seconds_count",
                  method="PUT", handler="blob_upload_chunk") == durations + 2
    assert sample(recorder, "registry_http_request_duration_seconds_bucket",
                  method="PUT", handler="blob_upload_chunk", le="0.5") == slow  # 0.75 > 0.5
    assert sample(recorder, "registry_http_in_bytes_total",
                  handler="blob_upload_chunk") == bytes_in + 2000
    assert sample(recorder, "registry_http_out_bytes_total",
                  handler="blob_upload_chunk") == bytes_out + 6


def test_the_path_never_becomes_a_label(recorder: metrics.Metrics) -> None:
    observer = build_observer(config(**ENABLED))
    observer.on_request(make_request("GET", "/v2/secret-name/tags/list", route="tags"), 0.01)
    exposition = recorder.registry.collect()
    assert "secret-name" not in str([s for family in exposition for s in family.samples])


def test_unknown_methods_share_one_label(recorder: metrics.Metrics) -> None:
    observer = build_observer(config(**ENABLED))
    before = sample(recorder, "registry_http_requests_total", method="other",
                    handler="unknown", code="404")
    observer.on_request(make_request("BREW", "/x", route="unknown", status=404), 0.01)
    observer.on_request(make_request("MKCOL", "/y", route="unknown", status=404), 0.01)
    assert sample(recorder, "registry_http_requests_total", method="other",
                  handler="unknown", code="404") == before + 2
    assert sample(recorder, "registry_http_requests_total", method="BREW",
                  handler="unknown", code="404") == 0


def test_an_observer_failure_does_not_escape(recorder: metrics.Metrics) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("dockyard.observability")
    logger.addHandler(handler)
    try:
        observer = build_observer(config(**ENABLED))
        # prometheus-client refuses to decrement a counter: the observer must swallow it.
        observer.on_request(make_request(bytes_in=-5), 0.01)
    finally:
        logger.removeHandler(handler)
    assert "could not record GET /v2/" in stream.getvalue()


def test_storage_cache_and_upload_api(recorder: metrics.Metrics) -> None:
    count = "registry_storage_action_seconds_count"
    puts = sample(recorder, count, driver="filesystem", action="put")
    stats = sample(recorder, count, driver="filesystem", action="stat")
    metrics.observe_storage("put", 0.002)
    with metrics.time_storage("stat"):
        pass
    with pytest.raises(OSError), metrics.time_storage("stat"):
        raise OSError("failed operations are timed too")
    assert sample(recorder, count, driver="filesystem", action="put") == puts + 1
    assert sample(recorder, count, driver="filesystem", action="stat") == stats + 2

    cache = {kind: sample(recorder, "registry_storage_cache_total", type=kind)
             for kind in ("Request", "Hit", "Miss", "Error")}
    metrics.cache_hit()
    metrics.cache_hit()
    metrics.cache_miss()
    metrics.cache_error()
    assert {kind: sample(recorder, "registry_storage_cache_total", type=kind) - before
            for kind, before in cache.items()} == {"Request": 3, "Hit": 2, "Miss": 1, "Error": 1}

    uploads = sample(recorder, "registry_uploads_in_flight")
    with metrics.track_upload():
        assert sample(recorder, "registry_uploads_in_flight") == uploads + 1
        metrics.upload_started()
        assert sample(recorder, "registry_uploads_in_flight") == uploads + 2
        metrics.upload_finished()
    with pytest.raises(ValueError), metrics.track_upload():
        raise ValueError("an aborted upload leaves the gauge")
    assert sample(recorder, "registry_uploads_in_flight") == uploads


def test_the_api_is_a_no_op_while_metrics_are_off(monkeypatch: pytest.MonkeyPatch,
                                                  recorder: metrics.Metrics) -> None:
    monkeypatch.setattr(metrics, "_active", None)
    before = sample(recorder, "registry_storage_cache_total", type="Request")
    metrics.observe_storage("put", 1)
    metrics.cache_hit()
    metrics.cache_miss()
    metrics.cache_error()
    metrics.upload_started()
    metrics.upload_finished()
    with metrics.time_storage("put"), metrics.track_upload():
        pass
    assert sample(recorder, "registry_storage_cache_total", type="Request") == before


# -------------------------------------------------------------- multiprocess mode


@pytest.fixture
def keep_value_class(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """prepare_multiprocess_dir switches this process to file values: undo that."""
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)
    yield


def test_an_operators_directory_is_emptied_of_stale_values(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_value_class: None) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    (directory / "counter_12345.db").write_bytes(b"stale")
    (directory / "README").write_text("not ours")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(directory))
    assert metrics.prepare_multiprocess_dir() == str(directory)
    assert sorted(p.name for p in directory.iterdir()) == ["README"]


def test_a_fresh_directory_is_made_when_none_is_set(
        monkeypatch: pytest.MonkeyPatch, keep_value_class: None) -> None:
    monkeypatch.setenv(metrics.MULTIPROC_ENV, "")  # so that the variable is removed after
    monkeypatch.delenv(metrics.MULTIPROC_ENV)
    directory = metrics.prepare_multiprocess_dir()
    try:
        assert os.environ[metrics.MULTIPROC_ENV] == directory
        assert os.path.isdir(directory) and os.listdir(directory) == []
    finally:
        os.rmdir(directory)


def test_values_of_all_processes_are_summed(tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    total = run_worker(directory, 3) + run_worker(directory, 4)
    registry = metrics.multiprocess_registry(str(directory))
    parsed = samples(metrics.scrape(registry, str(directory)).decode())
    assert value(parsed, "registry_http_requests_total", method="GET", handler="blob",
                 code="200") == total
    assert value(parsed, "registry_http_out_bytes_total", handler="blob") == total * 100
    assert value(parsed, "registry_http_request_duration_seconds_count", method="GET",
                 handler="blob") == total
    assert value(parsed, "registry_storage_cache_total", type="Hit") == 2
    # Both processes are gone: their uploads-in-flight no longer count.
    assert value(parsed, "registry_uploads_in_flight") == 0
    assert not list(directory.glob("gauge_live*.db"))


def test_live_gauges_of_running_processes_are_kept(tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    run_worker(directory, 1)
    (dead,) = directory.glob("gauge_livesum_*.db")
    alive = directory / f"gauge_livesum_{os.getpid()}.db"
    dead.rename(alive)  # as if this (living) process had written it
    metrics.forget_dead_processes(str(directory))
    assert alive.exists()
    parsed = samples(metrics.scrape(metrics.multiprocess_registry(str(directory))).decode())
    assert value(parsed, "registry_uploads_in_flight") == 1


FORKING_PARENT = textwrap.dedent("""
    import os, sys
    from prometheus_client import Counter
    # Created at import time in the parent, before the directory exists (as a module of
    # another subsystem may do): its labelled children are made later, in the worker.
    EARLY = Counter("early_events", "events counted by another subsystem", ["kind"])
    from dockyard.observability import metrics
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
    metrics.prepare_multiprocess_dir()
    child = os.fork()  # granian forks its workers the same way on Linux
    if child == 0:
        EARLY.labels("pushed").inc()
        metrics.enable().observe_request("PUT", "manifest", 201, 0.01, 10, 0)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
""")


def test_forked_workers_write_to_the_directory_the_parent_prepared(tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    process = subprocess.run([sys.executable, "-c", FORKING_PARENT, str(directory)],
                             cwd=Path(__file__).parents[2], capture_output=True, text=True,
                             check=False, env=clean_environment())
    assert process.returncode == 0, process.stderr
    parsed = samples(metrics.scrape(metrics.multiprocess_registry(str(directory))).decode())
    assert value(parsed, "registry_http_requests_total", method="PUT", handler="manifest",
                 code="201") == 1
    assert value(parsed, "early_events_total", kind="pushed") == 1
