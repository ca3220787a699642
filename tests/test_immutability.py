"""Tag immutability rules (``dockyard.immutability`` in config.yml) through the real API."""

import json
from collections.abc import Callable

from tests.conftest import RunningServer
from tests.pushing import (
    ACCEPT_ALL,
    assert_error,
    digest_of,
    image_manifest,
    push_image,
    put_manifest,
)

RULES = {"dockyard.immutability": [{"repositories": "prod/**", "tags": "v*"}]}


def test_protected_tags_never_move_or_go(server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory(RULES)
    client = server.client
    first = push_image(client, "prod/team/app", "v1.0.0")
    # Pushing the same manifest again under the tag is not a move.
    same = client.get("/v2/prod/team/app/manifests/v1.0.0", headers={"accept": ACCEPT_ALL})
    assert put_manifest(client, "prod/team/app", "v1.0.0", same.content).status_code == 201

    other = image_manifest(client, "prod/team/app")
    moved = put_manifest(client, "prod/team/app", "v1.0.0", other)
    assert_error(moved, 403, "DENIED")
    message = moved.json()["errors"][0]["message"]
    assert "v1.0.0" in message and "prod/**" in message and "v*" in message

    assert_error(client.delete("/v2/prod/team/app/manifests/v1.0.0"), 403, "DENIED")
    assert_error(client.delete(f"/v2/prod/team/app/manifests/{first}"), 403, "DENIED")
    current = client.get("/v2/prod/team/app/manifests/v1.0.0", headers={"accept": ACCEPT_ALL})
    assert digest_of(current.content) == first

    # Unprotected tags and repositories behave as usual.
    assert put_manifest(client, "prod/team/app", "latest", other).status_code == 201
    assert put_manifest(client, "prod/team/app", "latest", same.content).status_code == 201
    assert client.delete("/v2/prod/team/app/manifests/latest").status_code == 202
    push_image(client, "dev/app", "v1")
    assert put_manifest(client, "dev/app", "v1", image_manifest(client, "dev/app")
                        ).status_code == 201


def test_rules_are_read_from_the_config_file(server_factory: Callable[..., RunningServer]
                                             ) -> None:
    server = server_factory({"dockyard.immutability": [{"repositories": "*", "tags": "*"}]})
    push_image(server.client, "any/repo", "t")
    body = image_manifest(server.client, "any/repo")
    assert_error(put_manifest(server.client, "any/repo", "t", body), 403, "DENIED")
    assert json.loads(body)  # the refused body was a valid manifest
