"""The race test of issue 6: pushes of images sharing layers, tag moves and deletes, against
a server whose background collector runs continuously with a zero safety delay.

Afterwards every tagged image pulls whole and every blob hashes to its digest, and after a
final collection no unreferenced blob row or file remains. Blobs a push uploads are kept for
``uploadgrace`` (so the push's manifest can name them), but a layer found by HEAD in a
repository whose last image using it was just deleted can be collected before the manifest
that references it is put: that put must fail cleanly (400 MANIFEST_BLOB_UNKNOWN) and the
pusher retries, uploading it again; anything else is a bug.
"""

import json
import os
import random
import threading
import time
from collections.abc import Callable

import httpx
import yaml

from tests.conftest import RunningServer
from tests.gc.online import assert_no_garbage, gc_json
from tests.pushing import (
    ACCEPT_ALL,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    error_codes,
    put_manifest,
)

Factory = Callable[..., RunningServer]
RUN_SECONDS = 15
REPOSITORIES = ["race/a", "race/b", "race/c"]
TAGS = ["latest", "v1", "v2", "stable"]
SHARED = [os.urandom(2048 + i) for i in range(6)]  # Base layers every pusher reuses.


class Pusher:
    """One client pushing, re-tagging and deleting at random until told to stop."""

    def __init__(self, url: str, seed: int):
        self.client = httpx.Client(base_url=url, timeout=60)
        self.random = random.Random(seed)
        self.pushes = self.retries = self.deletes = self.gave_up = 0
        self.failures: list[str] = []

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                repo, tag = self.random.choice(REPOSITORIES), self.random.choice(TAGS)
                if self.random.random() < 0.2:
                    self._delete(repo, tag)
                else:
                    self._push(repo, tag)
        except Exception as error:  # Reported by the test.
            self.failures.append(repr(error))
        finally:
            self.client.close()

    def _push(self, repo: str, tag: str) -> None:
        config = json.dumps({"os": "linux", "nonce": self.random.random()}).encode()
        layers = [*self.random.sample(SHARED, 2), os.urandom(512)]
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": descriptor(OCI_CONFIG, config),
                           "layers": [descriptor(OCI_LAYER, b) for b in layers]}).encode()
        for _attempt in range(10):
            for blob in [config, *layers]:
                self._ensure_blob(repo, blob)
            response = put_manifest(self.client, repo, tag, body)
            if response.status_code == 201:
                self.pushes += 1
                return
            if response.status_code != 400 or error_codes(response) != ["MANIFEST_BLOB_UNKNOWN"]:
                self.failures.append(f"manifest put: {response.status_code} {response.text}")
                return
            self.retries += 1  # A layer was collected before the put: push it again.
        self.gave_up += 1  # Clean failures only; the collector was faster every time.

    def _ensure_blob(self, repo: str, blob: bytes) -> None:
        """As docker does: HEAD first, upload only when the repository lacks the blob."""
        digest = digest_of(blob)
        if self.client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200:
            return
        done = self.client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest},
                                content=blob)  # Monolithic: one request, a shorter window.
        if done.status_code != 201:
            self.failures.append(f"upload: {done.status_code} {done.text}")

    def _delete(self, repo: str, tag: str) -> None:
        response = self.client.delete(f"/v2/{repo}/manifests/{tag}")
        if response.status_code not in (202, 404):
            self.failures.append(f"tag delete: {response.status_code} {response.text}")
        self.deletes += response.status_code == 202


def _pull_everything(client: httpx.Client) -> int:
    """GET every tag's manifest and every blob it references; all must hash right."""
    pulled = 0
    for repo in REPOSITORIES:
        listed = client.get(f"/v2/{repo}/tags/list")
        tags = (listed.json().get("tags") or []) if listed.status_code == 200 else []
        for tag in tags:
            manifest = client.get(f"/v2/{repo}/manifests/{tag}", headers={"accept": ACCEPT_ALL})
            assert manifest.status_code == 200, (repo, tag, manifest.text)
            assert digest_of(manifest.content) == manifest.headers["docker-content-digest"]
            document = manifest.json()
            for item in [document["config"], *document["layers"]]:
                blob = client.get(f"/v2/{repo}/blobs/{item['digest']}")
                assert blob.status_code == 200, (repo, tag, item["digest"], blob.status_code)
                assert digest_of(blob.content) == item["digest"]
            pulled += 1
    return pulled


def test_pushes_moves_and_deletes_race_a_continuous_collector(server_factory: Factory) -> None:
    server = server_factory({"dockyard.gc.delay": "0s", "dockyard.gc.interval": "100ms",
                             "dockyard.gc.pause": "5ms", "dockyard.gc.batch": 50,
                             "dockyard.gc.uploadgrace": "60s"})
    stop = threading.Event()
    pushers = [Pusher(server.url, seed) for seed in range(4)]
    threads = [threading.Thread(target=p.run, args=(stop,)) for p in pushers]
    for thread in threads:
        thread.start()
    time.sleep(RUN_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(120)

    counts = {k: sum(getattr(p, k) for p in pushers)
              for k in ("pushes", "retries", "deletes", "gave_up")}
    print("race counts:", counts)  # Shown with -s; the assertions below use them.
    assert [f for p in pushers for f in p.failures] == [], counts
    # Uploads are protected, so most pushes go through: the race is between them and the
    # collector freeing what deletes and tag moves orphaned, not against the pushes' own blobs.
    assert counts["pushes"] > counts["gave_up"], counts
    assert counts["deletes"] > 0, counts
    assert _pull_everything(server.client) > 0
    assert "garbage collection batch" in server.log()  # The collector did take things.

    # The final collection, online while the server runs, without the grace: links that
    # pushes uploaded and then gave up on must go too.
    final = yaml.safe_load(server.config_path.read_text())
    final["dockyard"]["gc"]["uploadgrace"] = "0s"
    final_path = server.config_path.with_name("final-gc.yml")
    final_path.write_text(yaml.safe_dump(final))
    gc_json(final_path)  # Waits for the background run, then drains the queue.
    assert _pull_everything(server.client) > 0
    assert_no_garbage(server.root)
