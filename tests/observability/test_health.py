"""Health checks: threshold and recovery, each probe kind, and both runners."""

import asyncio
import socket
from datetime import timedelta
from pathlib import Path

import pytest

from dockyard.config import Config
from dockyard.observability import AlwaysHealthy, build_health
from dockyard.observability.health import (
    Check,
    Health,
    ThreadedHealth,
    build_checks,
    file_probe,
    http_probe,
    storage_probe,
    tcp_probe,
)
from tests.observability.helpers import StatusServer, eventually


class Outcomes:
    """A probe that fails or passes as told."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise RuntimeError(self.error)


def config(**sections: object) -> Config:
    return Config.model_validate({"version": "0.1", **sections})


# ------------------------------------------------------------------ threshold


def test_unhealthy_only_after_threshold_consecutive_failures() -> None:
    probe = Outcomes()
    check = Check("c", probe, interval=1, threshold=3)
    probe.error = "down"
    check.run_once()
    check.run_once()
    assert check.error is None and check.failures == 2
    check.run_once()
    assert check.error == "down"


def test_a_success_resets_the_count_and_recovers_at_once() -> None:
    probe = Outcomes()
    check = Check("c", probe, interval=1, threshold=2)
    probe.error = "down"
    check.run_once()
    probe.error = None
    check.run_once()  # the streak is broken
    probe.error = "down"
    check.run_once()
    assert check.error is None
    check.run_once()
    assert check.error == "down"
    probe.error = None
    check.run_once()  # one success is enough
    assert check.error is None and check.failures == 0


def test_the_latest_error_is_reported() -> None:
    probe = Outcomes()
    check = Check("c", probe, interval=1, threshold=1)
    probe.error = "first"
    check.run_once()
    probe.error = "second"
    check.run_once()
    assert check.error == "second"


@pytest.mark.parametrize("threshold", [0, 1])
def test_threshold_zero_or_one_fails_on_the_first_failure(threshold: int) -> None:
    probe = Outcomes()
    probe.error = "down"
    check = Check("c", probe, interval=1, threshold=threshold)
    check.run_once()
    assert check.error == "down"


def test_a_probe_error_without_message_is_named_by_its_type() -> None:
    def probe() -> None:
        raise TimeoutError()

    check = Check("c", probe, interval=1)
    check.run_once()
    assert check.error == "TimeoutError"


# --------------------------------------------------------------------- probes


def test_file_check_fails_while_the_file_exists(tmp_path: Path) -> None:
    drain = tmp_path / "drain"
    check = Check(str(drain), file_probe(str(drain)), interval=1)
    check.run_once()
    assert check.error is None
    drain.write_text("")
    check.run_once()
    assert check.error == "file exists"
    drain.unlink()
    check.run_once()
    assert check.error is None


def test_tcp_check_passes_while_something_listens() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    addr = f"127.0.0.1:{listener.getsockname()[1]}"
    check = Check(addr, tcp_probe(addr, timeout=5), interval=1)
    try:
        check.run_once()
        assert check.error is None
    finally:
        listener.close()
    check.run_once()  # nobody listens on that port any more
    assert check.error == f"connection to {addr} failed"


def test_http_check_sends_head_and_wants_the_configured_status() -> None:
    with StatusServer(200).running() as server:
        check = Check(server.url, http_probe(server.url, {"X-Probe": ["yes"]}, 200, 5),
                      interval=1)
        check.run_once()
        assert check.error is None
        assert server.methods == ["HEAD"]
        server.status = 503
        check.run_once()
        assert check.error == "downstream service returned unexpected status: 503"
        expecting_503 = Check(server.url, http_probe(server.url, {}, 503, 5), interval=1)
        expecting_503.run_once()
        assert expecting_503.error is None


def test_http_check_fails_when_nothing_answers() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://127.0.0.1:{port}/"
    check = Check(uri, http_probe(uri, {}, 200, 5), interval=1)
    check.run_once()
    assert check.error is not None and check.error.startswith("error while checking:")


def test_storage_probe_writes_and_cleans_up(tmp_path: Path) -> None:
    directory = tmp_path / "v2"
    directory.mkdir()
    check = Check("storagedriver_filesystem", storage_probe(directory), interval=1)
    check.run_once()
    assert check.error is None
    assert list(directory.iterdir()) == []


def test_storage_probe_fails_when_the_root_is_gone_and_does_not_recreate_it(
        tmp_path: Path) -> None:
    directory = tmp_path / "root" / "v2"
    directory.mkdir(parents=True)
    check = Check("storagedriver_filesystem", storage_probe(directory), interval=1)
    (tmp_path / "root").rename(tmp_path / "elsewhere")
    check.run_once()
    assert check.error is not None and "not writable" in check.error
    assert str(directory) in check.error
    assert not (tmp_path / "root").exists()
    (tmp_path / "elsewhere").rename(tmp_path / "root")
    check.run_once()
    assert check.error is None


def test_storage_probe_fails_when_the_directory_is_replaced_by_a_file(tmp_path: Path) -> None:
    directory = tmp_path / "v2"
    directory.write_text("not a directory")  # fails even for root, unlike a chmod
    check = Check("storagedriver_filesystem", storage_probe(directory), interval=1)
    check.run_once()
    assert check.error is not None and "not writable" in check.error


# -------------------------------------------------------------- configuration


def test_checks_follow_the_health_section(tmp_path: Path) -> None:
    checks = build_checks(config(
        storage={"filesystem": {"rootdirectory": str(tmp_path / "data")}},
        health={"storagedriver": {"enabled": True, "interval": "2s", "threshold": 4},
                "file": [{"file": "/tmp/drain", "interval": "3s"}],
                "http": [{"uri": "http://127.0.0.1:1/x", "interval": "5s", "threshold": 2}],
                "tcp": [{"addr": "127.0.0.1:1", "timeout": "1s"}]}))
    assert [(c.name, c.interval, c.threshold) for c in checks] == [
        ("storagedriver_filesystem", 2, 4), ("/tmp/drain", 3, 1),
        ("http://127.0.0.1:1/x", 5, 2), ("127.0.0.1:1", 10, 1)]
    # The probe directory exists from the start, as the blob store would create it.
    assert (tmp_path / "data" / "docker" / "registry" / "v2").is_dir()


def test_storagedriver_check_is_off_unless_enabled(tmp_path: Path) -> None:
    assert build_checks(config(storage={"filesystem": {"rootdirectory": str(tmp_path)}})) == []
    assert isinstance(build_health(config()), AlwaysHealthy)


def test_health_reports_failures_by_check_name() -> None:
    good, bad = Outcomes(), Outcomes()
    bad.error = "broken"
    health = ThreadedHealth([Check("good", good, 1), Check("bad", bad, 1)])
    for check in health.checks:
        health._record(check, check.probe_error())
    assert health.healthy is False
    assert health.failures() == {"bad": "broken"}


# -------------------------------------------------------------------- runners


def test_worker_health_probes_on_its_own_and_recovers(tmp_path: Path) -> None:
    drain = tmp_path / "drain"
    health = build_health(config(health={"file": [{"file": str(drain), "interval": "20ms"}]}))
    assert isinstance(health, Health)

    async def scenario() -> list[bool]:
        seen = []
        health.start()
        try:
            seen.append(await wait_for(lambda: health.healthy))
            drain.write_text("")
            seen.append(await wait_for(lambda: not health.healthy))
            assert health.failures() == {str(drain): "file exists"}
            drain.unlink()
            seen.append(await wait_for(lambda: health.healthy))
        finally:
            await health.stop()
        return seen

    assert asyncio.run(scenario()) == [True, True, True]


def test_worker_health_run_once_and_stop_without_start() -> None:
    probe = Outcomes()
    probe.error = "down"
    health = Health([Check("c", probe, interval=3600)])

    async def scenario() -> None:
        await health.run_once()
        await health.stop()

    asyncio.run(scenario())
    assert health.healthy is False and probe.calls == 1


def test_parent_health_runs_in_threads(tmp_path: Path) -> None:
    drain = tmp_path / "drain"
    health = ThreadedHealth([Check(str(drain), file_probe(str(drain)),
                                   timedelta(milliseconds=20).total_seconds())])
    health.start()
    try:
        drain.write_text("")
        assert eventually(lambda: health.healthy, lambda ok: not ok) is False
        drain.unlink()
        assert eventually(lambda: health.healthy, lambda ok: ok) is True
    finally:
        health.stop()


async def wait_for(condition: object, timeout: float = 30) -> bool:
    """Poll ``condition`` on the event loop until it holds (the result is asserted)."""
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.01)
    return bool(condition())


def test_read_only_mode_only_needs_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "v2"
    directory.mkdir()
    check = Check("storagedriver_filesystem", storage_probe(directory, write=False), 1)
    check.run_once()
    assert check.error is None
    directory.rmdir()
    directory.write_text("")
    check.run_once()
    assert check.error is not None and "not available" in check.error
    directory.unlink()
    check.run_once()
    assert check.error is not None and "No such file" in check.error


def test_read_only_mode_chooses_the_stat_probe(tmp_path: Path) -> None:
    (check,) = build_checks(config(
        storage={"filesystem": {"rootdirectory": str(tmp_path / "data")},
                 "maintenance": {"readonly": {"enabled": True}}},
        health={"storagedriver": {"enabled": True, "threshold": 1}}))
    v2 = tmp_path / "data" / "docker" / "registry" / "v2"
    v2.rmdir()
    v2.write_text("")
    check.run_once()
    assert check.error is not None and "not available" in check.error
