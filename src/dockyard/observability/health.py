"""Health checks as Distribution configures them (``health`` section).

* ``storagedriver`` (named ``storagedriver_filesystem``): writes and removes a small probe
  file under ``<root>/docker/registry/v2``, so a missing, unmounted or read-only storage
  root fails. Distribution only stats the root; a registry that cannot write cannot take
  pushes, so Dockyard checks the write (only the directory in read-only mode). A full disk
  passes: it still serves reads, and each write answers 507 on its own (docs/integrity.md).
* ``file`` (named by its path): fails while the file exists (used to drain a node).
* ``http`` (named by its URI): ``HEAD`` must answer ``statuscode``.
* ``tcp`` (named by its address): the address must accept a connection.

A check turns unhealthy after ``threshold`` consecutive failures (0 counts as 1, as in
Go) and healthy again on its first success. Each check probes once at start, then every
``interval``. A ``timeout`` of 0 (Go: none) is bounded by the interval here, so a hung
probe cannot pile up or hold a worker's shutdown.

Workers run the checks as asyncio tasks (:class:`Health`, probes in a thread); the parent
runs the same checks in daemon threads (:class:`ThreadedHealth`) for ``/debug/health``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from dockyard.config import Config
from dockyard.config_env import split_host_port
from dockyard.core.errors import is_out_of_space
from dockyard.core.tasks import cancel_all
from dockyard.storage.layout import Layout

log = logging.getLogger("dockyard.health")
Probe = Callable[[], None]
"""Returns when healthy; raises with a message when not."""


class CheckFailed(Exception):
    """A probe's verdict, with the message ``/debug/health`` shows."""


class Check:
    """One named probe with its schedule and threshold state."""

    def __init__(self, name: str, probe: Probe, interval: float, threshold: int = 1) -> None:
        self.name = name
        self.probe = probe
        self.interval = interval
        self.threshold = max(threshold, 1)
        self.failures = 0
        self.error: str | None = None

    def probe_error(self) -> str | None:
        """Run the probe; its error message, or None when it passed."""
        try:
            self.probe()
        except Exception as error:  # any failure of the probe is the check's failure
            return str(error) or type(error).__name__
        return None

    def record(self, error: str | None) -> None:
        """Count one result: unhealthy after ``threshold`` failures in a row."""
        if error is None:
            if self.error is not None:
                log.info("health check %s passes again", self.name)
            self.failures = 0
            self.error = None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            if self.error is None:
                log.warning("health check %s fails: %s", self.name, error)
            self.error = error

    def run_once(self) -> None:
        self.record(self.probe_error())


# ------------------------------------------------------------------------- probes


def storage_probe(directory: Path, write: bool = True) -> Probe:
    """Create, write and delete a file in ``directory`` (never creating the directory).

    ``write`` False (``storage.maintenance.readonly``: the storage may be a read-only
    mount on purpose) only requires the directory to be there.
    """
    name = f".dockyard-health-{os.getpid()}"

    def probe() -> None:
        path = directory / f"{name}-{threading.get_ident()}"
        try:
            if not write:
                if not stat.S_ISDIR(os.stat(directory).st_mode):
                    raise NotADirectoryError(errno.ENOTDIR, "Not a directory")
                return
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
            os.unlink(path)
        except OSError as error:
            if write and is_out_of_space(error):  # Full, not broken: reads must go on,
                with contextlib.suppress(OSError):  # and each write answers 507 itself.
                    os.unlink(path)
                return
            problem = "not writable" if write else "not available"
            raise CheckFailed(f"storage is {problem} at {directory}: "
                              f"{error.strerror or error}") from None

    return probe


def file_probe(path: str) -> Probe:
    def probe() -> None:
        if os.path.exists(path):
            raise CheckFailed("file exists")

    return probe


def tcp_probe(addr: str, timeout: float) -> Probe:
    host, port = split_host_port(addr)

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError:
            raise CheckFailed(f"connection to {addr} failed") from None

    return probe


