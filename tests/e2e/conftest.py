"""End-to-end fixtures: a registry under test, a reference peer, and real clients.

``registry`` is the server under test. ``DOCKYARD_E2E_TARGET`` picks it:

* ``dockyard`` (default): ``python -m dockyard serve CONFIG`` from this checkout;
* ``distribution``: Debian's ``docker-registry`` (CNCF Distribution 2.8), used as
  a stand-in while developing the suite.

``distribution`` always starts Debian's ``docker-registry`` as a reference peer.

Both speak plain HTTP on 127.0.0.1 and are configured with a Distribution-format
``config.yml`` (the format Dockyard is a drop-in for). ``tools`` runs skopeo,
podman and buildah hermetically: storage, configuration, auth file, policy and
temp files all live in a temporary directory, nothing touches the host's
container storage. The one piece of shared state left is containers/image's
blob-info cache (``/var/lib/containers/cache`` for root; no CLI knob moves it);
it only records where blobs were seen and keys them by ``host:port``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http import client as http_client
from pathlib import Path

import httpx
import pytest
import yaml
from tests.loopback import HOP_BY_HOP, LoopbackHTTPServer, QuietHandler, relay_response

TARGET_ENV = "DOCKYARD_E2E_TARGET"
TARGETS = ("dockyard", "distribution")
DISTRIBUTION_BIN = "/usr/bin/docker-registry"
START_TIMEOUT = 60.0  # seconds until GET /v2/ must answer
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
COMMAND_TIMEOUT = 180.0  # per client command


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this directory is e2e, even if a test forgets the marker."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


# --------------------------------------------------------------------------- servers


@dataclass
class RegistryServer:
    kind: str  # "dockyard" | "distribution"
    host: str  # "127.0.0.1:PORT"
    workdir: Path
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def ref(self, name: str) -> str:
        """``docker://`` reference for skopeo: ``ref("team/app:v1")``."""
        return f"docker://{self.host}/{name}"

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_config(workdir: Path, port: int) -> Path:
    """A Distribution-format config.yml (Dockyard reads the same format)."""
    config = {
        "version": 0.1,
        "log": {"level": "info"},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    path = workdir / "config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _server_command(kind: str, config_path: Path) -> list[str]:
    if kind == "dockyard":
        return [sys.executable, "-m", "dockyard", "serve", str(config_path)]
    if not os.access(DISTRIBUTION_BIN, os.X_OK):
        pytest.fail(f"{DISTRIBUTION_BIN} not found: apt-get install docker-registry")
    return [DISTRIBUTION_BIN, "serve", str(config_path)]


def _server_env() -> dict[str, str]:
    # Distribution lets REGISTRY_* variables override the config file: drop them.
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}


def _wait_until_up(server: RegistryServer, deadline: float) -> None:
    assert server.process is not None
    last_error = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.kind} exited with {server.process.returncode} before answering "
                f"GET /v2/\n--- log ---\n{server.log_tail()}"
            )
        try:
            r = httpx.get(f"{server.url}/v2/", timeout=2.0)
            if r.status_code in (200, 401):
                return
            last_error = f"GET /v2/ -> {r.status_code}"
        except httpx.TransportError as exc:
            last_error = repr(exc)
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.kind} did not answer GET /v2/ within {START_TIMEOUT}s ({last_error})"
        f"\n--- log ---\n{server.log_tail()}"
    )


