"""Helpers for :mod:`dockyard.config` that work on plain data, not on the pydantic models.

The main piece is Distribution's ``REGISTRY_*`` environment override rule
(``configuration/parser.go``). Distribution walks its Go structs; Dockyard walks the
raw YAML tree *before* validation, so the models only ever see one merged document and
every error can name the key path. Also here: YAML loading, Go duration strings,
``host:port`` splitting and secret masking. These functions raise plain ``ValueError``;
``dockyard.config`` turns that into ``ConfigError`` with context.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

ENV_PREFIX = "REGISTRY_"
CONFIGURATION_PATH_VAR = "REGISTRY_CONFIGURATION_PATH"
MASK = "******"

KeyPath = tuple[str | int, ...]

# Distribution matches env names against Go field names, which differ from the YAML key
# in a few places. Keys: the YAML path of the parent ("*" = any list index) plus the
# upper-cased Go field name; values: the YAML key to use instead.
_GO_FIELD_NAMES: dict[tuple[str, ...], str] = {
    ("notifications", "EVENTCONFIG"): "events",
    ("health", "FILECHECKERS"): "file",
    ("health", "HTTPCHECKERS"): "http",
    ("health", "TCPCHECKERS"): "tcp",
    ("log", "hooks", "*", "MAILOPTIONS"): "options",
    ("compatibility", "schema1", "TRUSTKEY"): "signingkeyfile",
}
# Go structs embedded with `yaml:",inline"`: the env name may include the field name
# (REGISTRY_REDIS_OPTIONS_PASSWORD) although the YAML key has no such level.
_INLINE_FIELDS: frozenset[tuple[str, ...]] = frozenset({("redis", "OPTIONS")})
# Sections whose Go type turns a plain string into {string: {}} (custom UnmarshalYAML).
STRING_SECTIONS: frozenset[str] = frozenset({"storage", "auth"})


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, as Go's yaml.v2 does for untyped values."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class YamlInt(int):
    """An int read from YAML that remembers how it was written.

    Go decodes into typed fields, so ``secret: 0123`` gives a string field the text
    "0123"; PyYAML has already made it the octal int 83. String-typed config fields use
    ``yaml_text`` to get what Go would have seen.
    """

    yaml_text: str

    def __new__(cls, value: int, yaml_text: str = "") -> YamlInt:
        obj = super().__new__(cls, value)
        obj.yaml_text = yaml_text or str(value)
        return obj

    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]
        return int(self), self.yaml_text


class YamlFloat(float):
    """A float read from YAML that remembers how it was written (see :class:`YamlInt`)."""

    yaml_text: str

    def __new__(cls, value: float, yaml_text: str = "") -> YamlFloat:
        obj = super().__new__(cls, value)
        obj.yaml_text = yaml_text or str(value)
        return obj

    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]
        return float(self), self.yaml_text


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> YamlInt:
    return YamlInt(loader.construct_yaml_int(node), str(node.value))


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> YamlFloat:
    return YamlFloat(loader.construct_yaml_float(node), str(node.value))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def yaml_text(value: Any) -> str | None:
    """The source text of a number read by :func:`yaml_load`, else None."""
    return value.yaml_text if isinstance(value, YamlInt | YamlFloat) else None


def yaml_load(text: str) -> Any:
    """Parse YAML into plain, unshared dicts/lists with string keys.

    Unsharing matters: YAML anchors make several keys point at one object, and env
    overrides mutate the tree in place.
    """
    return plain(yaml.load(text, Loader=_Loader))  # _Loader is a SafeLoader


def plain(value: Any) -> Any:
    """Deep-copy a YAML value, turning mapping keys into strings and breaking aliases."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """One-line description of a YAML error: PyYAML's own text spans several lines."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return str(exc).replace("\n", " ")


# ---------------------------------------------------------------- env overrides


@dataclass(frozen=True)
class EnvOverride:
    """One applied variable and the key path it ended up setting (for error messages)."""

    variable: str
    path: KeyPath


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> list[EnvOverride]:
    """Apply every ``REGISTRY_*`` variable to ``raw`` in place, in lexical name order.

    Lexical order is Distribution's rule: it makes ``REGISTRY_STORAGE`` (which replaces
    the whole section) run before ``REGISTRY_STORAGE_S3_REGION`` (which fills it in).
    """
    applied: list[EnvOverride] = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name == CONFIGURATION_PATH_VAR:
            continue
        segments = name[len(ENV_PREFIX) :].split("_")
        value = parse_env_value(name, environ[name])
        applied.append(EnvOverride(name, _set_path(raw, segments, value, name)))
    return applied


def parse_env_value(name: str, text: str) -> Any:
    """Parse a variable's value as YAML, as Distribution does (``true`` -> bool, blocks...).

    An empty value means "empty string" (Go's zero value). A one-line value that is not
    valid YAML (e.g. a secret starting with ``@``) is kept as a string rather than
    refused; a broken multi-line block is an error because it was meant as structure.
    """
    if not text.strip():
        return ""
    try:
        return yaml_load(text)
    except yaml.YAMLError as exc:
        if "\n" in text.strip():
            raise ValueError(
                f"{name}: value is not valid YAML: {describe_yaml_error(exc)}"
            ) from None
        return text


