"""Start and stop the servers under test, and watch their process trees through /proc.

Three servers, each on 127.0.0.1 on a free port, with its storage in a fresh directory:

* ``dockyard``: ``.venv/bin/python -m dockyard serve config.yml``
* ``distribution``: Debian's ``docker-registry serve config.yml`` (CNCF Distribution 2.8,
  the code of ``registry:2``); ``GOMAXPROCS`` is removed from its environment, so Go uses
  every core.
* ``ceiling``: ``bench/ceiling.py`` (receive, sha256, write, fsync) under granian with the
  settings ``dockyard serve`` uses.

Both registries get the same Distribution-format ``config.yml``: filesystem storage, deletes
enabled, ``storage.cache.blobdescriptor: inmemory``, ``log.accesslog.disabled: true`` and
``log.level: error``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENV_PYTHON = REPO_DIR / ".venv" / "bin" / "python"

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024

SERVER_NAMES = ("dockyard", "distribution")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registry_config(root: Path, port: int) -> str:
    """One Distribution-format config.yml, used as it is by both registries."""
    return f"""\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:{port}
"""


def _clean_env() -> dict[str, str]:
    """The caller's environment without settings that would change a server's behaviour."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REGISTRY_", "GRANIAN_", "DOCKYARD_")) and k != "GOMAXPROCS"}
    env.pop("PYTHONPATH", None)
    return env


# --------------------------------------------------------------------------- /proc


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    return text[text.rindex(")") + 2:].split()


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (one scan of /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes (their own threads, not reaped children)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def rss_bytes(pids: list[int]) -> tuple[int, int]:
    """(sum, largest) resident set size over the given processes."""
    total = largest = 0
    for pid in pids:
        text = _read(f"/proc/{pid}/statm")
        if text is None:
            continue
        rss = int(text.split()[1]) * PAGE_SIZE
        total += rss
        largest = max(largest, rss)
    return total, largest


class Sampler:
    """Peak RSS (sum over the process tree, sampled every 50 ms) and CPU seconds of a server
    between ``start()`` and ``stop()``."""

    def __init__(self, root_pid: int, interval: float = 0.05) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.peak_sum = 0
        self.peak_one = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pids = descendants(root_pid)
        self.cpu_start = 0.0
        self.cpu_end = 0.0

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            if n % 20 == 19:  # the tree is stable; refresh it once a second
                self._pids = descendants(self.root_pid)
            total, one = rss_bytes(self._pids)
            self.peak_sum = max(self.peak_sum, total)
            self.peak_one = max(self.peak_one, one)
            n += 1
            self._stop.wait(self.interval)

    def start(self) -> Sampler:
        self._pids = descendants(self.root_pid)
        self.cpu_start = cpu_seconds(self._pids)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._pids = descendants(self.root_pid)
        total, one = rss_bytes(self._pids)
        self.peak_sum = max(self.peak_sum, total)
        self.peak_one = max(self.peak_one, one)
        self.cpu_end = cpu_seconds(self._pids)
        return {
            "server_cpu_s": self.cpu_end - self.cpu_start,
            "peak_rss_MiB": self.peak_sum / MiB,
            "peak_rss_largest_process_MiB": self.peak_one / MiB,
        }


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """One running server: its name, base URL, storage directory and process."""

    name: str
    workdir: Path
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.workdir / "storage"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def sampler(self) -> Sampler:
        return Sampler(self.pid)

    def start(self, ready_path: str = "/v2/", timeout: float = 60.0) -> Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start; "
                                   f"see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + ready_path, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log_path}")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the server, then SIGKILL to any process of its tree still alive."""
        if self.proc is None:
            return
        pids = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"  ! {self.name} ignored SIGTERM for {timeout}s; killing pid "
                      f"{self.proc.pid}", file=sys.stderr)
        for pid in pids:  # workers of this server only, by pid
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self.proc = None
        self.log_file.close()

    def remove_storage(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _registry_server(name: str, argv_head: list[str], workdir: Path, logdir: Path,
                     env: dict[str, str]) -> Server:
    port = free_port()
    server = Server(name=name, workdir=workdir, log_path=logdir / f"{workdir.name}.log",
                    port=port, env=env)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(registry_config(workdir / "storage", port))
    server.argv = [*argv_head, str(config)]
    return server


def make_server(name: str, workdir: Path, logdir: Path, dockyard_workers: int = 1) -> Server:
    """A server ready to ``start()``: ``dockyard``, ``distribution`` or ``ceiling``."""
    env = _clean_env()
    if name == "dockyard":
        head = [str(VENV_PYTHON), "-m", "dockyard", "serve"]
        if dockyard_workers != 1:
            head += ["--workers", str(dockyard_workers)]
        server = _registry_server(name, head, workdir, logdir, env)
        # argv is "serve [--workers N] CONFIG"
        return server
    if name == "distribution":
        return _registry_server(name, ["docker-registry", "serve"], workdir, logdir, env)
    if name == "ceiling":
        port = free_port()
        server = Server(name=name, workdir=workdir, log_path=logdir / f"{workdir.name}.log",
                        port=port, env=env)
        server.argv = [str(VENV_PYTHON), str(BENCH_DIR / "ceiling.py"), "--port", str(port),
                       "--dir", str(workdir / "storage"), "--workers", str(dockyard_workers)]
        return server
    raise ValueError(name)


def versions() -> dict[str, str]:
    """Versions of the servers and the load tools."""
    out: dict[str, str] = {}

    def run(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (p.stdout or p.stderr).strip().splitlines()[0] if (p.stdout or p.stderr) \
                else ""
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"unavailable ({e})"

    out["dockyard"] = run([str(VENV_PYTHON), "-c",
                           "import dockyard; print(dockyard.__version__)"])
    out["granian"] = run([str(VENV_PYTHON), "-c", "import granian; print(granian.__version__)"])
    out["uvloop"] = run([str(VENV_PYTHON), "-c", "import uvloop; print(uvloop.__version__)"])
    out["distribution"] = run(["docker-registry", "--version"])
    out["curl"] = run(["curl", "--version"])
    out["wrk"] = run(["wrk", "--version"]).split(" Copyright")[0]
    out["ab"] = run(["ab", "-V"])
    return out
