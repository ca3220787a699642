"""``/v2/<name>/tags/list``, ``/v2/_catalog`` and ``/v2/<name>/referrers/<digest>``."""

from dockyard.api.http import Request
from dockyard.api.registry.context import Context
from dockyard.core import mediatypes
from dockyard.core.errors import RegistryError
from dockyard.services.listing import Page


async def handle_tags(request: Request, ctx: Context, name: str) -> None:
    _only_get(request)
    page = ctx.registry.listing.tags(name, request.query("n"), request.query("last"))
    await request.respond_json(200, {"name": name, "tags": page.items}, _link(page))


async def handle_catalog(request: Request, ctx: Context) -> None:
    _only_get(request)
    page = ctx.registry.listing.catalog(request.query("n"), request.query("last"))
    await request.respond_json(200, {"repositories": page.items}, _link(page))


async def handle_referrers(request: Request, ctx: Context, name: str, digest: str) -> None:
    _only_get(request)
    index = ctx.registry.listing.referrers(name, digest, request.query("artifactType"))
    headers = [(b"content-type", mediatypes.OCI_INDEX.encode())]
    if index.filtered:
        headers.append((b"oci-filters-applied", b"artifactType"))
    await request.respond(200, headers, index.body)


def _only_get(request: Request) -> None:
    if request.method not in ("GET", "HEAD"):
        raise RegistryError("UNSUPPORTED", f"{request.method} is not allowed here")


def _link(page: Page) -> list[tuple[bytes, bytes]]:
    if page.next_path is None:
        return []
    return [(b"link", f'<{page.next_path}>; rel="next"'.encode())]
