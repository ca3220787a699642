"""Image references as people type them: ``HOST[:PORT]/REPO[:TAG][@DIGEST]``.

The registry part follows docker's rule: the first component is a host when it contains a
``.`` or ``:`` or is ``localhost``; otherwise the reference is on Docker Hub (``docker.io``)
and one-component names get ``library/``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dockyard.core.digest import Digest, InvalidDigest
from dockyard.core.reference import is_valid_name, is_valid_tag

DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class ImageReference:
    """A parsed reference; ``str()`` gives it back in canonical form."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def with_tag(self, tag: str) -> ImageReference:
        """The same repository under ``tag`` (no digest)."""
        if not is_valid_tag(tag):
            raise ValueError(f"invalid tag {tag!r}: tags are [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}")
        return replace(self, tag=tag, digest=None)

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest if set, else the tag (``latest``)."""
        return self.digest or self.tag or "latest"

    @property
    def repository_name(self) -> str:
        """``HOST/REPO`` without tag or digest, for messages."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.repository_name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def split_registry(text: str) -> tuple[str, str]:
    """(registry, rest) by docker's first-component rule."""
    first, slash, rest = text.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, text


def parse_image(text: str) -> ImageReference:
    """Parse ``text`` or raise ``ValueError`` with a message a person can act on."""
    original = text.strip()
    if not original:
        raise ValueError("empty image reference")
    remainder, _, digest = original.partition("@")
    registry, path = split_registry(remainder)
    name, tag = path, None
    colon = path.rfind(":")
    if colon > path.rfind("/"):
        name, tag = path[:colon], path[colon + 1:]
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not is_valid_name(name):
        raise ValueError(f"invalid repository name {name!r} in {original!r}: lowercase "
                         "letters, digits and separators (. _ __ -) in /-separated parts")
    if tag is not None and not is_valid_tag(tag):
        raise ValueError(f"invalid tag {tag!r} in {original!r}")
    if digest:
        try:
            digest = str(Digest.parse(digest))
        except InvalidDigest as error:
            raise ValueError(str(error)) from None
    return ImageReference(registry.lower(), name, tag, digest or None)


def parse_repository(text: str) -> ImageReference:
    """``HOST/REPO`` (a tag or digest is refused: the verb works on the whole repository)."""
    reference = parse_image(text)
    if reference.tag or reference.digest:
        raise ValueError(f"expected HOST/REPOSITORY without tag or digest, got {text!r}")
    return reference
