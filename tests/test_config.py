"""Tests for dockyard.config: Distribution config.yml compatibility and REGISTRY_* overrides."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from dockyard.config import Config, ConfigError, format_duration, load_config, parse_duration

# /etc/docker/registry/config.yml as shipped in the registry:2 image.
STOCK_REGISTRY2 = """\
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"""


@pytest.fixture
def write_config(tmp_path: Path):
    """Write YAML text to a config file and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "config.yml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def stock(write_config) -> Path:
    return write_config(STOCK_REGISTRY2)


def load(path: Path | None = None, **env: str) -> Config:
    return load_config(path, environ=env)


def error_of(path: Path | None = None, **env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(path, **env)
    return str(info.value)


# ------------------------------------------------------------------ plain files


def test_stock_registry2_config_parses(stock: Path) -> None:
    config = load(stock)
    assert config.version == "0.1"
    assert config.log.fields == {"service": "registry"}
    assert config.storage.cache.blobdescriptor == "inmemory"
    assert config.storage.filesystem.rootdirectory == "/var/lib/registry"
    assert config.root_directory == Path("/var/lib/registry")
    assert config.http.addr == ":5000"
    assert config.listen_address() == ("0.0.0.0", 5000)
    assert config.http.headers == {"X-Content-Type-Options": ["nosniff"]}
    check = config.health.storagedriver
    assert (check.enabled, check.interval, check.threshold) == (True, timedelta(seconds=10), 3)
    assert config.storage.delete.enabled is False
    assert config.unsupported_keys == []


def test_defaults_without_a_file() -> None:
    config = load()
    assert config.version == "0.1"
    assert config.log.level == "info"
    assert config.log.formatter == "text"
    assert config.storage.filesystem.rootdirectory == "./data"
    assert config.root_directory == Path("data").absolute()
    assert config.storage.delete.enabled is False
    assert config.storage.cache.blobdescriptor == ""
    purging = config.storage.maintenance.uploadpurging
    assert purging.enabled is True
    assert purging.age == timedelta(hours=24)
    assert purging.interval == timedelta(hours=24)
    assert purging.dryrun is False
    assert config.storage.maintenance.readonly.enabled is False
    assert config.http.addr == ":5000"
    assert config.http.tls.minimumtls == "tls1.2"
    assert config.health.storagedriver.enabled is False
    assert config.health.storagedriver.interval == timedelta(seconds=10)
    assert config.health.storagedriver.threshold == 3
    assert config.auth is None
    assert config.catalog.maxentries == 1000
    assert config.tags.maxtags == 1000
    assert config.dockyard.metadata.url is None
    assert config.unsupported_keys == []


def test_version_may_be_a_string(write_config) -> None:
    assert load(write_config('version: "0.1"\n')).version == "0.1"


@pytest.mark.parametrize("text", ["version: 0.2\n", "version: '1.0'\n", "log: {}\n", ""])
def test_bad_or_missing_version_is_an_error(write_config, text: str) -> None:
    message = error_of(write_config(text))
    assert "version: " in message


def test_null_sections_mean_defaults(write_config) -> None:
    config = load(write_config("version: 0.1\nstorage:\n  delete:\n  filesystem:\nhealth:\n"))
    assert config.storage.delete.enabled is False
    assert config.storage.filesystem.rootdirectory == "./data"


def test_storage_as_string_and_without_driver(write_config) -> None:
    config = load(write_config("version: 0.1\nstorage: filesystem\n"))
    assert config.storage.filesystem.rootdirectory == "./data"
    config = load(write_config("version: 0.1\nstorage:\n  delete: {enabled: true}\n"))
    assert config.storage.delete.enabled is True
    assert config.storage.filesystem.rootdirectory == "./data"


@pytest.mark.parametrize("driver", ["s3", "inmemory", "azure"])
def test_unsupported_storage_driver(write_config, driver: str) -> None:
    path = write_config(f"version: 0.1\nstorage:\n  {driver}:\n    bucket: b\n")
    assert f"storage: driver '{driver}' is not supported yet" in error_of(path)


def test_two_storage_drivers(write_config) -> None:
    path = write_config("version: 0.1\nstorage:\n  filesystem: {}\n  inmemory: {}\n")
    assert "storage: must configure exactly one storage driver" in error_of(path)


def test_two_auth_types(write_config) -> None:
    path = write_config("version: 0.1\nauth:\n  htpasswd: {path: /x}\n  silly: {}\n")
    assert "auth: must configure exactly one auth type" in error_of(path)


def test_deprecated_loglevel(write_config) -> None:
    assert load(write_config("version: 0.1\nloglevel: DEBUG\n")).log.level == "debug"


def test_numbers_are_accepted_for_string_keys(write_config) -> None:
    assert load(write_config("version: 0.1\nhttp:\n  secret: 12345\n")).http.secret == "12345"


def test_unknown_keys_are_reported_not_fatal(write_config) -> None:
    path = write_config(
        """\
version: 0.1
middleware: {registry: []}
storage:
  tag: {concurrencylimit: 5}
  filesystem: {rootdirectory: /r, maxthreads: 100}
http:
  http2: {disabled: true}
health:
  file:
    - file: /tmp/drain
      bogus: 1
auth:
  htpasswd: {realm: r, path: /p, anything: goes}
notifications:
  whatever: 1
"""
    )
    config = load(path)
    assert sorted(config.unsupported_keys) == [
        "health.file[0].bogus",
        "http.http2",
        "middleware",
        "storage.filesystem.maxthreads",
        "storage.tag",
    ]
    assert config.auth == {"htpasswd": {"realm": "r", "path": "/p", "anything": "goes"}}


def test_missing_file() -> None:
    message = error_of(Path("/nonexistent/dockyard/config.yml"))
    assert "/nonexistent/dockyard/config.yml" in message


def test_invalid_yaml_names_the_file(write_config) -> None:
    path = write_config("version: 0.1\nhttp: [unclosed\n")
    message = error_of(path)
    assert str(path) in message
    assert "invalid YAML" in message


def test_top_level_must_be_a_mapping(write_config) -> None:
    assert "expected a mapping" in error_of(write_config("- a\n- b\n"))


@pytest.mark.parametrize(
    ("yaml_text", "path"),
    [
        ("storage:\n  delete:\n    enabled: maybe\n", "storage.delete.enabled"),
        ("http:\n  addr: nonsense\n", "http.addr"),
        ("http:\n  addr: ':70000'\n", "http.addr"),
        ("http:\n  debug:\n    addr: 'x:y'\n", "http.debug.addr"),
        ("health:\n  storagedriver:\n    interval: soon\n", "health.storagedriver.interval"),
        ("storage:\n  maintenance:\n    uploadpurging:\n      age: -1h\n", "uploadpurging.age"),
        ("log:\n  level: verbose\n", "log.level"),
        ("storage:\n  cache:\n    blobdescriptor: memcached\n", "storage.cache.blobdescriptor"),
        ("http:\n  tls:\n    certificate: /c.pem\n", "http.tls"),
        ("health:\n  http:\n    - headers: {}\n", "health.http[0].uri"),
        ("catalog:\n  maxentries: lots\n", "catalog.maxentries"),
    ],
)
def test_invalid_values_name_the_key_path(write_config, yaml_text: str, path: str) -> None:
    message = error_of(write_config("version: 0.1\n" + yaml_text))
    assert message.startswith("config: ")
    assert f"{path}" in message


def test_error_reports_every_problem(write_config) -> None:
    path = write_config("version: 0.1\nhttp: {addr: nonsense}\nlog: {level: loud}\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.paths == ["log.level", "http.addr"]


# ---------------------------------------------------------------- env overrides


def test_env_overrides_on_stock_config(stock: Path) -> None:
    config = load(
        stock,
        REGISTRY_HTTP_ADDR="127.0.0.1:5001",
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="/srv/reg",
        REGISTRY_STORAGE_DELETE_ENABLED="true",
        REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED="true",
    )
    assert config.listen_address() == ("127.0.0.1", 5001)
    assert config.root_directory == Path("/srv/reg")
    assert config.storage.delete.enabled is True
    assert config.storage.maintenance.readonly.enabled is True
    # untouched siblings survive
    assert config.storage.cache.blobdescriptor == "inmemory"
    assert config.http.headers == {"X-Content-Type-Options": ["nosniff"]}
    assert config.unsupported_keys == []


def test_env_overrides_without_a_file() -> None:
    config = load(REGISTRY_LOG_LEVEL="debug", REGISTRY_HEALTH_STORAGEDRIVER_ENABLED="true")
    assert config.log.level == "debug"
    assert config.health.storagedriver.enabled is True


def test_env_auth_string_then_fields(stock: Path) -> None:
    config = load(stock, REGISTRY_AUTH="htpasswd", REGISTRY_AUTH_HTPASSWD_PATH="/x")
    assert config.auth == {"htpasswd": {"path": "/x"}}


def test_env_applied_in_lexical_order(write_config) -> None:
    path = write_config("version: 0.1\nauth:\n  silly: {realm: r}\n")
    # Insertion order puts the specific variable first; lexical order must win, or
    # REGISTRY_AUTH would wipe the path again.
    env = {"REGISTRY_AUTH_HTPASSWD_PATH": "/x", "REGISTRY_AUTH": "htpasswd"}
    assert load_config(path, environ=env).auth == {"htpasswd": {"path": "/x"}}


def test_env_section_string_replaces_siblings(write_config) -> None:
    path = write_config(
        "version: 0.1\nstorage:\n  filesystem: {rootdirectory: /a}\n"
        "  delete: {enabled: true}\n  cache: {blobdescriptor: inmemory}\n"
    )
    config = load(path, REGISTRY_STORAGE="filesystem")
    assert config.storage.delete.enabled is False
    assert config.storage.cache.blobdescriptor == ""
    assert config.storage.filesystem.rootdirectory == "./data"


def test_env_section_string_then_specific_variable(write_config) -> None:
    path = write_config("version: 0.1\nstorage:\n  delete: {enabled: true}\n")
    config = load(
        path, REGISTRY_STORAGE="filesystem", REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="/b"
    )
    assert config.root_directory == Path("/b")
    assert config.storage.delete.enabled is False


def test_env_storage_driver_not_supported(stock: Path) -> None:
    message = error_of(stock, REGISTRY_STORAGE="s3", REGISTRY_STORAGE_S3_REGION="us-east-1")
    assert "storage: driver 's3' is not supported yet" in message
    assert "REGISTRY_STORAGE" in message


def test_env_section_string_keeps_driver_when_siblings_are_set() -> None:
    # {s3: {}} must survive a later variable that only sets a sibling
    message = error_of(REGISTRY_STORAGE="s3", REGISTRY_STORAGE_DELETE_ENABLED="true")
    assert "storage: driver 's3' is not supported yet" in message


def test_env_yaml_block_for_notification_endpoints() -> None:
    block = (
        "- name: alistener\n"
        "  url: https://listener.example/event\n"
        "  headers:\n"
        "    Authorization: [Bearer abc]\n"
        "  timeout: 500ms\n"
        "  threshold: 5\n"
    )
    config = load(REGISTRY_NOTIFICATIONS_ENDPOINTS=block)
    assert config.notifications["endpoints"] == [
        {
            "name": "alistener",
            "url": "https://listener.example/event",
            "headers": {"Authorization": ["Bearer abc"]},
            "timeout": "500ms",
            "threshold": 5,
        }
    ]


def test_env_broken_yaml_block_is_an_error() -> None:
    message = error_of(REGISTRY_NOTIFICATIONS_ENDPOINTS="- name: a\n  url: [oops\n")
    assert "REGISTRY_NOTIFICATIONS_ENDPOINTS" in message


def test_env_list_index_set_and_append(write_config) -> None:
    path = write_config("version: 0.1\nhttp:\n  tls:\n    clientcas: [/a.pem, /b.pem]\n")
    config = load(
        path,
        REGISTRY_HTTP_TLS_CLIENTCAS_0="/z.pem",
        REGISTRY_HTTP_TLS_CLIENTCAS_2="/c.pem",
    )
    assert config.http.tls.clientcas == ["/z.pem", "/b.pem", "/c.pem"]


def test_env_list_index_out_of_range(write_config) -> None:
    path = write_config("version: 0.1\nhttp:\n  tls:\n    clientcas: [/a.pem]\n")
    message = error_of(path, REGISTRY_HTTP_TLS_CLIENTCAS_3="/d.pem")
    assert "REGISTRY_HTTP_TLS_CLIENTCAS_3" in message
    assert "out of range" in message


def test_env_list_index_into_missing_list() -> None:
    # index 0 creates the list; another index cannot, and validation names the key
    assert load(REGISTRY_HTTP_TLS_CLIENTCAS_0="/a.pem").http.tls.clientcas == ["/a.pem"]
    message = error_of(REGISTRY_HTTP_TLS_CLIENTCAS_3="/a.pem")
    assert "http.tls.clientcas" in message
    assert "REGISTRY_HTTP_TLS_CLIENTCAS_3" in message


def test_env_list_value_and_go_field_names() -> None:
    config = load(
        REGISTRY_HEALTH_FILECHECKERS_0_FILE="/tmp/drain",
        REGISTRY_HEALTH_FILECHECKERS_0_INTERVAL="5s",
        REGISTRY_HEALTH_HTTPCHECKERS_0_URI="http://up/",
        REGISTRY_HEALTH_TCPCHECKERS_0_ADDR="db:5432",
        REGISTRY_NOTIFICATIONS_EVENTCONFIG_INCLUDEREFERENCES="true",
        REGISTRY_HTTP_TLS_CLIENTCAS="[/a.pem, /b.pem]",
    )
    assert [(c.file, c.interval) for c in config.health.file] == [
        ("/tmp/drain", timedelta(seconds=5))
    ]
    assert config.health.http[0].uri == "http://up/"
    assert config.health.http[0].statuscode == 200
    assert config.health.tcp[0].addr == "db:5432"
    assert config.notifications == {"events": {"includereferences": True}}
    assert config.http.tls.clientcas == ["/a.pem", "/b.pem"]


def test_env_keys_match_case_insensitively(stock: Path) -> None:
    config = load(stock, **{"REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS": "[other]"})
    assert config.http.headers == {"X-Content-Type-Options": ["other"]}


def test_env_bad_value_names_path_and_variable(stock: Path) -> None:
    message = error_of(stock, REGISTRY_STORAGE_DELETE_ENABLED="maybe")
    assert "storage.delete.enabled" in message
    assert "REGISTRY_STORAGE_DELETE_ENABLED" in message


def test_env_bad_addr(stock: Path) -> None:
    assert "http.addr" in error_of(stock, REGISTRY_HTTP_ADDR="nonsense")


def test_env_unknown_paths_are_reported(stock: Path) -> None:
    # e.g. Kubernetes service links for a Service called "registry"
    config = load(
        stock,
        REGISTRY_PORT="tcp://10.0.0.1:5000",
        REGISTRY_PORT_5000_TCP_ADDR="10.0.0.1",
        REGISTRY_HTTP_BOGUS="1",
    )
    assert sorted(config.unsupported_keys) == ["http.bogus", "port"]


def test_env_configuration_path_is_used_not_applied(stock: Path) -> None:
    config = load(None, REGISTRY_CONFIGURATION_PATH=str(stock))
    assert config.root_directory == Path("/var/lib/registry")
    assert config.unsupported_keys == []


def test_explicit_path_wins_over_configuration_path(stock: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yml"
    other.write_text("version: 0.1\nhttp: {addr: ':6000'}\n", encoding="utf-8")
    config = load(other, REGISTRY_CONFIGURATION_PATH=str(stock))
    assert config.listen_address() == ("0.0.0.0", 6000)


def test_environ_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_HTTP_ADDR", ":5123")
    monkeypatch.delenv("REGISTRY_CONFIGURATION_PATH", raising=False)
    assert load_config(None).listen_address() == ("0.0.0.0", 5123)


def test_env_numeric_secret_stays_a_string() -> None:
    assert load(REGISTRY_HTTP_SECRET="0123").http.secret == "0123"  # not octal 83
    assert load(REGISTRY_HTTP_SECRET="'0123'").http.secret == "0123"


def test_env_redis_inline_options() -> None:
    config = load(REGISTRY_REDIS_OPTIONS_PASSWORD="pw")
    assert config.unsupported_keys == ["redis"]
    assert config.masked_dict()["redis"] == {"password": "******"}


# -------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", timedelta(seconds=10)),
        ("24h", timedelta(hours=24)),
        ("168h", timedelta(days=7)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
        ("2us", timedelta(microseconds=2)),
        ("2µs", timedelta(microseconds=2)),
        ("0", timedelta(0)),
        ("+5m", timedelta(minutes=5)),
        (3_000_000_000, timedelta(seconds=3)),  # Go reads a bare integer as nanoseconds
        (0, timedelta(0)),
    ],
)
def test_parse_duration(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["", "10", "ten seconds", "5d", "1h 30m", "-1s", ".s", 1.5, True])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(
    "value",
    [
        timedelta(0),
        timedelta(hours=168),
        timedelta(hours=1, minutes=30),
        timedelta(microseconds=1500),
    ],
)
def test_format_duration_round_trips(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


def test_format_duration_is_compact() -> None:
    assert format_duration(timedelta(hours=1, minutes=30)) == "1h30m"
    assert format_duration(timedelta(milliseconds=500)) == "500ms"


def test_zero_health_interval_means_default(write_config) -> None:
    path = write_config("version: 0.1\nhealth:\n  storagedriver: {enabled: true, interval: 0s}\n")
    assert load(path).health.storagedriver.interval == timedelta(seconds=10)


# -------------------------------------------------------------- listen address


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        (":5000", ("0.0.0.0", 5000)),
        ("127.0.0.1:5001", ("127.0.0.1", 5001)),
        ("[::1]:5000", ("::1", 5000)),
        ("[::]:443", ("::", 443)),
        ("localhost:8080", ("localhost", 8080)),
        (":0", ("0.0.0.0", 0)),
    ],
)
def test_listen_address(addr: str, expected: tuple[str, int]) -> None:
    assert load(REGISTRY_HTTP_ADDR=repr(addr)).listen_address() == expected


@pytest.mark.parametrize(
    "addr", ["nonsense", ":65536", ":-1", "::1:5000", "[::1]", "[zz]:5000", "host:", ":http", ""]
)
def test_bad_listen_address(write_config, addr: str) -> None:
    path = write_config(f"version: 0.1\nhttp:\n  addr: {json.dumps(addr)}\n")
    assert "http.addr" in error_of(path)


def test_unix_socket_address(write_config) -> None:
    config = load(write_config("version: 0.1\nhttp: {net: unix, addr: /run/dockyard.sock}\n"))
    assert config.http.addr == "/run/dockyard.sock"
    with pytest.raises(ConfigError):
        config.listen_address()


# ------------------------------------------------------------------ conveniences


def test_metadata_url_default_and_override(stock: Path) -> None:
    config = load(stock)
    assert config.metadata_url == "sqlite:////var/lib/registry/dockyard/metadata.sqlite3"
    config = load(stock, REGISTRY_DOCKYARD_METADATA_URL="postgresql://db/dockyard")
    assert config.metadata_url == "postgresql://db/dockyard"


def test_json_round_trip(write_config) -> None:
    path = write_config(
        STOCK_REGISTRY2
        + "auth:\n  htpasswd: {realm: r, path: /p}\n"
        + "middleware: {registry: []}\n"
    )
    config = load(path, REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE="1h30m500ms")
    copy = Config.from_json(config.to_json())
    assert copy == config
    assert copy.storage.maintenance.uploadpurging.age == timedelta(
        hours=1, minutes=30, milliseconds=500
    )
    assert copy.unsupported_keys == ["middleware"]
    assert json.loads(config.to_json())["health"]["storagedriver"]["interval"] == "10s"


def test_from_json_rejects_garbage() -> None:
    with pytest.raises(ConfigError):
        Config.from_json('{"version": "0.1", "http": {"addr": "nonsense"}}')
    with pytest.raises(ConfigError):
        Config.from_json("not json")


def test_masked_dict_hides_secrets(write_config) -> None:
    path = write_config(
        """\
version: 0.1
http:
  secret: s3cr3t
  tls: {certificate: /c.pem, key: /k.pem}
auth:
  token:
    realm: https://auth/token
    key: abc
    client_secret: xyz
notifications:
  endpoints:
    - name: x
      url: http://x
      headers: {Authorization: [Bearer t]}
"""
    )
    masked = load(path).masked_dict()
    assert masked["http"]["secret"] == "******"
    assert masked["http"]["tls"]["key"] == "/k.pem"
    assert masked["auth"]["token"] == {
        "realm": "https://auth/token",
        "key": "******",
        "client_secret": "******",
    }
    assert masked["notifications"]["endpoints"][0]["headers"]["Authorization"] == "******"
    assert masked["storage"]["maintenance"]["uploadpurging"]["age"] == "24h"
