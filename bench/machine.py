"""The machine a run was measured on: machine.json and machine.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from servers import versions


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip() if ":" in line else \
                    line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "unknown"


def _filesystem(path: Path) -> str:
    try:
        out = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()[-1].split()
        return f"{out[1]} on {out[0]}"
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def git_state() -> str:
    """The commit of the Dockyard tree measured, and whether it had local changes."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "src"],
                                 capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    n = len(changed.splitlines())
    return f"{head} ({n} uncommitted change{'s' if n != 1 else ''} under src/)" if n else head


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def describe(tmp_dir: Path) -> dict[str, object]:
    mem_kib = int(_first("/proc/meminfo", "MemTotal").split()[0])
    info: dict[str, object] = {
        "cores": os.cpu_count(),
        "memory_GiB": round(mem_kib / 1024 / 1024, 1),
        "cpu_model": _first("/proc/cpuinfo", "model name"),
        "cpu_flags_sha_ni": "sha_ni" in _first("/proc/cpuinfo", "flags").split(),
        "kernel": platform.release(),
        "os": _first("/etc/os-release", "PRETTY_NAME"),
        "python": platform.python_version(),
        "storage_filesystem": _filesystem(tmp_dir),
        "load_average_at_start": load_average(),
        "dockyard_git": git_state(),
    }
    info.update({f"{k}_version": v for k, v in versions().items()})
    return info


def write(out_dir: Path, info: dict[str, object]) -> None:
    (out_dir / "machine.json").write_text(json.dumps(info, indent=2) + "\n")
    (out_dir / "machine.md").write_text(markdown(info))


def markdown(info: dict[str, object]) -> str:
    rows = [
        ("CPU", f"{info.get('cores')} cores, {info.get('cpu_model')}"
                f"{' (SHA-NI)' if info.get('cpu_flags_sha_ni') else ''}"),
        ("Memory", f"{info.get('memory_GiB')} GiB"),
        ("OS, kernel", f"{info.get('os')}, {info.get('kernel')}"),
        ("Storage (temp dir)", info.get("storage_filesystem")),
        ("Python", info.get("python")),
        ("Dockyard", f"{info.get('dockyard_version')}, git {info.get('dockyard_git')}"),
        ("granian / uvloop", f"{info.get('granian_version')} / {info.get('uvloop_version')}"),
        ("Distribution", info.get("distribution_version")),
        ("Load generators", f"{info.get('wrk_version')}; {info.get('ab_version')}; "
                            f"{str(info.get('curl_version')).split(' (')[0]}"),
        ("Load average at start / end", f"{info.get('load_average_at_start')} / "
                                         f"{info.get('load_average_at_end', '?')}"),
    ]
    lines = ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"
