"""``dockyard copy`` against ``skopeo copy``, registry to registry: wall time and disk writes.

    .venv/bin/python bench/copy_vs_skopeo.py [--reps 3] [--layers 3] [--layer-mib 64]

One image of N layers of random bytes (incompressible, so no tool gains by compressing) is
pushed once to Distribution (Debian's docker-registry). Each repetition then copies it to a
fresh, empty Dockyard with each tool in turn (the order alternates between repetitions).
Measured per run, for the client process only:

* wall time from start to exit;
* ``write_bytes`` from ``/proc/<pid>/io``: bytes the process caused to be written to the
  block layer (its temporary files in /var/tmp included), read after the process exited
  and before it was reaped (``waitid(WNOWAIT)``), so nothing it wrote is missed.

The destination digest is checked after every run. Not a test: it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from servers import VENV_PYTHON, make_server  # noqa: E402

MiB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
POLICY = {"default": [{"type": "insecureAcceptAnything"}]}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = sha256(data)
    path = layout / "blobs" / "sha256" / digest[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def random_layer(layout: Path, size: int) -> tuple[dict[str, object], str]:
    """An uncompressed tar holding one random file, streamed to disk (never whole in RAM)."""
    tmp = layout / "layer.tmp"
    hasher = hashlib.sha256()

    class Hashing(io.RawIOBase):
        def __init__(self, out: io.BufferedWriter) -> None:
            self.out = out

        def writable(self) -> bool:
            return True

        def write(self, b):  # type: ignore[no-untyped-def]
            hasher.update(b)
            return self.out.write(b)

    class Random(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b):  # type: ignore[no-untyped-def]
            data = os.urandom(len(b))
            b[: len(data)] = data
            return len(data)

    with open(tmp, "wb") as raw, tarfile.open(fileobj=Hashing(raw), mode="w|") as tar:
        info = tarfile.TarInfo(f"data/{os.urandom(6).hex()}.bin")
        info.size = size
        tar.addfile(info, io.BufferedReader(Random(), 4 * MiB))
    digest = "sha256:" + hasher.hexdigest()
    final = layout / "blobs" / "sha256" / digest[7:]
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(final)
    descriptor = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest,
                  "size": final.stat().st_size}
    return descriptor, digest


def build_layout(layout: Path, layers: int, layer_size: int) -> str:
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    descriptors, diff_ids = zip(*(random_layer(layout, layer_size) for _ in range(layers)),
                                strict=True)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": list(diff_ids)}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      **write_blob(layout, config)},
                           "layers": list(descriptors)}).encode()
    top = {"mediaType": OCI_MANIFEST, **write_blob(layout, manifest),
           "annotations": {"org.opencontainers.image.ref.name": "v1"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return sha256(manifest)


def measured(argv: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """Run ``argv``; (wall seconds, write_bytes, cancelled_write_bytes) of that process."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    wall = time.monotonic() - start
    fields = dict(line.split(": ") for line in
                  Path(f"/proc/{proc.pid}/io").read_text().splitlines())
    err = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise RuntimeError(f"{argv[0]} failed: {err[-2000:]}")
    return wall, int(fields["write_bytes"]), int(fields["cancelled_write_bytes"])


def manifest_digest(base: str, repository: str) -> str:
    request = urllib.request.Request(f"{base}/v2/{repository}/manifests/v1", method="GET",
                                     headers={"Accept": OCI_MANIFEST})
    with urllib.request.urlopen(request, timeout=30) as response:
        return sha256(response.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--layer-mib", type=int, default=64)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="copy-bench-"))
    logs = work / "logs"
    logs.mkdir()
    policy = work / "policy.json"
    policy.write_text(json.dumps(POLICY))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["REGISTRY_AUTH_FILE"] = str(work / "auth.json")
    (work / "auth.json").write_text('{"auths": {}}')
    source = make_server("distribution", work / "distribution", logs).start()
    results: dict[str, list[tuple[float, int, int]]] = {"dockyard copy": [], "skopeo copy": []}
    try:
        digest = build_layout(work / "layout", args.layers, args.layer_mib * MiB)
        src_host = source.base.removeprefix("http://")
        subprocess.run(["skopeo", "--policy", str(policy), "copy", "--preserve-digests",
                        "--dest-tls-verify=false", f"oci:{work / 'layout'}:v1",
                        f"docker://{src_host}/bench/app:v1"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        for rep in range(args.reps):
            order = list(results) if rep % 2 == 0 else list(reversed(results))
            for tool in order:
                dest = make_server("dockyard", work / f"dest-{rep}-{tool[:6]}", logs).start()
                dst_host = dest.base.removeprefix("http://")
                if tool == "dockyard copy":
                    argv = [str(VENV_PYTHON), "-m", "dockyard", "copy",
                            f"{src_host}/bench/app:v1", f"{dst_host}/bench/app:v1"]
                else:
                    argv = ["skopeo", "--policy", str(policy), "copy", "--preserve-digests",
                            "--src-tls-verify=false", "--dest-tls-verify=false",
                            f"docker://{src_host}/bench/app:v1",
                            f"docker://{dst_host}/bench/app:v1"]
                try:
                    results[tool].append(measured(argv, env))
                    if manifest_digest(dest.base, "bench/app") != digest:
                        raise RuntimeError(f"{tool}: destination digest differs")
                finally:
                    dest.stop()
                    dest.remove_storage()
                wall, written, cancelled = results[tool][-1]
                print(f"rep {rep + 1} {tool}: {wall:.2f} s, write_bytes {written / MiB:.1f} "
                      f"MiB (cancelled {cancelled / MiB:.1f} MiB)", file=sys.stderr)
    finally:
        source.stop()
        source.remove_storage()
    size = args.layers * args.layer_mib
    print(f"\n{args.layers} layers x {args.layer_mib} MiB ({size} MiB), Distribution -> fresh "
          f"Dockyard, {args.reps} reps (median, min-max)\n")
    print("| client | wall time (s) | written to local disk (MiB) |")
    print("|---|---|---|")
    for tool, runs in results.items():
        walls = [r[0] for r in runs]
        writes = [r[1] / MiB for r in runs]
        print(f"| {tool} | {statistics.median(walls):.2f} ({min(walls):.2f}-{max(walls):.2f}) "
              f"| {statistics.median(writes):.1f} ({min(writes):.1f}-{max(writes):.1f}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
