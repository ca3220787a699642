"""``/v2/<name>/blobs/uploads/[<uuid>]``: open, append, inspect, complete and cancel uploads."""

from dockyard.api.http import Request
from dockyard.api.registry.context import Context
from dockyard.auth.base import Access
from dockyard.core.digest import Digest
from dockyard.core.errors import RegistryError
from dockyard.events import EventTarget
from dockyard.services.uploads import Chunk


async def handle_upload_start(request: Request, ctx: Context, name: str) -> None:
    """POST: a new session, a monolithic upload (``?digest=``) or a mount (``?mount=``)."""
    if request.method != "POST":
        raise RegistryError("UNSUPPORTED", f"{request.method} is not allowed here")
    uploads = ctx.registry.uploads
    mount = request.query("mount")
    if mount is not None:
        source = request.query("from")
        readable = source is not None and request.grant.allows(
            Access("repository", source, ("pull",)))
        mounted = await uploads.mount(name, mount, source if readable else None)
        if mounted is not None:
            await _created(request, ctx, name, mounted, "mount", source)
            return
    digest = request.query("digest")
    if digest is not None and mount is None:
        stored = await uploads.upload_whole(name, digest, _chunk(request, False))
        await _created(request, ctx, name, stored, "push")
        return
    await request.drain()
    upload_id = await uploads.start(name)
    await _accepted(request, name, upload_id, 0, 202)


async def handle_upload(request: Request, ctx: Context, name: str, upload_id: str) -> None:
    """PATCH, PUT, GET and DELETE on one session."""
    uploads = ctx.registry.uploads
    if request.method == "PATCH":
        size = await uploads.append(name, upload_id, _chunk(request, True))
        await _accepted(request, name, upload_id, size, 202)
    elif request.method == "PUT":
        digest = await uploads.finish(name, upload_id, request.query("digest"),
                                      _chunk(request, True))
        await _created(request, ctx, name, digest, "push")
    elif request.method in ("GET", "HEAD"):
        size = await uploads.size(name, upload_id)
        await _accepted(request, name, upload_id, size, 204)
    elif request.method == "DELETE":
        await uploads.cancel(name, upload_id)
        await request.respond(204, [])
    else:
        raise RegistryError("UNSUPPORTED", f"{request.method} is not allowed on uploads")


def _chunk(request: Request, ranged: bool) -> Chunk:
    return Chunk(request.body(), request.header(b"content-range") if ranged else None,
                 request.content_length())


async def _created(request: Request, ctx: Context, name: str, digest: Digest, action: str,
                   source: str | None = None) -> None:
    if action == "push":  # Verified bytes just landed; a mount brings none.
        ctx.registry.blobs.forget_corruption(digest)
    path = f"/v2/{name}/blobs/{digest}"
    await request.respond(201, [(b"location", path.encode()),
                                (b"docker-content-digest", str(digest).encode())])
    size = await ctx.registry.blobs.size(name, digest)
    ctx.emit(request, action, EventTarget("application/octet-stream", str(digest), size, name,
                                          request.url_for(path), from_repository=source))


async def _accepted(request: Request, name: str, upload_id: str, size: int, status: int
                    ) -> None:
    last = max(size - 1, 0)
    await request.respond(status, [
        (b"location", f"/v2/{name}/blobs/uploads/{upload_id}".encode()),
        (b"docker-upload-uuid", upload_id.encode()),
        (b"range", f"0-{last}".encode())])
