"""Maps ``/v2/`` paths to handlers, after the checks every route shares.

Repository names contain slashes, so each route is matched from its fixed suffix; the name is
then checked against the grammar before any handler (or storage path) sees it. Then come
read-only mode and access control, with the scope Distribution asks for: ``pull`` to read,
``pull,push`` to write, ``delete`` to delete, ``registry:catalog:*`` for the catalog.
"""

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from dockyard.api.http import Request
from dockyard.api.registry.blobs import handle_blob
from dockyard.api.registry.context import Context
from dockyard.api.registry.listings import handle_catalog, handle_referrers, handle_tags
from dockyard.api.registry.manifests import handle_manifest
from dockyard.api.registry.uploads import handle_upload, handle_upload_start
from dockyard.auth.base import Access, Anonymous, Unauthorized
from dockyard.core.errors import RegistryError
from dockyard.core.reference import is_valid_name

Handler = Callable[..., Awaitable[None]]
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_ROUTES: list[tuple[re.Pattern[str], Handler, str]] = [
    (re.compile(r"/v2/(.+)/manifests/([^/]+)"), handle_manifest, "manifest"),
    (re.compile(r"/v2/(.+)/blobs/uploads/?"), handle_upload_start, "blob_upload"),
    (re.compile(r"/v2/(.+)/blobs/uploads/([^/]+)"), handle_upload, "blob_upload_chunk"),
    (re.compile(r"/v2/(.+)/blobs/([^/]+)"), handle_blob, "blob"),
    (re.compile(r"/v2/(.+)/tags/list"), handle_tags, "tags"),
    (re.compile(r"/v2/(.+)/referrers/([^/]+)"), handle_referrers, "referrers"),
]


async def route(request: Request, ctx: Context) -> None:
    """Answer one ``/v2/...`` request, or raise :class:`RegistryError`."""
    path = request.path
    if path in ("/v2/", "/v2"):
        request.route = "base"
        await authorize(request, ctx, [])
        await request.respond_json(200, {})
        return
    if path == "/v2/_catalog":
        request.route = "catalog"
        await authorize(request, ctx, [Access("registry", "catalog", ("*",))])
        await handle_catalog(request, ctx)
        return
    for pattern, handler, label in _ROUTES:
        match = pattern.fullmatch(path)
        if match is not None:
            request.route = label
            name, *rest = match.groups()
            _check_name(name)
            if ctx.read_only and request.method in WRITES:
                raise RegistryError("UNSUPPORTED", "the registry is in read-only mode "
                                    "(storage.maintenance.readonly)")
            await authorize(request, ctx,
                            [Access("repository", name, _actions(request.method))])
            args: list[Any] = [request, ctx, name, *rest]
            await handler(*args)
            return
    raise RegistryError("NAME_UNKNOWN", f"no endpoint at {path[:200]!r}", status=404)


async def authorize(request: Request, ctx: Context, accesses: list[Access]) -> None:
    """Check access; the grant and user are kept on the request for handlers and logs.

    A controller that can answer from a cache (htpasswd) does so on the event loop; only an
    uncached check, which costs a bcrypt comparison, goes to a worker thread.
    """
    auth = ctx.auth
    if auth is None:
        request.grant = Anonymous()
        return
    header = request.header(b"authorization")
    try:
        cached = getattr(auth, "authorize_cached", None)
        grant = cached(header, accesses) if cached is not None else None
        if grant is None:
            grant = (await asyncio.to_thread(auth.authorize, header, accesses)
                     if cached is not None else auth.authorize(header, accesses))
        request.grant = grant
    except Unauthorized as denied:
        raise RegistryError("UNAUTHORIZED", denied.message, detail=[
            {"Type": a.type, "Name": a.name, "Action": action}
            for a in denied.accesses for action in a.actions],
            headers=[(b"www-authenticate", denied.challenge.encode("latin-1"))]) from None
    request.user = request.grant.user


def _actions(method: str) -> tuple[str, ...]:
    if method in ("GET", "HEAD"):
        return ("pull",)
    if method == "DELETE":
        return ("delete",)
    return ("pull", "push")


def _check_name(name: str) -> None:
    if not is_valid_name(name):
        raise RegistryError("NAME_INVALID", f"invalid repository name {name[:300]!r}: names are "
                            "lowercase path components of [a-z0-9] joined by '.', '_', '__' "
                            "or '-', separated by '/', at most 255 characters",
                            detail={"name": name[:300]})
