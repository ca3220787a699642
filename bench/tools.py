"""Running the external load tools (curl, wrk, ab) and reading their output.

* ``curl`` moves the big blobs (``-T`` upload with ``Expect:`` cleared, ``-o /dev/null``
  download, and Range reads from one curl process over one connection).
* ``wrk -t1 -c64 --latency`` drives the small GET requests.
* ``ab -i -k -c64`` drives HEAD: Debian's wrk 4.1.0 waits for a body after a HEAD response
  that carries a Content-Length and counts 0 requests, so it cannot measure HEAD. ab knows
  that a HEAD response has no body. It speaks HTTP/1.0 with ``Connection: keep-alive``
  (the run checks that every request was a keep-alive one) and, like ``wrk -t1``, uses one
  thread; its percentiles come from its CSV output (``-e``) in milliseconds.

The client's CPU time comes from ``getrusage(RUSAGE_CHILDREN)`` around the tool (the
servers are not reaped while they run, so they do not count).
"""

from __future__ import annotations

import re
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ToolRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    client_cpu_s: float


def run_tool(argv: list[str], timeout: float, cwd: Path | None = None) -> ToolRun:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ToolRun(argv, p.returncode, p.stdout, p.stderr, wall, cpu)


class ToolError(RuntimeError):
    pass


# ------------------------------------------------------------------------- curl

CURL_WRITE_OUT = "%{http_code} %{size_upload} %{size_download} %{time_total}\\n"


def curl_transfers(run: ToolRun) -> list[tuple[int, int, int, float]]:
    """(status, bytes up, bytes down, seconds) for each transfer curl made."""
    rows = []
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0].isdigit():
            rows.append((int(parts[0]), int(float(parts[1])), int(float(parts[2])),
                         float(parts[3])))
    return rows


def curl_upload(url: str, path: Path, timeout: float) -> ToolRun:
    return run_tool(["curl", "-sS", "-X", "PUT", "-T", str(path), "-H", "Expect:",
                     "-H", "Content-Type: application/octet-stream", "-o", "/dev/null",
                     "--max-time", str(int(timeout)), "-w", CURL_WRITE_OUT, url],
                    timeout + 10)


def curl_download(url: str, timeout: float) -> ToolRun:
    return run_tool(["curl", "-sS", "-o", "/dev/null", "--max-time", str(int(timeout)),
                     "-w", CURL_WRITE_OUT, url], timeout + 10)


def curl_ranges(url: str, ranges: list[tuple[int, int]], config_path: Path,
                timeout: float) -> ToolRun:
    """Every range from one curl process (one connection, reused); ``timeout`` is for the
    whole process, 60 s for each transfer."""
    blocks = []
    for start, end in ranges:
        blocks.append(f'url = "{url}"\nrange = "{start}-{end}"\noutput = "/dev/null"\n'
                      f'write-out = "{CURL_WRITE_OUT}"\nmax-time = 60\n'
                      'silent\nshow-error\n')
    config_path.write_text("next\n".join(blocks))
    return run_tool(["curl", "-K", str(config_path)], timeout + 10)


# -------------------------------------------------------------------------- wrk

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ToolError(f"cannot read a latency from {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, connections: int, duration: float, headers: list[str]) -> ToolRun:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
            "--timeout", "10s"]
    for h in headers:
        argv += ["-H", h]
    return run_tool([*argv, url], duration + 60)


def parse_wrk(run: ToolRun) -> dict[str, float]:
    out = run.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if run.returncode != 0 or not m:
        raise ToolError(f"wrk failed ({run.returncode}): {out[-500:]} {run.stderr[-500:]}")
    result = {"req_per_s": float(m.group(1))}
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        pm = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if pm:
            result[key] = _ms(pm.group(1))
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = float(total.group(1)) if total else 0.0
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    result["errors"] = float(errors)
    return result


# --------------------------------------------------------------------------- ab


def ab_head(url: str, connections: int, duration: float, csv_path: Path) -> ToolRun:
    seconds = max(1, round(duration))
    # -t implies -n 50000 (too few at tens of thousands of req/s): -n after -t lifts it.
    argv = ["ab", "-q", "-S", "-d", "-r", "-i", "-k", f"-c{connections}", "-t", str(seconds),
            "-n", str(300_000 * seconds), "-s", "10", "-e", str(csv_path), url]
    return run_tool(argv, duration + 60)


def parse_ab(run: ToolRun, csv_path: Path) -> dict[str, float]:
    out = run.stdout

    def num(label: str) -> float | None:
        m = re.search(rf"^{label}:\s+([\d.]+)", out, re.M)
        return float(m.group(1)) if m else None

    rps = num("Requests per second")
    if rps is None:
        raise ToolError(f"ab failed ({run.returncode}): {out[-500:]} {run.stderr[-500:]}")
    complete = num("Complete requests") or 0.0
    result = {"req_per_s": rps, "requests": complete,
              "errors": (num("Failed requests") or 0.0) + (num("Non-2xx responses") or 0.0),
              "keepalive_requests": num("Keep-Alive requests") or 0.0}
    percentiles = {}
    for line in csv_path.read_text().splitlines()[1:]:
        pct, _, ms = line.partition(",")
        if pct.isdigit():
            percentiles[int(pct)] = float(ms)
    if 50 in percentiles:
        result["p50_ms"] = percentiles[50]
    if 99 in percentiles:
        result["p99_ms"] = percentiles[99]
    return result
