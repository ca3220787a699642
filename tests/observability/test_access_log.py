"""The access log: Distribution's fields, rendered by the configured formatter."""

import io
import json
import logging
from collections.abc import Iterator

import pytest

from dockyard.api.http import Request
from dockyard.config import Config
from dockyard.logs import JsonFormatter, TextFormatter
from dockyard.observability import NullObserver, Observer, build_observer
from dockyard.observability.access_log import LOGGER_NAME, access_fields, access_log_enabled
from tests.observability.helpers import make_request

FIELDS = {"service": "registry"}


@pytest.fixture
def dockyard_logger() -> Iterator[logging.Logger]:
    """The ``dockyard`` logger, restored afterwards (the formatter under test is added)."""
    logger = logging.getLogger("dockyard")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    access = logging.getLogger(LOGGER_NAME)
    saved_access_level = access.level
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved
    access.setLevel(saved_access_level)


def capture(logger: logging.Logger, formatter: logging.Formatter) -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger.handlers[:] = [handler]
    logger.propagate = False
    return stream


def config(**sections: object) -> Config:
    return Config.model_validate({"version": "0.1", **sections})


def pushed_chunk() -> Request:
    return make_request(
        "PUT", "/v2/team/app/blobs/uploads/abc", query=b"digest=sha256%3A00",
        headers=[(b"host", b"registry.local:5000"), (b"user-agent", b"docker/27.0"),
                 (b"x-forwarded-for", b"203.0.113.9, 10.0.0.1")],
        route="blob_upload_chunk", status=201, bytes_in=5, bytes_out=0, user="alice")


def test_text_line_carries_every_field(dockyard_logger: logging.Logger) -> None:
    stream = capture(dockyard_logger, TextFormatter(FIELDS))
    observer = build_observer(config())
    assert isinstance(observer, Observer) and observer.metrics is None
    observer.on_request(pushed_chunk(), 0.0125)
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert 'level=info msg="response completed"' in line
    for expected in ['service="registry"', 'http.request.method="PUT"',
                     'http.request.uri="/v2/team/app/blobs/uploads/abc?digest=sha256%3A00"',
                     'http.request.host="registry.local:5000"',
                     'http.request.remoteaddr="203.0.113.9"',
                     'http.request.useragent="docker/27.0"', "http.request.read=5",
                     "http.response.status=201", "http.response.written=0",
                     'http.response.duration="12.500ms"', 'http.request.id="req-1"',
                     'auth.user.name="alice"']:
        assert f" {expected}" in line, (expected, line)


def test_json_line_is_one_object_with_typed_fields(dockyard_logger: logging.Logger) -> None:
    stream = capture(dockyard_logger, JsonFormatter(FIELDS))
    build_observer(config()).on_request(pushed_chunk(), 0.0125)
    entry = json.loads(stream.getvalue())
    assert entry["msg"] == "response completed" and entry["level"] == "info"
    assert entry["service"] == "registry"
    assert entry["http.request.method"] == "PUT"
    assert entry["http.response.status"] == 201
    assert entry["http.request.read"] == 5 and entry["http.response.written"] == 0
    assert entry["http.request.remoteaddr"] == "203.0.113.9"
    assert entry["auth.user.name"] == "alice"


def test_anonymous_request_from_the_peer_address() -> None:
    fields = access_fields(make_request(bytes_out=2), 0.001)
    assert fields["http.request.remoteaddr"] == "192.0.2.7:41000"
    assert fields["http.request.uri"] == "/v2/"
    assert fields["http.request.useragent"] == ""
    assert fields["http.response.written"] == 2
    assert "auth.user.name" not in fields


def test_x_real_ip_when_no_forwarded_for() -> None:
    request = make_request(headers=[(b"x-real-ip", b"198.51.100.4")])
    assert access_fields(request, 0)["http.request.remoteaddr"] == "198.51.100.4"


def test_access_lines_do_not_depend_on_log_level(dockyard_logger: logging.Logger) -> None:
    stream = capture(dockyard_logger, TextFormatter({}))
    dockyard_logger.setLevel(logging.ERROR)
    build_observer(config(log={"level": "error"})).on_request(make_request(), 0.001)
    assert "response completed" in stream.getvalue()


@pytest.mark.parametrize(("section", "enabled"), [
    (None, True), ({}, True), ({"disabled": False}, True), ({"disabled": True}, False),
    ({"disabled": "true"}, False), ({"disabled": "false"}, True)])
def test_log_accesslog_disabled(section: object, enabled: bool) -> None:
    log = {} if section is None else {"accesslog": section}
    assert access_log_enabled(config(log=log)) is enabled


def test_nothing_to_observe_gives_the_null_observer() -> None:
    observer = build_observer(config(log={"accesslog": {"disabled": True}}))
    assert isinstance(observer, NullObserver)
