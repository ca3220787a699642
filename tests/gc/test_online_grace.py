"""``dockyard.gc.uploadgrace``: a blob a push just uploaded or re-sent survives a zero-delay
collection long enough for the push's manifest to name it; what deletes orphaned does not."""

import os
from collections.abc import Callable

from tests.conftest import RunningServer
from tests.gc.helpers import stored_digests
from tests.gc.online import NO_BACKGROUND, deleted, gc_json
from tests.pushing import push_blob

Factory = Callable[..., RunningServer]
GRACE = {**NO_BACKGROUND, "dockyard.gc.uploadgrace": "1h"}


def _blob_status(server: RunningServer, repo: str, digest: str) -> int:
    return server.client.head(f"/v2/{repo}/blobs/{digest}").status_code


def test_fresh_upload_outlives_a_zero_delay_collection(server_factory: Factory) -> None:
    server = server_factory(GRACE)
    digest = push_blob(server.client, "grace/app", os.urandom(4000))

    manifests, links, blobs = deleted(gc_json(server.config_path))

    assert (manifests, links, blobs) == (set(), set(), set())
    assert _blob_status(server, "grace/app", digest) == 200
    assert digest in stored_digests(server.root)


def test_deleted_images_still_go_at_once(server_factory: Factory) -> None:
    """The grace covers young links only: a blob unlinked long after its push goes."""
    server = server_factory(GRACE)
    digest = push_blob(server.client, "grace/old", os.urandom(4000))
    _age_links(server, 7200)
    assert server.client.delete(f"/v2/grace/old/blobs/{digest}").status_code == 202

    _, links, blobs = deleted(gc_json(server.config_path))

    assert blobs == {digest} and links == set()  # The unlink already removed the link row.
    assert digest not in stored_digests(server.root)


def test_resending_a_blob_under_review_makes_its_link_young_again(
        server_factory: Factory) -> None:
    server = server_factory(GRACE)
    data = os.urandom(4000)
    digest = push_blob(server.client, "grace/again", data)
    _age_links(server, 7200)  # Pushed two hours ago and never referenced: due.
    assert push_blob(server.client, "grace/again", data) == digest  # A push sends it again.

    _, links, blobs = deleted(gc_json(server.config_path))

    assert (links, blobs) == (set(), set())
    assert _blob_status(server, "grace/again", digest) == 200


def _age_links(server: RunningServer, seconds: int) -> None:
    import sqlite3

    with sqlite3.connect(server.root / "dockyard" / "metadata.sqlite3") as conn:
        conn.execute("UPDATE repository_blobs SET created_at = created_at - ?", (seconds,))
