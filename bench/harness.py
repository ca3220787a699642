"""What every workload shares: the sizes of a run, the results, and one measurement.

A workload *group* (``workloads/*.py``) is started fresh for each repetition: both
registries (and, for blob pushes, the ceiling server) are started on empty storage, the
group prepares what it needs (untimed), and then each of its *steps* is measured against
each server in turn, in an order that rotates from one repetition to the next. A
measurement samples the server's process tree (peak RSS every 50 ms, CPU seconds) and the
whole machine's busy CPU time, which shows when other work on the machine overlapped it.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from servers import Server

MiB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    """The knobs of a run; ``quick()`` is the smoke-test variant."""

    blob_bytes: int = 1024 * MiB
    chunk_bytes: int = 16 * MiB
    pulls: int = 3
    range_reads: int = 100
    range_bytes: int = 4 * MiB
    load_seconds: float = 10.0
    connections: int = 64
    images: int = 200
    image_clients: int = 8
    layer_bytes: int = 10 * 1024
    listing_repositories: int = 10_000
    listing_tags: int = 10_000
    page_size: int = 100
    populate_clients: int = 8
    small_repo_tags: int = 20

    @classmethod
    def quick(cls) -> Sizes:
        return cls(blob_bytes=64 * MiB, pulls=1, load_seconds=2.0, images=20,
                   listing_repositories=500, listing_tags=500)


@dataclass
class Row:
    workload: str
    server: str
    rep: int
    metric: str
    value: float


def _machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot: busy is user, nice,
    system, irq and softirq; steal is time the hypervisor gave to other guests."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


@dataclass
class Context:
    """One run: where things go, what was measured, what went wrong."""

    sizes: Sizes
    out_dir: Path
    tmp_dir: Path
    dockyard_workers: int = 1
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    rep: int = 0
    shared: dict[str, object] = field(default_factory=dict)
    """Inputs made once per run (the random blobs, the images), kept across repetitions."""

    def record(self, workload: str, server: str, metric: str, value: float) -> None:
        self.rows.append(Row(workload, server, self.rep, metric, float(value)))

    def note(self, text: str) -> None:
        print(f"  note: {text}", flush=True)
        self.notes.append(f"rep {self.rep}: {text}")

    def measure(self, workload: str, server: Server,
                fn: Callable[[], dict[str, float]]) -> dict[str, float] | None:
        """Run ``fn`` against ``server`` while sampling it; record what ``fn`` returns plus
        the server's CPU seconds and peak RSS. A failure is recorded, never raised."""
        busy0, steal0 = _machine_cpu_seconds()
        sampler = server.sampler().start()
        t0 = time.perf_counter()
        try:
            metrics = fn()
        except Exception as e:  # noqa: BLE001 - one failed measurement must not end the run
            sampler.stop()
            message = f"rep {self.rep} {workload} on {server.name}: {type(e).__name__}: {e}"
            self.failures.append(message)
            print(f"  ! {message}", flush=True)
            with (self.out_dir / "failures.log").open("a") as log:
                log.write(message + "\n" + traceback.format_exc() + "\n")
            return None
        wall = time.perf_counter() - t0
        usage = sampler.stop()
        busy1, steal1 = _machine_cpu_seconds()
        metrics = {**metrics, **usage, "wall_s": wall, "machine_busy_cpu_s": busy1 - busy0,
                   "machine_steal_cpu_s": steal1 - steal0}
        for metric, value in metrics.items():
            self.record(workload, server.name, metric, value)
        headline = ", ".join(f"{k}={v:,.4g}" for k, v in metrics.items()
                             if k in HEADLINE_METRICS)
        print(f"  {workload:<22} {server.name:<12} {headline}", flush=True)
        if metrics.get("errors"):
            self.note(f"{workload} on {server.name}: {metrics['errors']:.0f} failed requests")
        return metrics


HEADLINE_METRICS = ("MiB_per_s", "req_per_s", "p50_ms", "p99_ms", "images_per_s", "seconds",
                    "pages", "server_cpu_s", "peak_rss_MiB", "errors")


@dataclass
class Step:
    """One measured workload of a group, and the servers it runs against."""

    workload: str
    run: Callable[[Context, Server], dict[str, float]]
    servers: tuple[str, ...] = ("dockyard", "distribution")
    sync_first: bool = False
    """``sync`` before the measurement, so one server's dirty pages are not written back
    during the next server's measurement."""


@dataclass
class Group:
    name: str
    description: str
    steps: list[Step]
    prepare_run: Callable[[Context], None] | None = None
    """Once per run, before any repetition (e.g. write the random blobs)."""
    prepare_server: Callable[[Context, Server], None] | None = None
    """Once per started server, untimed (e.g. populate 10,000 repositories)."""
    teardown: Callable[[Context], None] | None = None
    """After the group's servers are stopped, in each repetition."""
    servers: tuple[str, ...] = ("dockyard", "distribution")
