"""Dockyard configuration: Distribution's ``config.yml`` (version 0.1) as pydantic models.

Dockyard is a drop-in for ``registry:2``, so it reads the same file and honours the same
``REGISTRY_*`` environment overrides. Keys Dockyard does not implement are not errors
(an existing config must keep starting); they are collected in
:attr:`Config.unsupported_keys` so the caller can warn about them. Invalid values are
errors that name the key path, because a registry that silently runs with a half-read
config is worse than one that refuses to start.

Dockyard-only settings live in the ``dockyard`` section, which Distribution ignores.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dockyard.config_env import (
    CONFIGURATION_PATH_VAR,
    EnvOverride,
    apply_env_overrides,
    describe_yaml_error,
    dotted_path,
    format_duration,
    mask_secrets,
    parse_duration,
    section_from_string,
    split_host_port,
    yaml_load,
    yaml_text,
)
from dockyard.gc.settings import GcSettings
from dockyard.quota.settings import QuotaConfig
from dockyard.retention.settings import RetentionSettings

__all__ = [
    "Config",
    "ConfigError",
    "format_duration",
    "load_config",
    "parse_duration",
]

SUPPORTED_VERSION = "0.1"
DEFAULT_ROOT_DIRECTORY = "./data"
DEFAULT_CHECK_INTERVAL = timedelta(seconds=10)
# Keys of `storage` that are settings rather than a driver name (Distribution's list).
STORAGE_PARAMETERS = frozenset({"delete", "maintenance", "cache", "redirect", "tag"})
SUPPORTED_DRIVERS = frozenset({"filesystem"})


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the offending key path(s)."""

    def __init__(self, message: str, paths: list[str] | None = None) -> None:
        super().__init__(message)
        self.paths: list[str] = paths or []


def _invalid(message: str) -> PydanticCustomError:
    """A validation error whose text is exactly ``message`` (no "Value error, " prefix)."""
    return PydanticCustomError("dockyard_config", "{message}", {"message": message})


def _duration(value: object) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _invalid(str(exc)) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A Go duration in the YAML, a ``timedelta`` in Python, a Go duration string in JSON."""


class _Section(BaseModel):
    """Base of every config section.

    ``extra="allow"`` keeps unknown keys (reported by ``Config.unsupported_keys``);
    ``coerce_numbers_to_str`` because Go reads ``secret: 12345`` into a string field.
    """

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    @field_validator("*", mode="before")
    @classmethod
    def _as_go_reads_it(cls, value: Any, info: ValidationInfo) -> Any:
        """Undo two YAML-vs-Go differences before validating a field.

        ``delete:`` with nothing after it is null in YAML: treat it as "not set".
        ``secret: 0123`` is the int 83 to PyYAML but the text "0123" to Go's decoder.
        """
        if info.field_name is None:
            return value
        field = cls.model_fields[info.field_name]
        if value is None and not field.is_required() and field.default is not None:
            return field.get_default(call_default_factory=True)
        text = yaml_text(value)
        if text is not None and field.annotation in (str, str | None):
            return text
        return value


def _non_zero_interval(value: timedelta) -> timedelta:
    """Distribution replaces a zero check interval with 10s; a zero sleep would spin."""
    return value or DEFAULT_CHECK_INTERVAL


def _check_addr(value: str) -> str:
    try:
        split_host_port(value)
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    return value


def _header_lists(value: Any) -> Any:
    """Allow ``Header: value`` as well as Go's ``Header: [value]``."""
    if isinstance(value, dict):
        return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
    return value


Headers = Annotated[dict[str, list[str]], BeforeValidator(_header_lists)]
Interval = Annotated[Duration, AfterValidator(_non_zero_interval)]
"""A health-check interval: zero means the default, as in Distribution."""


# ------------------------------------------------------------------------ log


class AccessLogConfig(_Section):
    disabled: bool = False


