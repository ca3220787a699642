"""The upload ceiling: the least a registry must do with a pushed blob, and nothing more.

A raw ASGI app that takes a PUT body, sha256es each chunk and writes it (inline, on the event
loop, as Dockyard does), then fsyncs and closes the file in a worker thread, and answers 201
with the digest. No routing, no sessions, no metadata, no logging. It runs under granian
with the settings ``dockyard serve`` uses (ASGI, uvloop, HTTP/1.1, no websockets, default
buffer sizes), so Dockyard's push rate divided by this one is the share of the achievable
rate that Dockyard keeps.

    .venv/bin/python bench/ceiling.py --port 5099 --dir /tmp/ceiling [--workers 1]

``GET /v2/`` answers 200 (the readiness probe of the harness).

The ``Granian(...)`` settings in ``main()`` mirror those of ``dockyard.launch.run_granian``; when
the defaults of ``dockyard serve`` change, change them here too, or the ceiling stops being
comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import uuid
from typing import Any

DIR = os.environ.get("CEILING_DIR", ".")


def _finish(fd: int) -> None:
    os.fsync(fd)
    os.close(fd)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["method"] != "PUT":
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    path = os.path.join(DIR, uuid.uuid4().hex)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    h = hashlib.sha256()
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client went away")
            chunk = message.get("body", b"")
            if chunk:
                h.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
                size += len(chunk)
            if not message.get("more_body"):
                break
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    await asyncio.get_running_loop().run_in_executor(None, _finish, fd)
    body = f"sha256:{h.hexdigest()} {size}\n".encode()
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"docker-content-digest", body.split()[0]),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    os.environ["CEILING_DIR"] = os.path.abspath(args.dir)
    here = os.path.dirname(os.path.abspath(__file__))
    os.environ["PYTHONPATH"] = here  # the granian workers import "ceiling:app"

    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    Granian(target="ceiling:app", address="127.0.0.1", port=args.port,
            interface=Interfaces.ASGI, loop=Loops.uvloop, http=HTTPModes.http1,
            websockets=False, workers=args.workers, log_level=LogLevels.error).serve()


if __name__ == "__main__":
    main()
