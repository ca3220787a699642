"""A private Docker engine for the e2e tests: the ``docker_engine`` session fixture.

Register it from a test module with ``pytest_plugins = ["docker_engine"]``.

The fixture starts Debian's ``dockerd`` (package docker.io, 20.10) itself and
keeps it away from the host's state:

* its API socket, data root (``--storage-driver=vfs``: no overlay mounts),
  exec root, pid file, daemon config (our own ``daemon.json`` given with
  ``--config-file``, so ``/etc/docker/daemon.json`` is never read) and trust
  key (``deprecated-key-path`` in that daemon.json, else dockerd 20.10 writes
  ``/etc/docker/key.json``) all live in a short temporary directory under
  ``/tmp`` (containerd's socket lives below the exec root and unix socket
  paths are limited to 108 bytes);
* no networking changes: ``--bridge=none --iptables=false --ip6tables=false
  --ip-forward=false --ip-masq=false``;
* containerd is the one dockerd starts and supervises itself (state and data
  below the exec and data roots), as long as no system containerd listens on
  ``/run/containerd/containerd.sock`` (dockerd would use that one instead);
* the client uses the ``docker`` CLI of the same package (``/usr/bin/docker``,
  not a newer CLI earlier on ``PATH``), talks to the socket with ``-H`` and
  gets an empty private ``DOCKER_CONFIG`` (no credential helpers, no auths).

The one trace left outside the temporary directory is the empty directory
``/run/docker/plugins`` (plugin discovery; its path is fixed in dockerd).

No daemon.json is needed for plain-HTTP registries on loopback: the engine
treats 127.0.0.0/8 as insecure by default (``docker info`` lists it under
"Insecure Registries"; the fixture checks that).

At the end the daemon gets SIGTERM by PID, then SIGKILL if it has not exited
within ``STOP_TIMEOUT``; its containerd child is stopped the same way if it
outlives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.procs import process_stats

DOCKERD_CANDIDATES = ("/usr/sbin/dockerd", "/usr/bin/dockerd")
# Debian's CLI, matching the daemon. A newer CLI elsewhere on PATH (e.g. a
# static one in /usr/local/bin) would negotiate down and work too, but the
# test should drive the engine with its own client.
DOCKER_CLI_CANDIDATES = ("/usr/bin/docker",)
START_TIMEOUT = 60.0  # seconds until `docker info` must answer
STOP_TIMEOUT = 20.0  # seconds between SIGTERM and SIGKILL
COMMAND_TIMEOUT = 120.0  # per docker CLI command


@dataclass
class DockerResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"exit code {self.returncode}: {' '.join(self.argv)}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


@dataclass
class DockerEngine:
    base: Path  # short temp dir holding everything the daemon writes
    cli: str
    env: dict[str, str]
    log_path: Path
    info: dict = field(default_factory=dict)  # `docker info` at start-up
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.base / "docker.sock"

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"

    def run(
        self, *args: object, check: bool = True, timeout: float = COMMAND_TIMEOUT
    ) -> DockerResult:
        """``docker -H unix://SOCKET ARGS...``; raises AssertionError on failure if ``check``."""
        argv = [self.cli, "-H", f"unix://{self.socket}", *(str(a) for a in args)]
        proc = subprocess.run(
            argv,
            env=self.env,
            cwd=self.base,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result = DockerResult(
            argv,
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker command failed: {result}\n--- dockerd log ---\n{self.log_tail(30)}"
            )
        return result


def _find(candidates: tuple[str, ...], name: str) -> str:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    pytest.fail(
        f"{name} not found in {candidates}: apt-get install docker.io (see .ci/run), "
        "or deselect with -m 'not e2e'",
        pytrace=False,
    )


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (dockerd's containerd runs in its own session)."""
    return [child for child, fields in process_stats()
            if len(fields) > 1 and fields[1] == str(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _terminate_pid(pid: int, timeout: float) -> None:
    """SIGTERM ``pid``, SIGKILL it if still alive after ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _stop(engine: DockerEngine) -> None:
    proc = engine.process
    if proc is None:
        return
    children = _children(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
    # dockerd stops its containerd on a clean exit; after a SIGKILL it cannot.
    for pid in children:
        if _alive(pid):
            _terminate_pid(pid, STOP_TIMEOUT)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path) + "/"
    mounts = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            mount_point = line.split()[4]
            if mount_point.startswith(prefix):
                mounts.append(mount_point)
    return mounts


def _remove_base(engine: DockerEngine) -> None:
    leftover = _mounts_under(engine.base)
    if leftover:  # never rm -rf through a mount point
        print(f"docker_engine: leaving {engine.base}, still mounted: {leftover}")
    else:
        shutil.rmtree(engine.base, ignore_errors=True)


def _wait_until_up(engine: DockerEngine, deadline: float) -> dict:
    """Poll ``docker info`` until the daemon answers; return its output."""
    assert engine.process is not None
    last = ""
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            raise RuntimeError(
                f"dockerd exited with {engine.process.returncode} before answering "
                f"`docker info`\n--- log ---\n{engine.log_tail()}"
            )
        # `docker info` exits 0 even when it cannot reach the daemon: the
        # failure is in "ServerErrors". Up means a server ID and no errors.
        result = engine.run("info", "--format", "{{json .}}", check=False, timeout=10)
        info = {}
        if result.returncode == 0:
            with contextlib.suppress(ValueError):
                info = json.loads(result.stdout)
        if info.get("ID") and not info.get("ServerErrors"):
            return info
        last = "; ".join(info.get("ServerErrors") or []) or result.stderr.strip()
        time.sleep(0.2)
    raise RuntimeError(
        f"dockerd did not answer `docker info` within {START_TIMEOUT}s ({last})"
        f"\n--- log ---\n{engine.log_tail()}"
    )


def start_engine() -> DockerEngine:
    dockerd = _find(DOCKERD_CANDIDATES, "dockerd")
    cli = _find(DOCKER_CLI_CANDIDATES, "docker CLI")
    base = Path(tempfile.mkdtemp(prefix="dyd-", dir="/tmp"))  # short: socket paths
    (base / "client").mkdir()
    (base / "client" / "config.json").write_text(json.dumps({"auths": {}}))
    # Only the trust key's location: the daemon would write /etc/docker/key.json
    # otherwise (dockerd 20.10 has no command-line flag for it).
    (base / "daemon.json").write_text(json.dumps({"deprecated-key-path": str(base / "key.json")}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(base / "client")
    engine = DockerEngine(base=base, cli=cli, env=env, log_path=base / "dockerd.log")
    argv = [
        dockerd,
        "--config-file", base / "daemon.json",
        "--storage-driver=vfs",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        "--host", f"unix://{engine.socket}",
        "--data-root", base / "root",
        "--exec-root", base / "exec",
        "--pidfile", base / "docker.pid",
    ]  # fmt: skip
    with engine.log_path.open("wb") as log:
        engine.process = subprocess.Popen(
            [str(a) for a in argv],
            cwd=base,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        engine.info = _wait_until_up(engine, time.monotonic() + START_TIMEOUT)
    except BaseException:
        _stop(engine)
        _remove_base(engine)
        raise
    return engine


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """A private dockerd (see module docstring), stopped at the end of the session."""
    try:
        engine = start_engine()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        # Loopback registries are plain-HTTP by default: no daemon.json needed.
        insecure = engine.info.get("RegistryConfig", {}).get("InsecureRegistryCIDRs") or []
        assert "127.0.0.0/8" in insecure, f"dockerd does not treat loopback as insecure: {insecure}"
        yield engine
    finally:
        _stop(engine)
        _remove_base(engine)