def http_probe(uri: str, headers: dict[str, list[str]], status: int, timeout: float) -> Probe:
    header_list = [(name, value) for name, values in headers.items() for value in values]

    def probe() -> None:
        import httpx  # Only when an http check is configured: it weighs ~10 MiB per process.

        try:
            response = httpx.head(uri, headers=header_list, timeout=timeout,
                                  follow_redirects=True)
        except httpx.HTTPError as error:
            raise CheckFailed(f"error while checking: {error}") from None
        if response.status_code != status:
            raise CheckFailed(f"downstream service returned unexpected status: "
                              f"{response.status_code}")

    return probe


def build_checks(config: Config) -> list[Check]:
    """The checks the ``health`` section configures, in Distribution's order."""
    health = config.health
    checks: list[Check] = []
    driver = health.storagedriver
    if driver.enabled:
        directory = Layout(config.root_directory).v2
        with contextlib.suppress(OSError):  # what the blob store creates at start anyway
            directory.mkdir(parents=True, exist_ok=True)
        read_only = config.storage.maintenance.readonly.enabled
        checks.append(Check("storagedriver_filesystem",
                            storage_probe(directory, write=not read_only),
                            _seconds(driver.interval), driver.threshold))
    for file_check in health.file:
        checks.append(Check(file_check.file, file_probe(file_check.file),
                            _seconds(file_check.interval)))
    for http_check in health.http:
        interval = _seconds(http_check.interval)
        checks.append(Check(http_check.uri, http_probe(
            http_check.uri, http_check.headers, http_check.statuscode,
            _seconds(http_check.timeout) or interval), interval, http_check.threshold))
    for tcp_check in health.tcp:
        interval = _seconds(tcp_check.interval)
        checks.append(Check(tcp_check.addr, tcp_probe(
            tcp_check.addr, _seconds(tcp_check.timeout) or interval), interval,
            tcp_check.threshold))
    return checks


def _seconds(value: timedelta) -> float:
    return value.total_seconds()


# ------------------------------------------------------------------------ runners


class _Checks:
    """The state shared by both runners; ``healthy`` is a plain attribute (read per request)."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        self.healthy = True

    def failures(self) -> dict[str, str]:
        """``{check name: error}`` of the failing checks (``/debug/health``'s body)."""
        return {check.name: check.error for check in self.checks if check.error is not None}

    def _record(self, check: Check, error: str | None) -> None:
        check.record(error)
        self.healthy = all(c.error is None for c in self.checks)


class Health(_Checks):
    """A worker's checks, each an asyncio task whose probes run in a small thread pool."""

    def __init__(self, checks: list[Check]) -> None:
        super().__init__(checks)
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start probing; needs the running event loop (lifespan startup)."""
        if not self.checks or self._tasks:
            return
        self._executor = ThreadPoolExecutor(max_workers=min(len(self.checks), 8),
                                            thread_name_prefix="dockyard-health")
        self._tasks = [asyncio.get_running_loop().create_task(self._run(check))
                       for check in self.checks]

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def run_once(self) -> None:
        """Probe every check once now (also what each task does per interval)."""
        loop = asyncio.get_running_loop()
        for check in self.checks:
            self._record(check, await loop.run_in_executor(self._executor, check.probe_error))

    async def _run(self, check: Check) -> None:
        loop = asyncio.get_running_loop()
        while True:
            error = await loop.run_in_executor(self._executor, check.probe_error)
            self._record(check, error)
            await asyncio.sleep(check.interval)


class ThreadedHealth(_Checks):
    """The parent's copy of the checks, for the debug server: one daemon thread each."""

    def __init__(self, checks: list[Check]) -> None:
        super().__init__(checks)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        self._threads = [threading.Thread(target=self._run, args=(check,), daemon=True,
                                          name=f"dockyard-health-{index}")
                         for index, check in enumerate(self.checks)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _run(self, check: Check) -> None:
        while not self._stopping.is_set():
            self._record(check, check.probe_error())
            self._stopping.wait(check.interval)
