"""Where registry credentials come from: the auth files docker, podman and dockyard write.

Search order (first file with an entry for the registry wins): an explicit ``--authfile``
only, else dockyard's own file (``dockyard login``), ``$REGISTRY_AUTH_FILE``, podman's
``${XDG_RUNTIME_DIR}/containers/auth.json``, then ``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``. Entries hold ``auth`` (base64 ``user:password``) or ``username`` and
``password``. Credential helpers (``credsStore``/``credHelpers``) are not run.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Docker Hub's historical key in docker's config.json.
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def dockyard_auth_file() -> Path:
    """``$XDG_CONFIG_HOME/dockyard/auth.json`` (default ``~/.config/dockyard/auth.json``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dockyard" / "auth.json"


def search_path(auth_file: str | None = None) -> list[Path]:
    """The files consulted, in order."""
    if auth_file:
        return [Path(auth_file)]
    paths = [dockyard_auth_file()]
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        paths.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    docker_dir = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    paths.append(Path(docker_dir) / "config.json")
    return paths


def lookup(registry: str, auth_file: str | None = None) -> Credentials | None:
    """The stored credentials for ``registry``, or None."""
    for path in search_path(auth_file):
        auths = _read(path).get("auths") or {}
        for key in _keys_for(registry):
            entry = auths.get(key)
            if isinstance(entry, dict):
                found = _decode(entry)
                if found is not None:
                    return found
    return None


def store(registry: str, credentials: Credentials, auth_file: str | None = None) -> Path:
    """Record credentials in dockyard's file (or ``auth_file``), mode 0600; returns the path."""
    path = Path(auth_file) if auth_file else dockyard_auth_file()
    document = _read(path)
    token = f"{credentials.username}:{credentials.password}".encode()
    document.setdefault("auths", {})[registry] = {"auth": base64.b64encode(token).decode()}
    _write(path, document)
    return path


def remove(registry: str, auth_file: str | None = None) -> bool:
    """Forget ``registry`` in dockyard's file (or ``auth_file``); False if it had no entry."""
    path = Path(auth_file) if auth_file else dockyard_auth_file()
    document = _read(path)
    auths = document.get("auths") or {}
    if registry not in auths:
        return False
    del auths[registry]
    _write(path, document)
    return True


def _keys_for(registry: str) -> Iterator[str]:
    yield registry
    yield f"https://{registry}"
    yield f"http://{registry}"
    if registry == "docker.io":
        yield from _HUB_KEYS


def _decode(entry: dict[str, Any]) -> Credentials | None:
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return Credentials(user, password) if sep else None
    if entry.get("username") and "password" in entry:
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _write(path: Path, document: dict[str, Any]) -> None:
    """Write atomically with mode 0600 from the first byte: the file holds passwords."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
