"""Tag lists, the catalog and the referrers index, with the spec's ``n``/``last`` paging.

``n`` is validated as ASCII digits before ``int()`` (which would accept ``_``, spaces and
Unicode digits) and capped, so no client-chosen number sizes an allocation (CVE-2023-2253).
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import quote

from dockyard.core import mediatypes
from dockyard.core.errors import RegistryError
from dockyard.metadata.base import Metadata
from dockyard.services.blobs import parse_digest
from dockyard.services.settings import RegistrySettings

_NUMBER = re.compile(r"[0-9]{1,10}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing and the path of the next page, if any."""

    items: list[str]
    next_path: str | None


@dataclass(frozen=True, slots=True)
class ReferrersIndex:
    """The referrers response body and whether a filter was applied."""

    body: bytes
    filtered: bool


class ListingService:
    """Read-only listings over the metadata store."""

    def __init__(self, metadata: Metadata, settings: RegistrySettings):
        self._metadata = metadata
        self._settings = settings

    def tags(self, repository: str, n: str | None, last: str | None) -> Page:
        """A page of ``repository``'s tags; ``n`` above the cap is clamped (Distribution 3.1)."""
        limit = min(_page_size(n, self._settings.max_tags_page), self._settings.max_tags_page)
        found = self._metadata.list_tags(repository, last, limit + 1)
        if found is None:
            raise RegistryError("NAME_UNKNOWN", detail={"name": repository})
        return _page(found, limit, f"/v2/{repository}/tags/list")

    def catalog(self, n: str | None, last: str | None) -> Page:
        """A page of repository names; ``n`` above the cap is refused (Distribution 2.8.2+)."""
        limit = _page_size(n, self._settings.max_catalog_page)
        if limit > self._settings.max_catalog_page:
            raise RegistryError("PAGINATION_NUMBER_INVALID", f"n may be at most "
                                f"{self._settings.max_catalog_page}", detail={"n": limit})
        return _page(self._metadata.list_repositories(last, limit + 1), limit, "/v2/_catalog")

    def referrers(self, repository: str, subject: str, artifact_type: str | None
                  ) -> ReferrersIndex:
        """The image index of manifests whose subject is ``subject``."""
        digest = parse_digest(subject)  # An unknown repository has no referrers: the spec
        descriptors = []                 # says this API answers 200, never 404.
        for referrer in self._metadata.referrers(repository, str(digest)):
            if artifact_type is not None and referrer.artifact_type != artifact_type:
                continue
            descriptor: dict[str, object] = {"mediaType": referrer.media_type,
                                             "digest": referrer.digest, "size": referrer.size}
            if referrer.artifact_type:
                descriptor["artifactType"] = referrer.artifact_type
            if referrer.annotations:
                descriptor["annotations"] = referrer.annotations
            descriptors.append(descriptor)
        index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": descriptors}
        return ReferrersIndex(json.dumps(index).encode(), artifact_type is not None)


def _page_size(n: str | None, default: int) -> int:
    if n is None:
        return default
    if _NUMBER.fullmatch(n) is None:
        raise RegistryError("PAGINATION_NUMBER_INVALID", f"n must be a non-negative integer, "
                            f"not {n[:50]!r}", detail={"n": n[:50]})
    return int(n)


def _page(found: list[str], limit: int, path: str) -> Page:
    if len(found) <= limit or limit == 0:
        return Page(found[:limit], None)
    items = found[:limit]
    return Page(items, f"{path}?n={limit}&last={quote(items[-1], safe='')}")
