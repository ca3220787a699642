"""``dockyard_quota_used_bytes`` / ``dockyard_quota_limit_bytes`` on the debug server."""

import os
from collections.abc import Callable

import httpx

from tests.conftest import RunningServer, free_port
from tests.observability.helpers import samples, value
from tests.pushing import push_blob


def test_gauges_follow_usage(server_factory: Callable[..., RunningServer]) -> None:
    port = free_port()
    server = server_factory({
        "dockyard.quotas": {"default": "1GiB", "namespaces": {"team": "500MiB"}},
        "http.debug": {"addr": f"127.0.0.1:{port}", "prometheus": {"enabled": True}}})

    def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        return samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)

    before = scrape()
    assert value(before, "dockyard_quota_limit_bytes", namespace="team") == 500 * 2**20
    assert ("dockyard_quota_used_bytes", frozenset({("namespace", "team")})) not in before
    push_blob(server.client, "team/app", os.urandom(3000))
    push_blob(server.client, "team/api", os.urandom(1000))
    push_blob(server.client, "alpine", os.urandom(10))
    after = scrape()
    assert value(after, "dockyard_quota_used_bytes", namespace="team") == 4000
    assert value(after, "dockyard_quota_used_bytes", namespace="alpine") == 10
    assert value(after, "dockyard_quota_limit_bytes", namespace="alpine") == 2**30
