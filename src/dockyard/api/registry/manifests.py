"""``/v2/<name>/manifests/<reference>``: PUT, GET/HEAD with Accept, DELETE."""

from dockyard.api.http import Request
from dockyard.api.registry.context import Context
from dockyard.core.errors import RegistryError
from dockyard.core.manifest import MAX_MANIFEST_BYTES
from dockyard.events import EventTarget


async def handle_manifest(request: Request, ctx: Context, name: str, reference: str) -> None:
    manifests = ctx.registry.manifests
    tag = None if ":" in reference else reference
    if request.method in ("GET", "HEAD"):
        record = manifests.find(name, reference, request.header_values(b"accept"))
        digest = record.digest.encode()
        headers = [(b"content-type", record.media_type.encode()),
                   (b"docker-content-digest", digest), (b"etag", b'"' + digest + b'"')]
        if request.header(b"if-none-match") in (record.digest, f'"{record.digest}"'):
            await request.respond(304, headers, content_length=0)
        elif request.method == "HEAD":
            await request.respond(200, headers, content_length=record.size)
        else:
            await request.respond(200, headers, await manifests.body(record))
            ctx.emit(request, "pull", _target(request, name, record.digest, record.media_type,
                                              record.size, tag))
    elif request.method == "PUT":
        body = await request.read_body(MAX_MANIFEST_BYTES)
        pushed = await manifests.put(name, reference, body, request.header(b"content-type"))
        headers = [(b"location", f"/v2/{name}/manifests/{pushed.digest}".encode()),
                   (b"docker-content-digest", pushed.digest.encode())]
        if pushed.subject:
            headers.append((b"oci-subject", pushed.subject.encode()))
        await request.respond(201, headers)
        ctx.emit(request, "push", _target(request, name, pushed.digest, pushed.media_type,
                                          len(body), tag))
    elif request.method == "DELETE":
        await manifests.delete(name, reference)
        await request.respond(202, [])
        deleted = reference if tag is None else ""
        ctx.emit(request, "delete", _target(request, name, deleted, "", 0, tag))
    else:
        raise RegistryError("UNSUPPORTED", f"{request.method} is not allowed on manifests")


def _target(request: Request, name: str, digest: str, media_type: str, size: int,
            tag: str | None) -> EventTarget:
    url = request.url_for(f"/v2/{name}/manifests/{digest or tag}")
    return EventTarget(media_type, digest, size, name, url, tag=tag)
