"""Running ``dockyard`` verbs as a subprocess in e2e tests, and reading what moved on the wire.

The CLI is exercised as users run it (a process with arguments), with an empty auth file so
nothing from the host's docker/podman logins leaks in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMEOUT = 180.0


@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return (f"exit {self.returncode}: {' '.join(self.argv)}\n--- stdout ---\n"
                f"{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-5000:]}")


def cli_env(base: Path) -> dict[str, str]:
    base.mkdir(parents=True, exist_ok=True)
    auth = base / "auth.json"
    if not auth.exists():
        auth.write_text(json.dumps({"auths": {}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(HOME=str(base), REGISTRY_AUTH_FILE=str(auth), XDG_RUNTIME_DIR=str(base),
               XDG_CONFIG_HOME=str(base / ".config"), DOCKER_CONFIG=str(base / ".docker"))
    return env


def dockyard(base: Path, *args: object, check: bool = True) -> Run:
    """``python -m dockyard ARGS`` with a private HOME under ``base``."""
    argv = [sys.executable, "-m", "dockyard", *(str(a) for a in args)]
    proc = subprocess.run(argv, env=cli_env(base), capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    run = Run(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and run.returncode != 0:
        raise AssertionError(f"dockyard failed: {run}")
    return run


def blob_bytes_moved(exchanges: list[Any]) -> dict[str, int]:
    """Blob traffic seen by a RecordingProxy: bytes uploaded and blob GETs."""
    uploaded = sum(e.request_body_size for e in exchanges
                   if e.method in ("PUT", "PATCH", "POST") and "/blobs/uploads/" in e.path)
    gets = sum(1 for e in exchanges if e.method == "GET" and "/blobs/sha256:" in e.path)
    return {"uploaded": uploaded, "blob_gets": gets}
