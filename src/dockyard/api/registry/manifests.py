"""``/v2/<name>/manifests/<reference>``: PUT, GET/HEAD with Accept, DELETE."""

from dockyard.api.http import Request
from dockyard.core.errors import RegistryError
from dockyard.core.manifest import MAX_MANIFEST_BYTES
from dockyard.services.registry import Registry


async def handle_manifest(request: Request, registry: Registry, name: str,
                          reference: str) -> None:
    manifests = registry.manifests
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
    elif request.method == "PUT":
        body = await request.read_body(MAX_MANIFEST_BYTES)
        pushed = await manifests.put(name, reference, body, request.header(b"content-type"))
        headers = [(b"location", f"/v2/{name}/manifests/{pushed.digest}".encode()),
                   (b"docker-content-digest", pushed.digest.encode())]
        if pushed.subject:
            headers.append((b"oci-subject", pushed.subject.encode()))
        await request.respond(201, headers)
    elif request.method == "DELETE":
        await manifests.delete(name, reference)
        await request.respond(202, [])
    else:
        raise RegistryError("UNSUPPORTED", f"{request.method} is not allowed on manifests")
