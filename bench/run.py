"""Dockyard against CNCF Distribution, side by side on this machine: the one command.

    .venv/bin/python bench/run.py [--quick] [--reps N] [--out bench/results/<timestamp>]
                                  [--only blobs,small,images,listing] [--write-docs]

For every repetition and every workload group, both registries are started fresh (empty
storage in a temporary directory, loopback, a free port) with the same Distribution-format
config.yml; the group's workloads then run against each server in turn, in an order that
rotates from one repetition to the next. See docs/benchmarks.md for the workloads and how to
read the results.

Writes into the output directory: results.csv (one row per measurement: workload, server,
rep, metric, value), results.md (the tables), ratios.png (the chart), machine.json and
machine.md, run.json (the command, notes, failures) and logs/ (every server's output).
Exits 1 if any measurement failed.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import machine  # noqa: E402
import report  # noqa: E402
from harness import Context, Group, Sizes  # noqa: E402
from servers import Server, make_server  # noqa: E402
from workloads import blobs, images, listing, small  # noqa: E402

GROUPS: dict[str, Group] = {g.name: g for g in
                            (blobs.GROUP, small.GROUP, images.GROUP, listing.GROUP)}


def rotated(names: tuple[str, ...], rep: int) -> list[str]:
    k = rep % len(names)
    return list(names[k:] + names[:k])


def scan_log(ctx: Context, server: Server) -> None:
    """Count error lines and tracebacks a server wrote; note the first few."""
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return
    lines = text.splitlines()
    # Distribution logs every 4xx answer (e.g. the 404 of a HEAD before a push) at level
    # error: those are expected; its 5xx answers and everything else count.
    bad = [ln for ln in lines
           if any(k in ln for k in ("Traceback", "ERROR", "level=error", "level=fatal",
                                    "panic", "Exception", "CRITICAL"))
           and "http.response.status=4" not in ln]
    if bad:
        ctx.note(f"{server.name} wrote {len(bad)} error/traceback lines to "
                 f"{server.log_path.name} (first: {bad[0][:200]!r})")
    ctx.record(f"log_{server.log_path.stem}", server.name, "error_lines", len(bad))


def run_group(ctx: Context, group: Group) -> None:
    rep = ctx.rep
    print(f"\n[rep {rep}] {group.name}: {group.description}", flush=True)
    servers: dict[str, Server] = {}
    try:
        for name in rotated(group.servers, rep):
            workdir = ctx.tmp_dir / f"{group.name}-rep{rep}-{name}"
            servers[name] = make_server(name, workdir, ctx.out_dir / "logs",
                                        ctx.dockyard_workers).start()
        if group.prepare_server:
            for name in rotated(tuple(n for n in group.servers if n != "ceiling"), rep):
                t0 = time.perf_counter()
                group.prepare_server(ctx, servers[name])
                print(f"  prepared {name} in {time.perf_counter() - t0:.1f}s", flush=True)
        for step in group.steps:
            for name in rotated(step.servers, rep):
                if step.sync_first:
                    os.sync()
                server = servers[name]
                ctx.measure(step.workload, server, functools.partial(step.run, ctx, server))
    except Exception as e:  # noqa: BLE001 - a group that cannot start is a failure, not a crash
        message = f"rep {rep} group {group.name}: {type(e).__name__}: {e}"
        ctx.failures.append(message)
        print(f"  ! {message}", flush=True)
    finally:
        for server in servers.values():
            server.stop()
            scan_log(ctx, server)
            server.remove_storage()
        if group.teardown:
            group.teardown(ctx)


def write_csv(ctx: Context) -> None:
    with open(ctx.out_dir / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "server", "rep", "metric", "value"])
        for row in ctx.rows:
            w.writerow([row.workload, row.server, row.rep, row.metric, f"{row.value:.6g}"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark Dockyard against Distribution (docker-registry) on loopback.")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 rep, 64 MiB blob, 2 s load runs, 20 images, "
                             "500 repositories/tags")
    parser.add_argument("--reps", type=int, help="repetitions (default 3; 1 with --quick)")
    parser.add_argument("--out", type=Path, help="output directory "
                        "(default bench/results/<timestamp>)")
    parser.add_argument("--only", help="comma-separated groups to run: "
                        + ",".join(GROUPS))
    parser.add_argument("--dockyard-workers", type=int, default=1,
                        help="passed to `dockyard serve --workers` (and the ceiling server)")
    parser.add_argument("--tmp", type=Path, help="where storage and blobs go "
                        "(default: a new directory under $TMPDIR)")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the results into docs/benchmarks.md")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    sizes = Sizes.quick() if args.quick else Sizes()
    reps = args.reps or (1 if args.quick else 3)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = (args.out or BENCH_DIR / "results" / stamp).resolve()
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    groups = [GROUPS[g.strip()] for g in args.only.split(",")] if args.only \
        else list(GROUPS.values())
    for tool in ("curl", "wrk", "ab", "docker-registry"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install -y curl wrk apache2-utils "
                             "docker-registry")
    if args.tmp:
        args.tmp.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix="dockyard-bench-", dir=args.tmp))
    ctx = Context(sizes=sizes, out_dir=out_dir, tmp_dir=tmp_dir,
                  dockyard_workers=args.dockyard_workers)
    command = " ".join([".venv/bin/python", "bench/run.py", *sys.argv[1:]])
    started = datetime.now().isoformat(timespec="seconds")
    info = machine.describe(tmp_dir)
    print(f"Dockyard {info['dockyard_version']} vs {info['distribution_version']}; "
          f"{reps} rep(s){' QUICK' if args.quick else ''}; results in {out_dir}; "
          f"scratch in {tmp_dir}; load average {info['load_average_at_start']}", flush=True)
    t_run = time.perf_counter()

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so that every server started is stopped on the way out

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        for group in groups:
            if group.prepare_run:
                print(f"\n[prepare] {group.name}", flush=True)
                group.prepare_run(ctx)
        for rep in range(reps):
            ctx.rep = rep
            for group in groups:
                run_group(ctx, group)
            write_csv(ctx)
    except KeyboardInterrupt:
        ctx.failures.append("interrupted")
        print("\ninterrupted: reporting what was measured", flush=True)
    finally:
        if not args.keep_tmp:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    info["load_average_at_end"] = machine.load_average()
    machine.write(out_dir, info)
    write_csv(ctx)
    meta = {
        "command": command, "started": started, "quick": args.quick, "reps": reps,
        "duration_s": round(time.perf_counter() - t_run, 1),
        "sizes": sizes.__dict__, "groups": [g.name for g in groups],
        "dockyard_workers": args.dockyard_workers,
        "notes": ctx.notes, "failures": ctx.failures,
        "noisy": "QUICK smoke test: numbers are not results." if args.quick else "",
    }
    (out_dir / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    text = report.build(out_dir, docs=args.write_docs)
    print("\n" + text)
    print(f"results: {out_dir} ({meta['duration_s']} s)")
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
