"""Retention and the online collector, run while the registry serves, free quota exactly."""

import os
import subprocess
import sys
from collections.abc import Callable

from tests.conftest import RunningServer
from tests.pushing import ACCEPT_ALL
from tests.quota.helpers import assert_reconciled, engine_of, python_usage
from tests.quota.images import build, push

KiB = 1024


def dockyard(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    done = subprocess.run([sys.executable, "-m", "dockyard", *args], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_retention_then_online_collection_free_quota(
        server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory({
        "dockyard.quotas": {"namespaces": {"team": "10MiB"}},
        "dockyard.gc": {"enabled": False, "delay": "0s"},
        "dockyard.retention": {"policies": [{"repositories": "team/**", "keep": {"last": 2}}]}})
    engine = engine_of(server.root)
    base = os.urandom(200 * KiB)
    images = [build([base, os.urandom((20 + i) * KiB)]) for i in range(5)]
    for i, image in enumerate(images):  # One release a day: semver and git-sha tags.
        push(server.client, "team/app", image, [f"v1.{i}.0", f"sha-{os.urandom(4).hex()}"])
        push(server.client, "team/api", images[0], [f"v1.{i}.0"])  # api keeps the first.
    full = assert_reconciled(engine)["team"]

    dockyard("retention", "run", str(server.config_path))
    after_retention = assert_reconciled(engine)["team"]
    assert after_retention == python_usage(engine, server.root)["team"]
    dockyard("gc", "run", str(server.config_path))
    collected = assert_reconciled(engine)["team"]
    assert collected == python_usage(engine, server.root)["team"]

    # app kept only its newest release (two tags); api the first image. What went: the
    # manifests, configs and own layers of releases 1..3 of app.
    gone = sum(len(image.body) + sum(len(b) for d, b in image.blobs.items()
                                     if d not in images[0].blobs and d not in images[4].blobs)
               for image in images[1:4])
    assert full.bytes - collected.bytes == gone and full.blobs - collected.blobs == 9
    for repo, image in (("team/app", images[4]), ("team/api", images[0])):
        pulled = server.client.get(f"/v2/{repo}/manifests/{image.digest}",
                                   headers={"accept": ACCEPT_ALL})
        assert pulled.status_code == 200
        for digest in image.blobs:
            assert server.client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200