def _set_path(root: dict[str, Any], segments: list[str], value: Any, name: str) -> KeyPath:
    """Walk/create the tree along ``segments`` and set the leaf; return the resolved path."""
    node: dict[str, Any] | list[Any] = root
    resolved: list[str | int] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        parent = tuple("*" if isinstance(p, int) else p.lower() for p in resolved)
        if not last and (*parent, segment.upper()) in _INLINE_FIELDS:
            continue
        key: str | int
        if isinstance(node, list):
            key = _list_index(node, segment, name, resolved)
        else:
            key = _dict_key(node, _GO_FIELD_NAMES.get((*parent, segment.upper()), segment))
        resolved.append(key)
        if last:
            _store(node, key, _section_from_string(resolved, value))
        else:
            node = _child_container(node, key, segments[i + 1])
    return tuple(resolved)


def _dict_key(node: dict[str, Any], segment: str) -> str:
    """The existing key matching ``segment`` case-insensitively, else its lower-case form."""
    upper = segment.upper()
    for key in node:
        if key.upper() == upper:
            return key
    return segment.lower()


def _list_index(node: list[Any], segment: str, name: str, resolved: list[str | int]) -> int:
    """List items are addressed by index; index == len appends (Distribution's rule)."""
    where = _dotted(tuple(resolved))
    if not re.fullmatch(r"[0-9]+", segment):
        raise ValueError(f"{name}: {where} is a list, so {segment!r} must be an item index")
    index = int(segment)
    if index > len(node):
        raise ValueError(
            f"{name}: index {index} is out of range for {where} ({len(node)} items; "
            f"use {len(node)} to append)"
        )
    return index


def _store(node: dict[str, Any] | list[Any], key: str | int, value: Any) -> None:
    if isinstance(node, list):
        assert isinstance(key, int)
        if key == len(node):
            node.append(value)
        else:
            node[key] = value
    else:
        assert isinstance(key, str)
        node[key] = value


def _child_container(
    node: dict[str, Any] | list[Any], key: str | int, next_segment: str
) -> dict[str, Any] | list[Any]:
    """Return the container at ``key``, creating it when missing or scalar.

    A missing child becomes a list when the next segment is index 0, else a map (so
    Kubernetes' REGISTRY_PORT_5000_TCP service-link variables make an unknown map
    instead of failing on "index 5000").
    A scalar in the way is replaced (Go would ignore the variable instead; replacing
    makes a typo under a known key fail validation loudly, naming the path).
    """
    if isinstance(node, list):
        assert isinstance(key, int)
        existing = node[key] if key < len(node) else None
    else:
        assert isinstance(key, str)
        existing = node.get(key)
    if isinstance(existing, dict | list):
        return existing
    child: dict[str, Any] | list[Any] = [] if next_segment == "0" else {}
    _store(node, key, child)
    return child


def _section_from_string(resolved: list[str | int], value: Any) -> Any:
    """``REGISTRY_STORAGE=s3`` means ``storage: {s3: {}}``, dropping the section's siblings."""
    if len(resolved) == 1 and str(resolved[0]).lower() in STRING_SECTIONS:
        return section_from_string(value)
    return value


def section_from_string(value: Any) -> Any:
    """Distribution's Storage/Auth UnmarshalYAML: a string names the single driver/type."""
    if isinstance(value, str):
        return {value: {}} if value else {}
    return value


def _dotted(path: KeyPath) -> str:
    return dotted_path(path) or "the top level"


