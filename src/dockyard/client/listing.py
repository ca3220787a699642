"""Paginated listings: the catalog, a repository's tags, and the referrers of a manifest.

The registry caps each page (``n``) and links to the next one with ``Link: <...>;
rel="next"``; a registry that sends a full page without a Link is asked again with
``last=<final entry>``, which the spec also defines.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from dockyard.client.errors import RegistryError
from dockyard.client.transport import Transport

_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?', re.IGNORECASE)


async def pages(transport: Transport, path: str, key: str, page_size: int, scope: str
                ) -> AsyncIterator[list[str]]:
    """Yield each page's ``key`` list until the registry has no more."""
    url: str | None = path
    params: dict[str, str] | None = {"n": str(page_size)}
    seen: set[str] = set()
    while url is not None:
        response = await transport.request("GET", url, scope=scope, params=params)
        document = _json(transport, response.content)
        entries = [str(e) for e in (document.get(key) or [])]
        fresh = [e for e in entries if e not in seen]
        seen.update(fresh)
        yield fresh
        link = next_link(response.headers.get("link", ""))
        if not fresh:
            url = None  # A page with nothing new: the registry ignores the cursor; stop.
        elif link:
            url, params = link, None
        elif len(entries) == page_size:
            # A full page without a Link may have more after it. (Distribution 2.8 ignores
            # ``n`` on tags and answers everything at once: more than ``n`` means the end.)
            url, params = path, {"n": str(page_size), "last": entries[-1]}
        else:
            url = None


def next_link(header: str) -> str | None:
    """The target of ``rel="next"`` in a Link header, if any."""
    match = _NEXT.search(header)
    return match.group(1) if match else None


def _json(transport: Transport, body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise RegistryError(transport.registry, 200, None, "answered a listing that is not JSON")
    return document