def _stop(server: RegistryServer) -> None:
    proc = server.process
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
    # The server ran in its own session (pgid == pid): reap stragglers it
    # forked (e.g. worker processes) that outlived it.
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def start_server(kind: str, workdir: Path) -> RegistryServer:
    """Start a registry of ``kind`` on a free loopback port; wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for attempt in range(3):  # a free port can be stolen between probe and bind
        port = _free_port()
        config_path = _write_config(workdir, port)
        log_path = workdir / f"server-{attempt}.log"
        server = RegistryServer(
            kind=kind, host=f"127.0.0.1:{port}", workdir=workdir, log_path=log_path
        )
        with log_path.open("wb") as log:
            server.process = subprocess.Popen(
                _server_command(kind, config_path),
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_server_env(),
                start_new_session=True,
            )
        try:
            _wait_until_up(server, time.monotonic() + START_TIMEOUT)
            return server
        except RuntimeError as exc:
            _stop(server)
            last = exc
            if "address already in use" not in server.log_tail().lower():
                break
    raise RuntimeError(f"could not start {kind}: {last}")


@pytest.fixture(scope="session")
def registry_kind() -> str:
    kind = os.environ.get(TARGET_ENV, "dockyard").strip().lower() or "dockyard"
    if kind not in TARGETS:
        pytest.fail(f"{TARGET_ENV}={kind!r}: expected one of {TARGETS}")
    return kind


@pytest.fixture(scope="session")
def registry(
    registry_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """The registry under test (see module docstring)."""
    try:
        server = start_server(registry_kind, tmp_path_factory.mktemp(f"registry-{registry_kind}"))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        _stop(server)


@pytest.fixture(scope="session")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Debian's docker-registry (Distribution 2.8): the reference peer."""
    try:
        server = start_server("distribution", tmp_path_factory.mktemp("distribution"))
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        _stop(server)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # Blob GETs may legitimately be answered with a redirect.
    with httpx.Client(timeout=30.0, follow_redirects=True) as client:
        yield client


# --------------------------------------------------------------------------- clients


@dataclass
class CommandResult:
    argv: list[str]
    returncode: int
    stdout_bytes: bytes
    stderr: str

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode(errors="replace")

    def __str__(self) -> str:
        return (
            f"exit code {self.returncode}: {' '.join(self.argv)}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-8000:]}"
        )


POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


