"""``notifications`` in config.yml, read the way Distribution reads it.

The config loader keeps the section as a raw mapping; this module turns it into
:class:`EndpointSettings`. Keys match case-insensitively (``REGISTRY_*`` overrides write
them lower-cased). Defaults are Distribution's (``notifications/endpoint.go``): a
``timeout``, ``threshold`` or ``backoff`` that is missing, zero or negative becomes 1s, 10
and 1s. Durations are Go durations; a bare integer is nanoseconds, as in Go.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.config import ConfigError, parse_duration

log = logging.getLogger("dockyard.notifications")

DEFAULT_TIMEOUT = 1.0
DEFAULT_THRESHOLD = 10
DEFAULT_BACKOFF = 1.0


@dataclass(frozen=True)
class EndpointSettings:
    """One enabled endpoint; durations in seconds."""

    name: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    threshold: int = DEFAULT_THRESHOLD
    backoff: float = DEFAULT_BACKOFF
    ignored_media_types: frozenset[str] = field(default_factory=frozenset)
    ignored_actions: frozenset[str] = field(default_factory=frozenset)


def _lower_keys(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"config: {path}: must be a mapping", [path])
    return {str(k).lower(): v for k, v in value.items()}


def _string_list(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"config: {path}: must be a list of strings", [path])
    return list(value)


def _seconds(value: Any, default: float, path: str) -> float:
    if value is None or value == "":
        return default
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise ConfigError(f"config: {path}: {exc}", [path]) from None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        # Go reads a bare number as nanoseconds; keep that exactly (parse_duration rounds
        # to microseconds, which would turn 500 into 0 and so into the default).
        seconds = value / 1e9
        log.warning("config: %s: %d has no unit, so it means %dns as in Distribution; "
                    "write e.g. '%dms' if that is what you meant", path, value, value, value)
    return seconds if seconds > 0 else default


def _threshold(value: Any, path: str) -> int:
    if value is None or value == "":
        return DEFAULT_THRESHOLD
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"config: {path}: must be an integer", [path])
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"config: {path}: must be an integer", [path]) from None
    return number if number > 0 else DEFAULT_THRESHOLD


def _headers(value: Any, path: str) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigError(f"config: {path}: must map header names to lists of values", [path])
    for name, values in value.items():
        for item in _string_list(values, f"{path}.{name}"):
            headers.append((str(name), item))
    return tuple(headers)


def _bool(value: Any, path: str) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    raise ConfigError(f"config: {path}: must be true or false", [path])


def parse_endpoints(notifications: Mapping[str, Any] | None) -> list[EndpointSettings]:
    """The enabled endpoints of a ``notifications`` section; raises :class:`ConfigError`.

    Disabled endpoints are skipped, as Distribution does. ``ignoredmediatypes`` and
    ``ignore.mediatypes`` are merged, as in ``notifications.NewEndpoint``.
    """
    section = _lower_keys(notifications, "notifications")
    raw_endpoints = section.get("endpoints")
    if raw_endpoints is None:
        return []
    if not isinstance(raw_endpoints, list):
        raise ConfigError("config: notifications.endpoints: must be a list",
                          ["notifications.endpoints"])
    endpoints: list[EndpointSettings] = []
    for index, raw in enumerate(raw_endpoints):
        path = f"notifications.endpoints[{index}]"
        item = _lower_keys(raw, path)
        if _bool(item.get("disabled"), f"{path}.disabled"):
            continue
        url = item.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"config: {path}.url: an http:// or https:// URL is required",
                              [f"{path}.url"])
        name = item.get("name")
        ignore = _lower_keys(item.get("ignore"), f"{path}.ignore")
        media_types = _string_list(ignore.get("mediatypes"), f"{path}.ignore.mediatypes")
        media_types += _string_list(item.get("ignoredmediatypes"), f"{path}.ignoredmediatypes")
        endpoints.append(EndpointSettings(
            name=str(name) if name not in (None, "") else f"endpoint-{index}",
            url=url,
            headers=_headers(item.get("headers"), f"{path}.headers"),
            timeout=_seconds(item.get("timeout"), DEFAULT_TIMEOUT, f"{path}.timeout"),
            threshold=_threshold(item.get("threshold"), f"{path}.threshold"),
            backoff=_seconds(item.get("backoff"), DEFAULT_BACKOFF, f"{path}.backoff"),
            ignored_media_types=frozenset(media_types),
            ignored_actions=frozenset(_string_list(ignore.get("actions"),
                                                   f"{path}.ignore.actions")),
        ))
    return endpoints


def includes_references(notifications: Mapping[str, Any] | None) -> bool:
    """``notifications.events.includereferences``."""
    section = _lower_keys(notifications, "notifications")
    events = _lower_keys(section.get("events"), "notifications.events")
    return _bool(events.get("includereferences"), "notifications.events.includereferences")
