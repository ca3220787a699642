"""Maps ``/v2/`` paths to handlers.

Repository names contain slashes, so each route is matched from its fixed suffix; the name is
then checked against the grammar before any handler (or storage path) sees it.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Any

from dockyard.api.http import Request
from dockyard.api.registry.blobs import handle_blob
from dockyard.api.registry.listings import handle_catalog, handle_referrers, handle_tags
from dockyard.api.registry.manifests import handle_manifest
from dockyard.api.registry.uploads import handle_upload, handle_upload_start
from dockyard.core.errors import RegistryError
from dockyard.core.reference import is_valid_name
from dockyard.services.registry import Registry

Handler = Callable[..., Awaitable[None]]

_ROUTES: list[tuple[re.Pattern[str], Handler]] = [
    (re.compile(r"/v2/(.+)/manifests/([^/]+)"), handle_manifest),
    (re.compile(r"/v2/(.+)/blobs/uploads/?"), handle_upload_start),
    (re.compile(r"/v2/(.+)/blobs/uploads/([^/]+)"), handle_upload),
    (re.compile(r"/v2/(.+)/blobs/([^/]+)"), handle_blob),
    (re.compile(r"/v2/(.+)/tags/list"), handle_tags),
    (re.compile(r"/v2/(.+)/referrers/([^/]+)"), handle_referrers),
]


async def route(request: Request, registry: Registry) -> None:
    """Answer one ``/v2/...`` request, or raise :class:`RegistryError`."""
    path = request.path
    if path in ("/v2/", "/v2"):
        await request.respond_json(200, {})
        return
    if path == "/v2/_catalog":
        await handle_catalog(request, registry)
        return
    for pattern, handler in _ROUTES:
        match = pattern.fullmatch(path)
        if match is not None:
            name, *rest = match.groups()
            _check_name(name)
            args: list[Any] = [request, registry, name, *rest]
            await handler(*args)
            return
    raise RegistryError("NAME_UNKNOWN", f"no endpoint at {path[:200]!r}", status=404)


def _check_name(name: str) -> None:
    if not is_valid_name(name):
        raise RegistryError("NAME_INVALID", f"invalid repository name {name[:300]!r}: names are "
                            "lowercase path components of [a-z0-9] joined by '.', '_', '__' "
                            "or '-', separated by '/', at most 255 characters",
                            detail={"name": name[:300]})