@dataclass
class ContainerTools:
    """skopeo / podman / buildah with private storage and configuration.

    * storage: vfs driver (no overlay mounts, no fuse), graphroot/runroot in a
      temp dir, given both in ``storage.conf`` and as global flags;
    * ``containers.conf``: cgroupfs cgroup manager and file events backend (no
      systemd/journald needed), libpod tmp dir and network config dir moved out
      of ``/run``;
    * ``registries.conf`` without search registries (nothing can resolve to a
      public registry), an empty auth file, an accept-anything signature
      policy passed explicitly (``--policy`` / ``--signature-policy``), an empty
      ``registries.d``;
    * TLS verification is *not* disabled in configuration: each call passes
      ``--tls-verify=false`` / ``--{src,dest}-tls-verify=false`` explicitly.
    """

    base: Path
    runroot: Path
    env: dict[str, str]

    @property
    def policy(self) -> Path:
        return self.base / "policy.json"

    @property
    def storage_flags(self) -> list[str]:
        return [
            "--root",
            str(self.base / "storage" / "root"),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "vfs",
        ]

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = COMMAND_TIMEOUT
    ) -> CommandResult:
        argv = [str(a) for a in argv]
        if shutil.which(argv[0]) is None:
            pytest.fail(f"{argv[0]} is not installed (see .ci/run), or deselect with -m 'not e2e'")
        proc = subprocess.run(
            argv,
            env=self.env,
            cwd=self.base,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result = CommandResult(
            argv, proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")
        )
        if check and result.returncode != 0:
            raise AssertionError(f"command failed: {result}")
        return result

    def skopeo(self, *args: object, check: bool = True) -> CommandResult:
        return self.run(
            [
                "skopeo",
                "--policy",
                self.policy,
                "--registries.d",
                self.base / "registries.d",
                "--tmpdir",
                self.base / "tmp",
                *args,
            ],
            check=check,
        )

    def podman(self, *args: object, check: bool = True) -> CommandResult:
        return self.run(
            [
                "podman",
                *self.storage_flags,
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--tmpdir",
                self.base / "libpod-tmp",
                *args,
            ],
            check=check,
        )

    def buildah(self, *args: object, check: bool = True) -> CommandResult:
        return self.run(["buildah", *self.storage_flags, *args], check=check)

    def raw_manifest(self, ref: str) -> bytes:
        """``skopeo inspect --raw`` of a ``docker://`` reference, as bytes."""
        return self.skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout_bytes


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerTools]:
    base = tmp_path_factory.mktemp("containers")
    # podman refuses a runroot longer than 50 characters: keep it short.
    runroot = Path(tempfile.mkdtemp(prefix="dye2e-", dir="/tmp")) / "run"
    runroot.mkdir()
    for sub in ("storage/root", "tmp", "libpod-tmp", "networks", "registries.d"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "policy.json").write_text(json.dumps(POLICY))
    (base / "auth.json").write_text(json.dumps({"auths": {}}))
    (base / "registries.conf").write_text("unqualified-search-registries = []\n")
    (base / "storage.conf").write_text(
        "[storage]\n"
        'driver = "vfs"\n'
        f'graphroot = "{base / "storage" / "root"}"\n'
        f'runroot = "{runroot}"\n'
    )
    (base / "containers.conf").write_text(
        "[engine]\n"
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'events_logfile_path = "{base / "events.log"}"\n'
        f'tmp_dir = "{base / "libpod-tmp"}"\n'
        f'image_copy_tmp_dir = "{base / "tmp"}"\n'
        "[network]\n"
        f'network_config_dir = "{base / "networks"}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINERS_", "BUILDAH_"))}
    env.update(
        CONTAINERS_CONF=str(base / "containers.conf"),
        CONTAINERS_STORAGE_CONF=str(base / "storage.conf"),
        CONTAINERS_REGISTRIES_CONF=str(base / "registries.conf"),
        REGISTRY_AUTH_FILE=str(base / "auth.json"),
        BUILDAH_ISOLATION="chroot",
        TMPDIR=str(base / "tmp"),
    )
    try:
        yield ContainerTools(base=base, runroot=runroot, env=env)
    finally:
        shutil.rmtree(runroot.parent, ignore_errors=True)


# --------------------------------------------------------------------------- wire tap


@dataclass
class Exchange:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    request_headers: list[tuple[str, str]]
    response_headers: dict[str, str]
    request_body_size: int


class RecordingProxy(LoopbackHTTPServer):
    """A loopback HTTP reverse proxy that records every request/response pair.

    Clients talk to ``proxy.host``; requests are forwarded verbatim (including
    the Host header, so absolute Location URLs built by the registry point back
    at the proxy) and the method, path, query and status are recorded. This is
    how tests *observe* client/registry behaviour on the wire (e.g. a blob
    mount) instead of trusting client log messages.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _read_body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                body = self._read_body()
                # A list, not a dict: clients repeat headers (Go sends one Accept per type).
                headers = [
                    (k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP
                ]
                if body or self.command in ("POST", "PUT", "PATCH"):
                    headers.append(("Content-Length", str(len(body))))
                conn = http_client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    conn.putrequest(
                        self.command, self.path, skip_host=True, skip_accept_encoding=True
                    )
                    for k, v in headers:
                        conn.putheader(k, v)
                    conn.endheaders(body or None)
                    resp = conn.getresponse()
                    data = resp.read()
                    resp_headers = resp.getheaders()
                finally:
                    conn.close()
                url = urllib.parse.urlsplit(self.path)
                with proxy._lock:
                    proxy.exchanges.append(
                        Exchange(
                            method=self.command,
                            path=url.path,
                            query=urllib.parse.parse_qs(url.query),
                            status=resp.status,
                            request_headers=list(self.headers.items()),
                            response_headers={k.lower(): v for k, v in resp_headers},
                            request_body_size=len(body),
                        )
                    )
                relay_response(self, resp.status, resp.reason, resp_headers, data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        super().__init__(Handler)
        self.host = f"127.0.0.1:{self.port}"

    def ref(self, name: str) -> str:
        return f"docker://{self.host}/{name}"

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)

    def summary(self) -> str:
        return "\n".join(
            f"{e.status} {e.method} {e.path}"
            + (f"?{urllib.parse.urlencode(e.query, doseq=True)}" if e.query else "")
            for e in self.snapshot()
        )


@pytest.fixture
def recording_proxy(registry: RegistryServer) -> Iterator[RecordingProxy]:
    with RecordingProxy(registry.host) as proxy:
        yield proxy
