"""Helpers for the retention tests: run the CLI, age rows in the database, read it back."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.pushing import ACCEPT_ALL

DAY = 86400.0


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return subprocess.run([sys.executable, "-m", "dockyard", "retention", *args, str(config)],
                          capture_output=True, text=True, env=env, timeout=120)


def run_json(config: Path, *args: str) -> Any:
    result = run_cli(config, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def database(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "dockyard" / "metadata.sqlite3")


def age_tags(root: Path, repository: str, days_by_tag: dict[str, float]) -> None:
    """Set each tag's push time ``days`` in the past (test setup, as an old registry has)."""
    with database(root) as conn:
        for name, days in days_by_tag.items():
            changed = conn.execute(
                "UPDATE tags SET updated_at = ? WHERE name = ? AND repository_id = "
                "(SELECT id FROM repositories WHERE name = ?)",
                (time.time() - days * DAY, name, repository)).rowcount
            assert changed == 1, (repository, name)


def age_manifests(root: Path, repository: str, days: float) -> None:
    """Every manifest of ``repository`` pushed ``days`` ago."""
    with database(root) as conn:
        conn.execute("UPDATE manifests SET created_at = ? WHERE repository_id = "
                     "(SELECT id FROM repositories WHERE name = ?)",
                     (time.time() - days * DAY, repository))


def pull_time(root: Path, repository: str, reference: str) -> float | None:
    with database(root) as conn:
        row = conn.execute(
            "SELECT p.pulled_at FROM pull_times p JOIN repositories r ON r.id = p.repository_id "
            "WHERE r.name = ? AND p.reference = ?", (repository, reference)).fetchone()
    return None if row is None else float(row[0])


def tags_of(client: httpx.Client, repository: str) -> set[str]:
    response = client.get(f"/v2/{repository}/tags/list")
    assert response.status_code == 200, response.text
    return set(response.json()["tags"] or [])


def manifest_status(client: httpx.Client, repository: str, reference: str) -> int:
    return client.get(f"/v2/{repository}/manifests/{reference}",
                      headers={"accept": ACCEPT_ALL}).status_code
