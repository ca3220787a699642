"""Where registry credentials come from: the auth files docker, podman and dockyard write.

Search order (first file with an entry for the registry wins): an explicit ``--authfile``
only, else dockyard's own file (``dockyard login``), ``$REGISTRY_AUTH_FILE``, podman's
``${XDG_RUNTIME_DIR}/containers/auth.json``, then ``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``. Entries hold ``auth`` (base64 ``user:password``) or ``username`` and
``password``; ``credHelpers``/``credsStore`` name a ``docker-credential-*`` program to ask.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Docker Hub's historical key in docker's config.json.
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io")
_HELPER_TIMEOUT = 20.0  # seconds; a helper may ask a keyring daemon


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
    """The stored credentials for ``registry``, or None.

    In each file, as docker does: a credential helper named for the registry
    (``credHelpers``), else the default helper (``credsStore``), else the ``auths`` entry.
    """
    for path in search_path(auth_file):
        document = _read(path)
        helper = (document.get("credHelpers") or {}).get(registry) or document.get("credsStore")
        if isinstance(helper, str) and helper:
            found = _from_helper(helper, registry)
            if found is not None:
                return found
        auths = document.get("auths") or {}
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


def _from_helper(helper: str, registry: str) -> Credentials | None:
    """``docker-credential-<helper> get`` with the registry on stdin (docker's protocol).

    A helper that is missing, fails, or holds an identity token (``<token>``, which needs
    an OAuth2 exchange this client does not do) gives nothing, and the search goes on.
    """
    if not re.fullmatch(r"[A-Za-z0-9._-]+", helper):
        return None
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "get"], input=registry.encode(), capture_output=True,
                              timeout=_HELPER_TIMEOUT, check=False)
        answer = json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    user = answer.get("Username") if isinstance(answer, dict) else None
    if not user or user == "<token>" or "Secret" not in answer:
        return None
    return Credentials(str(user), str(answer["Secret"]))


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
