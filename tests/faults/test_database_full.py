"""The metadata database's own disk fills up (it lives on a separate 4 MiB tmpfs here).

Blob bytes still fit, but no row can be written: a push must fail with the full-storage
error, nothing it began may become visible (no blob link, no manifest, no tag), reads keep
working, and pushes work again once space returns.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer
from tests.faults.helpers import (
    assert_every_tag_whole,
    assert_full,
    fill_disk,
    run_scrub,
    small_filesystem,
)
from tests.pushing import ACCEPT_ALL, digest_of, image_manifest, push_blob, push_image, put_manifest


@pytest.fixture
def database_disk(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "dbdisk", "4m") as mountpoint:
        yield mountpoint


def test_a_full_metadata_disk_refuses_pushes_without_half_written_state(
        database_disk: Path, server_factory: Callable[..., RunningServer]) -> None:
    url = f"sqlite:///{database_disk / 'metadata.sqlite3'}"
    server = server_factory({"dockyard.metadata.url": url})
    client = server.client
    first = push_image(client, "dbfull/app", "v1")
    waiting = image_manifest(client, "dbfull/app")  # blobs linked, manifest not yet put
    filler = fill_disk(database_disk)

    layer = os.urandom(256 * 1024)
    refused = client.post("/v2/dbfull/app/blobs/uploads/", params={"digest": digest_of(layer)},
                          content=layer)
    assert_full(refused)
    assert_full(put_manifest(client, "dbfull/app", "v2", waiting))  # rolled back whole
    assert client.head(f"/v2/dbfull/app/blobs/{digest_of(layer)}").status_code == 404
    assert client.get("/v2/dbfull/app/manifests/v2",
                      headers={"accept": ACCEPT_ALL}).status_code == 404
    assert client.get("/v2/dbfull/app/tags/list").json()["tags"] == ["v1"]
    assert assert_every_tag_whole(client)["dbfull/app"] == {"v1": first}

    filler.unlink()
    assert push_blob(client, "dbfull/app", layer) == digest_of(layer)
    assert put_manifest(client, "dbfull/app", "v2", waiting).status_code == 201
    assert assert_every_tag_whole(client)["dbfull/app"]["v2"] == digest_of(waiting)
    assert run_scrub(server.config_path).returncode == 0
