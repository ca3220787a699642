"""Pure parts of the client: references, challenges, tag sorting, platforms."""

from __future__ import annotations

import pytest

from dockyard.client import parse_image
from dockyard.client.auth import parse_challenge
from dockyard.client.platforms import select
from dockyard.client.reference import parse_repository
from dockyard.client.tagsort import select_tags
from dockyard.client.transport import is_loopback

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("text", "parts", "canonical"), [
    ("localhost:5000/team/app:v1", ("localhost:5000", "team/app", "v1", None),
     "localhost:5000/team/app:v1"),
    ("127.0.0.1:5001/app", ("127.0.0.1:5001", "app", None, None), "127.0.0.1:5001/app"),
    (f"registry.example.com/a/b@{DIGEST}", ("registry.example.com", "a/b", None, DIGEST),
     f"registry.example.com/a/b@{DIGEST}"),
    ("alpine", ("docker.io", "library/alpine", None, None), "docker.io/library/alpine"),
    ("team/app:1.0", ("docker.io", "team/app", "1.0", None), "docker.io/team/app:1.0"),
    ("localhost/app:v1", ("localhost", "app", "v1", None), "localhost/app:v1"),
])
def test_parse_image(text, parts, canonical):
    ref = parse_image(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == parts
    assert str(ref) == canonical
    assert ref.reference == (parts[3] or parts[2] or "latest")


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"), ("localhost:5000/Team/app", "invalid repository name"),
    ("localhost:5000/app:bad tag", "invalid tag"), ("localhost:5000/app@sha256:12", "digest"),
])
def test_bad_references_say_why(text, message):
    with pytest.raises(ValueError, match=message):
        parse_image(text)


def test_repository_refuses_a_tag():
    assert parse_repository("localhost:5000/a/b").repository == "a/b"
    with pytest.raises(ValueError, match="without tag"):
        parse_repository("localhost:5000/a/b:v1")
    with pytest.raises(ValueError, match="invalid tag"):
        parse_image("localhost:5000/a").with_tag("-x")


def test_challenges():
    bearer = parse_challenge('Bearer realm="https://auth/token",service="reg",'
                             'scope="repository:a/b:pull,push",error="insufficient_scope"')
    assert bearer is not None and bearer.scheme == "bearer"
    assert bearer.params == {"realm": "https://auth/token", "service": "reg",
                             "scope": "repository:a/b:pull,push", "error": "insufficient_scope"}
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None and (basic.scheme, basic.params) == ("basic",
                                                                  {"realm": "Registry Realm"})


def test_tag_selection():
    tags = ["latest", "v2.0.0", "v1.10.0", "v1.9.0", "1.0.0-beta.1", "1.0.0", "edge"]
    assert select_tags(tags) == sorted(tags)
    assert select_tags(tags, semver=True) == [
        "1.0.0-beta.1", "1.0.0", "v1.9.0", "v1.10.0", "v2.0.0", "edge", "latest"]
    assert select_tags(tags, semver=True, version_range=">=1.0,<2") == [
        "1.0.0", "v1.9.0", "v1.10.0"]
    assert select_tags(tags, pattern="^v1") == ["v1.10.0", "v1.9.0"]
    with pytest.raises(ValueError, match="--filter"):
        select_tags(tags, pattern="(")


def test_platform_selection():
    index = {"manifests": [
        {"digest": "a", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
        {"digest": "b", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "c", "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]}
    assert select(index, "linux/arm/v7")["digest"] == "b"
    assert select(index, "linux/arm")["digest"] == "a"
    assert select(index, "unknown/unknown") is None  # attestations are not platforms
    with pytest.raises(ValueError, match="os/arch"):
        select(index, "linux")


def test_loopback_hosts():
    assert is_loopback("localhost:5000") and is_loopback("127.0.0.1:5000")
    assert is_loopback("127.1.2.3") and not is_loopback("registry.example.com:5000")