class LogConfig(_Section):
    level: Literal["error", "warn", "info", "debug"] = "info"
    formatter: Literal["text", "json", "logstash"] = "text"
    fields: dict[str, Any] = Field(default_factory=dict)
    accesslog: AccessLogConfig = Field(default_factory=AccessLogConfig)

    @field_validator("level", "formatter", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        """Distribution lower-cases the level before checking it."""
        return value.lower() if isinstance(value, str) else value


# -------------------------------------------------------------------- storage


class FilesystemDriver(_Section):
    rootdirectory: str = DEFAULT_ROOT_DIRECTORY


class DeleteConfig(_Section):
    enabled: bool = False


class CacheConfig(_Section):
    blobdescriptor: Literal["", "inmemory", "redis"] = ""


class UploadPurgingConfig(_Section):
    """Removal of abandoned uploads.

    The interval is Distribution's; the age is 24 h rather than its 168 h, because a session
    nobody touched for a day is dead and holds disk space.
    """

    enabled: bool = True
    age: Duration = timedelta(hours=24)
    interval: Duration = timedelta(hours=24)
    dryrun: bool = False


class ReadOnlyConfig(_Section):
    enabled: bool = False


class MaintenanceConfig(_Section):
    uploadpurging: UploadPurgingConfig = Field(default_factory=UploadPurgingConfig)
    readonly: ReadOnlyConfig = Field(default_factory=ReadOnlyConfig)


class RedirectConfig(_Section):
    disable: bool = False


class StorageConfig(_Section):
    filesystem: FilesystemDriver = Field(default_factory=FilesystemDriver)
    delete: DeleteConfig = Field(default_factory=DeleteConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)
    redirect: RedirectConfig = Field(default_factory=RedirectConfig)

    @model_validator(mode="before")
    @classmethod
    def _one_supported_driver(cls, data: Any) -> Any:
        """Distribution wants exactly one driver; Dockyard has only ``filesystem`` so far.

        No driver at all means the default filesystem root (Distribution would refuse).
        """
        data = section_from_string(data)
        if not isinstance(data, dict):
            return data
        drivers = [key for key in data if key not in STORAGE_PARAMETERS]
        if len(drivers) > 1:
            raise _invalid(f"must configure exactly one storage driver, got: {', '.join(drivers)}")
        if drivers and drivers[0] not in SUPPORTED_DRIVERS:
            raise _invalid(f"driver {drivers[0]!r} is not supported yet")
        return data


# ----------------------------------------------------------------------- http


class TLSConfig(_Section):
    certificate: str = ""
    key: str = ""
    clientcas: list[str] = Field(default_factory=list)
    minimumtls: Literal["tls1.0", "tls1.1", "tls1.2", "tls1.3"] = "tls1.2"

    @field_validator("minimumtls", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return "tls1.2" if value == "" else value

    @model_validator(mode="after")
    def _pair(self) -> TLSConfig:
        """A certificate without its key (or the reverse) cannot serve TLS."""
        if bool(self.certificate) != bool(self.key):
            raise _invalid("certificate and key must be set together")
        return self


class PrometheusConfig(_Section):
    enabled: bool = False
    path: str = "/metrics"


class DebugConfig(_Section):
    addr: str = ""
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)

    @field_validator("addr")
    @classmethod
    def _valid_addr(cls, value: str) -> str:
        """Empty disables the debug server; anything else must be a TCP address."""
        return _check_addr(value) if value else value


class HTTPConfig(_Section):
    net: Literal["tcp", "unix"] = "tcp"  # before addr: addr is checked according to net
    addr: str = ":5000"
    prefix: str = ""
    host: str = ""
    relativeurls: bool = False
    secret: str = ""
    draintimeout: Duration = timedelta(0)
    headers: Headers = Field(default_factory=dict)
    tls: TLSConfig = Field(default_factory=TLSConfig)
    debug: DebugConfig = Field(default_factory=DebugConfig)

    @field_validator("net", mode="before")
    @classmethod
    def _empty_net_is_tcp(cls, value: Any) -> Any:
        return "tcp" if value == "" else value

    @field_validator("addr")
    @classmethod
    def _valid_addr(cls, value: str, info: ValidationInfo) -> str:
        """Checked at load time so a bad address fails before any worker starts."""
        if info.data.get("net", "tcp") != "tcp":
            if not value:
                raise _invalid("a unix socket path is required when net is 'unix'")
            return value
        return _check_addr(value)


# --------------------------------------------------------------------- health


class StorageDriverCheck(_Section):
    enabled: bool = False
    interval: Interval = DEFAULT_CHECK_INTERVAL
    threshold: int = 3


class FileCheck(_Section):
    """Unhealthy while ``file`` exists (used to drain a node)."""

    file: str
    interval: Interval = DEFAULT_CHECK_INTERVAL


class HTTPCheck(_Section):
    """``timeout`` 0 means no timeout and ``threshold`` 0 means one failure, as in Go."""

    uri: str
    headers: Headers = Field(default_factory=dict)
    statuscode: int = 200
    timeout: Duration = timedelta(0)
    interval: Interval = DEFAULT_CHECK_INTERVAL
    threshold: int = 0


class TCPCheck(_Section):
    addr: str
    timeout: Duration = timedelta(0)
    interval: Interval = DEFAULT_CHECK_INTERVAL
    threshold: int = 0


class HealthConfig(_Section):
    storagedriver: StorageDriverCheck = Field(default_factory=StorageDriverCheck)
    file: list[FileCheck] = Field(default_factory=list)
    http: list[HTTPCheck] = Field(default_factory=list)
    tcp: list[TCPCheck] = Field(default_factory=list)


# ---------------------------------------------------------------------- other


class CatalogConfig(_Section):
    maxentries: int = 1000

    @field_validator("maxentries")
    @classmethod
    def _positive(cls, value: int) -> int:
        """Distribution turns a non-positive limit into the default rather than failing."""
        return value if value > 0 else 1000


class TagsConfig(_Section):
    maxtags: int = 1000

    @field_validator("maxtags")
    @classmethod
    def _positive(cls, value: int) -> int:
        return value if value > 0 else 1000


class MetadataConfig(_Section):
    """``url`` None: SQLite file under ``<rootdirectory>/dockyard/``."""

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


class ImmutabilityRule(_Section):
    """Tags matching ``tags`` in repositories matching ``repositories`` never move or go.

    Both are shell-style globs (``*`` also crosses ``/``), e.g. ``prod/**`` and ``v*``.
    """

    repositories: str
    tags: str


class DockyardConfig(_Section):
    """Settings that only Dockyard reads; Distribution ignores this section."""

    metadata: MetadataConfig = Field(default_factory=MetadataConfig)
    immutability: list[ImmutabilityRule] = Field(default_factory=list)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    gc: GcSettings = Field(default_factory=GcSettings)
    quotas: QuotaConfig = Field(default_factory=QuotaConfig)


# --------------------------------------------------------------------- config


class Config(_Section):
    """The whole effective configuration (file + ``REGISTRY_*`` overrides + defaults).

    ``auth``, ``notifications`` and ``validation`` are kept as raw mappings: their
    consumers interpret them.
    """

    version: str = Field(default="", validate_default=True)
    log: LogConfig = Field(default_factory=LogConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    http: HTTPConfig = Field(default_factory=HTTPConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    auth: dict[str, dict[str, Any]] | None = None
    notifications: dict[str, Any] = Field(default_factory=dict)
    validation: dict[str, Any] = Field(default_factory=dict)
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    tags: TagsConfig = Field(default_factory=TagsConfig)
    dockyard: DockyardConfig = Field(default_factory=DockyardConfig)

    @model_validator(mode="before")
    @classmethod
    def _deprecated_loglevel(cls, data: Any) -> Any:
        """Top-level ``loglevel`` is Distribution's old spelling of ``log.level``."""
        if not isinstance(data, dict) or "loglevel" not in data:
            return data
        data = dict(data)
        level = data.pop("loglevel")
        log = data.get("log")
        if log is None:
            data["log"] = {"level": level}
        elif isinstance(log, dict) and not log.get("level"):
            data["log"] = {**log, "level": level}
        return data

    @field_validator("version", mode="before")
    @classmethod
    def _supported_version(cls, value: Any) -> Any:
        """YAML reads ``version: 0.1`` as a float; Distribution compares the text."""
        if value is None or value == "":
            raise _invalid(
                f"missing: a Distribution config starts with 'version: {SUPPORTED_VERSION}'"
            )
        text = yaml_text(value) or str(value)
        if text != SUPPORTED_VERSION:
            raise _invalid(
                f"unsupported version {text!r}; Dockyard reads version {SUPPORTED_VERSION}"
            )
        return text

    @field_validator("auth", mode="before")
    @classmethod
    def _one_auth_type(cls, value: Any) -> Any:
        """``auth: htpasswd`` names the type; only one type may be configured, as in Go."""
        value = section_from_string(value)
        if not isinstance(value, dict):
            return value
        if len(value) > 1:
            raise _invalid(f"must configure exactly one auth type, got: {', '.join(value)}")
        return {k: ({} if v is None else v) for k, v in value.items()} or None

    # -- conveniences ---------------------------------------------------------------

    @property
    def root_directory(self) -> Path:
        """Absolute filesystem root (relative roots are relative to the current directory)."""
        return Path(self.storage.filesystem.rootdirectory).absolute()

    @property
    def metadata_url(self) -> str:
        """SQLAlchemy URL of the metadata database."""
        if self.dockyard.metadata.url:
            return self.dockyard.metadata.url
        path = self.root_directory / "dockyard" / "metadata.sqlite3"
        return f"sqlite:///{path.as_posix()}"

    @property
    def unsupported_keys(self) -> list[str]:
        """Dotted paths of keys Dockyard does not understand, for an "unsupported" warning."""
        return _extra_paths(self, ())

    def listen_address(self) -> tuple[str, int]:
        """``http.addr`` as ``(host, port)``; ``":5000"`` -> ``("0.0.0.0", 5000)``."""
        if self.http.net != "tcp":
            raise ConfigError("config: http.addr: http.net is 'unix', there is no TCP address")
        try:
            return split_host_port(self.http.addr)
        except ValueError as exc:
            raise ConfigError(f"config: http.addr: {exc}", ["http.addr"]) from None

    def to_json(self) -> str:
        """Serialise for worker processes; durations travel as Go duration strings."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Config:
        """Inverse of :meth:`to_json` (no environment overrides are applied again)."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise _config_error(exc, []) from None

    def masked_dict(self) -> dict[str, Any]:
        """The effective config as plain data with secrets masked, for display."""
        return mask_secrets(self.model_dump(mode="json"))


def _extra_paths(model: BaseModel, prefix: tuple[str | int, ...]) -> list[str]:
    """Unknown keys of ``model`` and of its nested sections, as dotted paths."""
    paths = [dotted_path((*prefix, key)) for key in model.__pydantic_extra__ or {}]
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            paths += _extra_paths(value, (*prefix, name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    paths += _extra_paths(item, (*prefix, name, index))
    return paths


# -------------------------------------------------------------------- loading


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read a config file, apply ``REGISTRY_*`` overrides, validate.

    ``path`` None: ``$REGISTRY_CONFIGURATION_PATH`` if set (like the registry image's
    entrypoint), else the built-in default, a file containing only ``version: 0.1``.
    ``environ`` None: ``os.environ``.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIGURATION_PATH_VAR):
        path = env[CONFIGURATION_PATH_VAR]
    raw = _read_file(Path(path)) if path is not None else {"version": SUPPORTED_VERSION}
    try:
        overrides = apply_env_overrides(raw, env)
    except ValueError as exc:
        raise ConfigError(f"config: {exc}") from None
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, overrides) from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config: {path}: not UTF-8 text") from None
    try:
        data = yaml_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path}: invalid YAML: {describe_yaml_error(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"config: {path}: expected a mapping of sections, got {kind}")
    return data


def _config_error(exc: ValidationError, overrides: list[EnvOverride]) -> ConfigError:
    """Turn pydantic's errors into one message of ``path: problem`` items.

    A bad version makes every other complaint noise, so it is reported alone. When an
    environment variable set the value, the message says which one: the file may look
    fine while the container's environment is what is wrong.
    """
    errors = exc.errors(include_url=False, include_input=False)
    version_errors = [e for e in errors if tuple(e["loc"]) == ("version",)]
    problems = []
    paths = []
    for error in version_errors or errors:
        loc = tuple(error["loc"])
        path = dotted_path(loc) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        source = _env_source(loc, overrides)
        problems.append(f"{path}: {message}" + (f" (from {source})" if source else ""))
        paths.append(path)
    return ConfigError("config: " + "; ".join(problems), paths)


def _env_source(loc: tuple[str | int, ...], overrides: list[EnvOverride]) -> str | None:
    """The variable behind the value at ``loc``, if any.

    Preferably the last applied variable that set ``loc`` or a section containing it;
    else the last one that set something inside ``loc``.
    """
    wanted = [str(part).lower() for part in loc]
    paths = [([str(p).lower() for p in o.path], o.variable) for o in reversed(overrides)]
    for path, variable in paths:
        if wanted[: len(path)] == path:
            return variable
    for path, variable in paths:
        if path[: len(wanted)] == wanted:
            return variable
    return None
