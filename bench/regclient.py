"""A small, low-overhead registry client on ``http.client`` (one keep-alive connection).

httpx costs several times more CPU per request than ``http.client``; on a 2-core machine
that the client shares with the server, that cost would be measured as the server's. Every
call checks the status it expects and raises ``RegistryError`` otherwise, so a failing
server can never look fast.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class RegistryError(RuntimeError):
    pass


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Client:
    """One keep-alive HTTP/1.1 connection to ``127.0.0.1:port``."""

    def __init__(self, port: int, timeout: float = 300.0) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.requests = 0

    def close(self) -> None:
        self.conn.close()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, expect: tuple[int, ...] = (200,)
                ) -> Response:
        self.requests += 1
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise RegistryError(f"{method} {path}: {type(e).__name__}: {e}") from e
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.status not in expect:
            raise RegistryError(f"{method} {path}: HTTP {r.status} (wanted {expect}): "
                                f"{data[:300]!r}")
        return Response(r.status, hdrs, data)

    def path_of(self, location: str) -> str:
        """An upload ``Location`` (absolute for Distribution, relative for Dockyard) as a
        request target on this connection."""
        url = urlsplit(urljoin(self.base + "/", location))
        return url.path + (f"?{url.query}" if url.query else "")

    # ---------------------------------------------------------------- blobs

    def start_upload(self, repo: str) -> str:
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/", b"",
                         {"Content-Length": "0"}, expect=(202,))
        return self.path_of(r.headers["location"])

    @staticmethod
    def with_query(path: str, **params: str) -> str:
        sep = "&" if "?" in path else "?"
        return path + sep + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())

    def push_blob(self, repo: str, data: bytes, digest: str | None = None,
                  check: bool = True) -> str:
        """HEAD (absent), POST, then one PUT with the body: as a registry client pushes."""
        digest = digest or sha256_digest(data)
        if check:
            r = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", expect=(200, 404))
            if r.status == 200:
                return digest
        location = self.start_upload(repo)
        self.request("PUT", self.with_query(location, digest=digest), data,
                     {"Content-Type": "application/octet-stream",
                      "Content-Length": str(len(data))}, expect=(201,))
        return digest

    def mount_blob(self, repo: str, digest: str, source: str) -> None:
        self.request("POST", f"/v2/{repo}/blobs/uploads/?mount={quote(digest, safe='')}"
                     f"&from={quote(source, safe='')}", b"", {"Content-Length": "0"},
                     expect=(201,))

    def push_file_chunked(self, repo: str, path: str, size: int, digest: str,
                          chunk: int) -> int:
        """POST, PATCHes of ``chunk`` bytes sent with sendfile(2), then PUT ?digest=.

        Returns the number of PATCH requests.
        """
        location = self.start_upload(repo)
        patches = 0
        with open(path, "rb") as f:
            offset = 0
            while offset < size:
                n = min(chunk, size - offset)
                conn = self.conn
                conn.putrequest("PATCH", location, skip_accept_encoding=True)
                conn.putheader("Content-Type", "application/octet-stream")
                conn.putheader("Content-Length", str(n))
                conn.putheader("Content-Range", f"{offset}-{offset + n - 1}")
                conn.endheaders()
                assert conn.sock is not None
                sent = conn.sock.sendfile(f, offset, n)
                if sent != n:
                    raise RegistryError(f"PATCH: sendfile sent {sent} of {n} bytes")
                self.requests += 1
                r = conn.getresponse()
                body = r.read()
                if r.status != 202:
                    raise RegistryError(f"PATCH {location}: HTTP {r.status}: {body[:300]!r}")
                location = self.path_of(r.getheader("location") or location)
                offset += n
                patches += 1
        self.request("PUT", self.with_query(location, digest=digest), b"",
                     {"Content-Length": "0"}, expect=(201,))
        return patches

    # ------------------------------------------------------------ manifests

    def put_manifest(self, repo: str, reference: str, body: bytes,
                     media_type: str = OCI_MANIFEST) -> str:
        r = self.request("PUT", f"/v2/{repo}/manifests/{reference}", body,
                         {"Content-Type": media_type}, expect=(201,))
        return r.headers.get("docker-content-digest", sha256_digest(body))

    def get_manifest(self, repo: str, reference: str) -> bytes:
        return self.request("GET", f"/v2/{repo}/manifests/{reference}",
                            headers={"Accept": ACCEPT}).body

    def pull_image(self, repo: str, reference: str) -> int:
        """Manifest by tag, then config and layers, each checked against its digest."""
        manifest = json.loads(self.get_manifest(repo, reference))
        total = 0
        for desc in [manifest["config"], *manifest["layers"]]:
            data = self.request("GET", f"/v2/{repo}/blobs/{desc['digest']}").body
            if sha256_digest(data) != desc["digest"]:
                raise RegistryError(f"{repo}: blob {desc['digest']} came back different")
            total += len(data)
        return total

    # ------------------------------------------------------------- listings

    def page_through(self, path: str, key: str) -> tuple[int, int]:
        """Follow ``Link: <…>; rel="next"`` from ``path``; returns (pages, entries)."""
        pages = entries = 0
        seen_last = None
        while path:
            r = self.request("GET", path)
            pages += 1
            items = json.loads(r.body).get(key) or []
            entries += len(items)
            if items and items[-1] == seen_last:
                raise RegistryError(f"pagination loops at {path}")
            seen_last = items[-1] if items else seen_last
            m = _LINK_NEXT.search(r.headers.get("link", ""))
            path = self.path_of(m.group(1)) if m else ""
            if pages > 1_000_000:
                raise RegistryError("pagination does not end")
        return pages, entries


# -------------------------------------------------------------------- images


@dataclass
class Image:
    """A small image: a config and layers (bytes and digests) and its OCI manifest."""

    config: bytes
    layers: list[bytes]
    manifest: bytes

    @property
    def blobs(self) -> list[tuple[bytes, str]]:
        return [(b, sha256_digest(b)) for b in [self.config, *self.layers]]


def make_image(seed: int, layers: int = 3, layer_size: int = 10 * 1024) -> Image:
    rnd = random.Random(seed)
    layer_bytes = [rnd.randbytes(layer_size) for _ in range(layers)]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": [f"BENCH_IMAGE={seed}"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(b) for b in layer_bytes]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256_digest(b), "size": len(b)}
                   for b in layer_bytes],
    }, indent=3).encode()
    return Image(config, layer_bytes, manifest)


def push_image(client: Client, repo: str, tag: str, image: Image) -> None:
    for data, digest in image.blobs:
        client.push_blob(repo, data, digest)
    client.put_manifest(repo, tag, image.manifest)


def write_random_file(path: str, size: int) -> str:
    """``size`` random bytes (incompressible) written to ``path``; returns the digest.

    AES-CTR over zeros (from ``cryptography``, a Dockyard dependency) makes them about 40
    times faster than ``os.urandom`` here; ``os.urandom`` if it is missing.
    """
    random_bytes: Callable[[int], bytes] = os.urandom
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        encryptor = Cipher(algorithms.AES(os.urandom(16)), modes.CTR(os.urandom(16))).encryptor()
        random_bytes = lambda n: encryptor.update(bytes(n))  # noqa: E731
    except ImportError:
        pass
    h = hashlib.sha256()
    piece = 16 * 1024 * 1024
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(piece, left)
            data = random_bytes(n)
            h.update(data)
            f.write(data)
            left -= n
        f.flush()
        os.fsync(f.fileno())
    return "sha256:" + h.hexdigest()