def dotted_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    """``("health", "file", 0, "file")`` -> ``health.file[0].file``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# -------------------------------------------------------------------- durations

_NS_PER_UNIT = {
    "ns": Decimal(1),
    "us": Decimal(1_000),
    "µs": Decimal(1_000),  # U+00B5 micro sign
    "μs": Decimal(1_000),  # U+03BC greek mu
    "ms": Decimal(1_000_000),
    "s": Decimal(10**9),
    "m": Decimal(60 * 10**9),
    "h": Decimal(3600 * 10**9),
}
_COMPONENT = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)"
_DURATION_RE = re.compile(rf"(?:{_COMPONENT})+")
_COMPONENT_RE = re.compile(_COMPONENT)


def parse_duration(value: object) -> timedelta:
    """Parse a duration the way Distribution's Go code reads it.

    Strings use Go's ``time.ParseDuration`` syntax (``"10s"``, ``"1h30m"``, ``"500ms"``,
    ``"0"``); a bare integer is nanoseconds, because that is what Go's YAML decoder does
    with ``interval: 10`` (a classic surprise, kept for compatibility). Negative
    durations are refused: every duration in the config is an interval or a timeout.
    Resolution is one microsecond (``timedelta``'s), so sub-microsecond values round.
    """
    if isinstance(value, timedelta):
        nanoseconds = Decimal(value // timedelta(microseconds=1)) * 1000
    elif isinstance(value, int) and not isinstance(value, bool):
        nanoseconds = Decimal(value)
    elif isinstance(value, str):
        nanoseconds = _parse_go_duration(value)
    else:
        raise ValueError(f"invalid duration {value!r}: use a string such as '10s' or '1h30m'")
    if nanoseconds < 0:
        raise ValueError(f"invalid duration {value!r}: must not be negative")
    try:
        return timedelta(microseconds=int((nanoseconds / 1000).to_integral_value()))
    except OverflowError:
        raise ValueError(f"invalid duration {value!r}: too large") from None


def _parse_go_duration(text: str) -> Decimal:
    body = text.strip()
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return Decimal(0)
    if not _DURATION_RE.fullmatch(body):
        raise ValueError(
            f"invalid duration {text!r}: expected a Go duration such as '10s', '24h', "
            "'1h30m' or '500ms' (units: ns, us, ms, s, m, h)"
        )
    try:
        total = sum(
            (Decimal(number) * _NS_PER_UNIT[unit] for number, unit in _COMPONENT_RE.findall(body)),
            Decimal(0),
        )
    except InvalidOperation:
        raise ValueError(f"invalid duration {text!r}") from None
    return sign * total


def format_duration(value: timedelta) -> str:
    """Write a duration compactly in Go syntax (``"24h"``, ``"1h30m"``, ``"1500us"``).

    ``parse_duration(format_duration(d)) == d`` for any non-negative timedelta, which is
    what lets a ``Config`` cross process boundaries as JSON.
    """
    micros = value // timedelta(microseconds=1)
    if micros == 0:
        return "0s"
    sign, micros = ("-", -micros) if micros < 0 else ("", micros)
    parts = []
    for unit, size in (("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1000)):
        count, micros = divmod(micros, size)
        if count:
            parts.append(f"{count}{unit}")
    if micros:
        parts.append(f"{micros}us")
    return sign + "".join(parts)


# -------------------------------------------------------------------- addresses

_HOSTNAME_RE = re.compile(r"[A-Za-z0-9._-]*")


def split_host_port(addr: str) -> tuple[str, int]:
    """Split a Go listen address: ``":5000"``, ``"127.0.0.1:5001"``, ``"[::1]:5000"``.

    An empty host means every IPv4 interface (``0.0.0.0``). Port 0 is accepted (the OS
    picks a free port), as Go's ``net.Listen`` does. Service names (``":http"``) are not.
    """
    if addr.startswith("["):
        end = addr.find("]")
        if end < 0:
            raise ValueError(f"invalid address {addr!r}: missing ']'")
        host, rest = addr[1:end], addr[end + 1 :]
        if not rest.startswith(":"):
            raise ValueError(f"invalid address {addr!r}: missing port (e.g. '[::1]:5000')")
        port_text = rest[1:]
        _check_ipv6(addr, host)
    else:
        host, sep, port_text = addr.rpartition(":")
        if not sep:
            raise ValueError(f"invalid address {addr!r}: expected host:port, e.g. ':5000'")
        if ":" in host:
            raise ValueError(f"invalid address {addr!r}: write IPv6 hosts as '[::1]:5000'")
        if not _HOSTNAME_RE.fullmatch(host):
            raise ValueError(f"invalid address {addr!r}: bad host name {host!r}")
    if not re.fullmatch(r"[0-9]{1,5}", port_text) or int(port_text) > 65535:
        raise ValueError(f"invalid address {addr!r}: port must be a number from 0 to 65535")
    return host or "0.0.0.0", int(port_text)


def _check_ipv6(addr: str, host: str) -> None:
    try:
        ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        raise ValueError(f"invalid address {addr!r}: {host!r} is not an IPv6 address") from None


# ---------------------------------------------------------------------- secrets

_SECRET_SUBSTRINGS = ("password", "secret")
_SECRET_NAMES = frozenset({"token", "apikey", "licensekey", "accesskey", "privatekey"})


def mask_secrets(tree: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a config tree with secret values replaced by ``MASK``.

    Masked: scalar values of keys containing "password"/"secret" or named like an API
    key or token, anywhere (http.secret, proxy.password, redis.password...); under
    ``auth`` also keys named "key"; and any ``Authorization`` header value. File paths
    such as ``http.tls.key`` stay visible: they are needed to debug a config.
    Empty values stay as they are, so "not set" is still visible.
    """
    result = copy.deepcopy(tree)
    _mask_node(result, in_auth=False, top=True)
    return result


def _mask_node(node: Any, *, in_auth: bool, top: bool = False) -> None:
    if isinstance(node, list):
        for item in node:
            _mask_node(item, in_auth=in_auth)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        name = key.lower()
        if name == "authorization" and value:
            node[key] = MASK
        elif isinstance(value, dict | list):
            _mask_node(value, in_auth=in_auth or (top and name == "auth"))
        elif value not in ("", None) and _is_secret_name(name, in_auth):
            node[key] = MASK


def _is_secret_name(name: str, in_auth: bool) -> bool:
    if any(word in name for word in _SECRET_SUBSTRINGS) or name in _SECRET_NAMES:
        return True
    return in_auth and name == "key"
