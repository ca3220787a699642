"""``/v2/<name>/blobs/uploads/[<uuid>]``: open, append, inspect, complete and cancel uploads."""

from dockyard.api.http import Request
from dockyard.core.digest import Digest
from dockyard.core.errors import RegistryError
from dockyard.services.registry import Registry
from dockyard.services.uploads import Chunk


async def handle_upload_start(request: Request, registry: Registry, name: str) -> None:
    """POST: a new session, a monolithic upload (``?digest=``) or a mount (``?mount=``)."""
    if request.method != "POST":
        raise RegistryError("UNSUPPORTED", f"{request.method} is not allowed here")
    mount = request.query("mount")
    if mount is not None:
        mounted = await registry.uploads.mount(name, mount, request.query("from"))
        if mounted is not None:
            await _created(request, name, mounted)
            return
    digest = request.query("digest")
    if digest is not None and mount is None:
        stored = await registry.uploads.upload_whole(name, digest, _chunk(request, False))
        await _created(request, name, stored)
        return
    await request.drain()
    upload_id = await registry.uploads.start(name)
    await _accepted(request, name, upload_id, 0, 202)


async def handle_upload(request: Request, registry: Registry, name: str, upload_id: str) -> None:
    """PATCH, PUT, GET and DELETE on one session."""
    uploads = registry.uploads
    if request.method == "PATCH":
        size = await uploads.append(name, upload_id, _chunk(request, True))
        await _accepted(request, name, upload_id, size, 202)
    elif request.method == "PUT":
        digest = await uploads.finish(name, upload_id, request.query("digest"),
                                      _chunk(request, True))
        await _created(request, name, digest)
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


async def _created(request: Request, name: str, digest: Digest) -> None:
    text = str(digest).encode()
    await request.respond(201, [(b"location", f"/v2/{name}/blobs/{digest}".encode()),
                                (b"docker-content-digest", text)])


async def _accepted(request: Request, name: str, upload_id: str, size: int, status: int
                    ) -> None:
    last = max(size - 1, 0)
    await request.respond(status, [
        (b"location", f"/v2/{name}/blobs/uploads/{upload_id}".encode()),
        (b"docker-upload-uuid", upload_id.encode()),
        (b"range", f"0-{last}".encode())])
