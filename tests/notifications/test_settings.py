"""Reading ``notifications`` the way Distribution reads it."""

import logging

import pytest

from dockyard.config import Config, ConfigError
from dockyard.events import NullSink
from dockyard.notifications import NotificationSink, build_event_sink
from dockyard.notifications.settings import includes_references, parse_endpoints


def test_full_endpoint() -> None:
    [endpoint] = parse_endpoints({"endpoints": [{
        "name": "alistener", "url": "https://hooks.example/events",
        "headers": {"Authorization": ["Bearer x", "Bearer y"], "X-One": "single"},
        "timeout": "500ms", "threshold": 5, "backoff": "1m30s",
        "ignoredmediatypes": ["application/octet-stream"],
        "ignore": {"mediatypes": ["application/vnd.oci.image.index.v1+json"],
                   "actions": ["pull"]},
    }]})
    assert endpoint.name == "alistener"
    assert endpoint.url == "https://hooks.example/events"
    assert endpoint.headers == (("Authorization", "Bearer x"), ("Authorization", "Bearer y"),
                                ("X-One", "single"))
    assert endpoint.timeout == 0.5
    assert endpoint.threshold == 5
    assert endpoint.backoff == 90
    # ignoredmediatypes and ignore.mediatypes are merged, as in notifications.NewEndpoint.
    assert endpoint.ignored_media_types == {"application/octet-stream",
                                            "application/vnd.oci.image.index.v1+json"}
    assert endpoint.ignored_actions == {"pull"}


def test_distribution_defaults() -> None:
    [endpoint] = parse_endpoints({"endpoints": [{"name": "e", "url": "http://h/",
                                                 "timeout": "0s", "threshold": 0,
                                                 "backoff": None}]})
    assert (endpoint.timeout, endpoint.threshold, endpoint.backoff) == (1.0, 10, 1.0)
    assert endpoint.headers == () and not endpoint.ignored_actions


def test_bare_number_is_nanoseconds(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "dockyard.notifications"):
        [endpoint] = parse_endpoints({"endpoints": [{"name": "e", "url": "http://h/",
                                                     "timeout": 500, "backoff": 2_000_000_000}]})
    assert endpoint.timeout == pytest.approx(500e-9)
    assert endpoint.backoff == pytest.approx(2.0)
    assert "500ns" in caplog.text


def test_disabled_endpoints_are_skipped_and_keys_are_case_insensitive() -> None:
    endpoints = parse_endpoints({"Endpoints": [
        {"name": "off", "disabled": True, "url": "http://a/"},
        {"NAME": "on", "URL": "http://b/", "IgnoredMediaTypes": ["x"]},
    ]})
    assert [(e.name, e.url, e.ignored_media_types) for e in endpoints] == \
        [("on", "http://b/", frozenset({"x"}))]


@pytest.mark.parametrize(("endpoint", "path"), [
    ({"name": "e"}, "notifications.endpoints[0].url"),
    ({"name": "e", "url": "ftp://h/"}, "notifications.endpoints[0].url"),
    ({"name": "e", "url": "http://h/", "timeout": "soon"}, "notifications.endpoints[0].timeout"),
    ({"name": "e", "url": "http://h/", "threshold": "many"},
     "notifications.endpoints[0].threshold"),
    ({"name": "e", "url": "http://h/", "headers": ["a"]}, "notifications.endpoints[0].headers"),
    ({"name": "e", "url": "http://h/", "ignore": {"actions": [1]}},
     "notifications.endpoints[0].ignore.actions"),
])
def test_invalid_values_name_the_key(endpoint: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_endpoints({"endpoints": [endpoint]})
    assert raised.value.paths == [path]


def test_include_references_flag() -> None:
    assert includes_references({"events": {"includereferences": True}})
    assert not includes_references({})


def test_build_event_sink() -> None:
    def config(notifications: dict[str, object]) -> Config:
        return Config.model_validate({"version": "0.1", "notifications": notifications})

    assert isinstance(build_event_sink(config({})), NullSink)
    assert isinstance(build_event_sink(config(
        {"endpoints": [{"name": "x", "url": "http://h/", "disabled": True}]})), NullSink)
    sink = build_event_sink(config({"endpoints": [{"name": "a", "url": "http://h/a"},
                                                  {"name": "b", "url": "http://h/b"}]}))
    assert isinstance(sink, NotificationSink)
    assert [e.name for e in sink.endpoints] == ["a", "b"]
    # Every endpoint of one process reports the same source.
    assert sink.endpoints[0].source is sink.endpoints[1].source
