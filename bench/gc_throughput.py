"""Online garbage collection throughput on a large store (issue 6's closing figure).

Builds a store of ``--blobs`` blobs straight through the database and ``blobs/`` (images of
one config, two layers and a manifest, spread over ten repositories; small random bytes with
their real digests), deletes every other tag through the metadata store (which queues those
images, as a client's DELETE would), then times one online collection, as ``dockyard gc run``
performs it, with a zero delay:

    .venv/bin/python bench/gc_throughput.py [--blobs 100000] [--batch 200] [--pause 0]

Half the blobs are garbage. The figure is objects deleted per second, an object being a
manifest row, a blob link or a blob (row plus file); bytes are those of the freed files.
Afterwards it checks that no unreferenced blob (row or file) remains and that every kept
manifest still has all of its blobs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.gc.online import assert_no_garbage, build_store  # noqa: E402

from dockyard.gc.online.collector import Collector  # noqa: E402
from dockyard.gc.settings import GcSettings  # noqa: E402
from dockyard.metadata.store import MetadataStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
    parser.add_argument("--dir", type=Path, default=None, help="where to build (a temp dir)")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="gc-bench-"))
    root = base / "data"
    try:
        started = time.perf_counter()
        built = build_store(root, images=args.blobs // 4, layers=2)
        build_seconds = time.perf_counter() - started
        store = MetadataStore(f"sqlite:///{root / 'dockyard' / 'metadata.sqlite3'}")
        settings = GcSettings(delay=timedelta(0), batch=args.batch,
                              pause=timedelta(seconds=args.pause))
        totals = Collector(store.write_engine, root, settings).run()
        store.close()
        assert_no_garbage(root)
        result = {
            "blobs_in_store": built["blobs"],
            "images_untagged": built["untagged"],
            "build_seconds": round(build_seconds, 1),
            "batch": args.batch,
            "pause_seconds": args.pause,
            "deleted": {"manifests": len(totals.manifests), "links": len(totals.links),
                        "blobs": len(totals.blobs), "files": len(totals.files)},
            "objects": totals.objects,
            "bytes_freed": totals.bytes,
            "batches": totals.batches,
            "seconds": round(totals.seconds, 2),
            "objects_per_second": round(totals.objects / totals.seconds),
            "blobs_per_second": round(len(totals.blobs) / totals.seconds),
        }
        print(json.dumps(result, indent=2))
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
