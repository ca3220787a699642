"""Turn results.csv into the tables (markdown), the chart (PNG) and docs/benchmarks.md.

    .venv/bin/python bench/report.py bench/results/<timestamp> [--write-docs]

regenerates ``results.md`` and ``ratios.png`` of an earlier run (``run.py`` calls the same
code at its end); ``--write-docs`` also replaces the results section of
``docs/benchmarks.md`` (between ``<!-- bench:results:begin -->`` and
``<!-- bench:results:end -->``).

Every value is a median over repetitions, with [min–max] when there is more than one.
Ratios are Dockyard ÷ Distribution computed per repetition (both measured in the same
repetition, one right after the other), then summarised the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
DOCS = REPO_DIR / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"

D, R, C = "dockyard", "distribution", "ceiling"


@dataclass(frozen=True)
class Spec:
    """One line of the main table."""

    number: str
    workload: str
    metric: str
    label: str
    unit: str
    higher_is_better: bool
    target: str = ""
    """``x2.0``: Dockyard at least 2.0 times better than Distribution; ``<=10``: Dockyard's
    value at most 10; ``>=20``: Dockyard's value at least 20."""
    chart: bool = True


_C = "c{conn}"
SPECS = [
    Spec("1", "push_monolithic", "MiB_per_s", "push {blob} blob, monolithic PUT", "MiB/s",
         True, "x2.0"),
    Spec("1", "push_chunked", "MiB_per_s", "push {blob} blob, chunked PATCH ({chunk})",
         "MiB/s", True, "x2.0"),
    Spec("2", "pull", "MiB_per_s", "pull {blob} blob ({pulls}× curl)", "MiB/s", True, "x1.3"),
    Spec("2", "pull_range", "MiB_per_s", "{ranges} Range reads of {range}", "MiB/s", True,
         "x1.3"),
]
for _workload, _label in (("head_blob", f"HEAD blob, {_C} (ab)"),
                          ("get_manifest_tag", f"GET manifest by tag, {_C}"),
                          ("get_manifest_digest", f"GET manifest by digest, {_C}"),
                          ("get_tags_list", f"GET tags/list ({{small_tags}} tags), {_C}")):
    SPECS += [Spec("3", _workload, "req_per_s", _label, "req/s", True, "x10"),
              Spec("3", _workload, "p50_ms", _label, "p50 ms", False, "", False),
              Spec("3", _workload, "p99_ms", _label, "p99 ms", False, "<=10", False)]
SPECS += [
    Spec("4", "images_push", "images_per_s", "push {images} small images, {clients} clients",
         "images/s", True, "x2.0"),
    Spec("4", "images_pull", "images_per_s", "pull {images} small images, {clients} clients",
         "images/s", True, "x2.0"),
    Spec("5", "catalog_paging", "seconds", "page {repos} repositories through _catalog, n={n}",
         "s", False, "x20"),
    Spec("5", "tags_paging", "seconds", "page {tags} tags through tags/list, n={n}", "s",
         False, "x20"),
    Spec("6", "mem_push", "peak_rss_MiB", "peak RSS during 1 (push)", "MiB", False, "<=150"),
    Spec("6", "mem_small", "peak_rss_MiB", "peak RSS during 3 (small requests)", "MiB", False),
]

DERIVED = {  # per repetition, the maximum over these workloads
    "mem_push": ("push_monolithic", "push_chunked"),
    "mem_small": ("head_blob", "get_manifest_tag", "get_manifest_digest", "get_tags_list"),
}

WORKLOAD_ORDER = ["push_monolithic", "push_chunked", "pull", "pull_range", "head_blob",
                  "get_manifest_tag", "get_manifest_digest", "get_tags_list", "images_push",
                  "images_pull", "catalog_paging", "tags_paging"]

Data = dict[tuple[str, str, str], dict[int, float]]
"""(workload, server, metric) -> {rep: value}"""


def load(results_dir: Path) -> Data:
    data: Data = defaultdict(dict)
    with open(results_dir / "results.csv") as f:
        for row in csv.DictReader(f):
            data[(row["workload"], row["server"], row["metric"])][int(row["rep"])] = \
                float(row["value"])
    for name, parts in DERIVED.items():
        for server in (D, R):
            for metric in ("peak_rss_MiB", "peak_rss_largest_process_MiB", "server_cpu_s"):
                reps: dict[int, float] = {}
                for part in parts:
                    for rep, value in data.get((part, server, metric), {}).items():
                        reps[rep] = max(reps.get(rep, value), value)
                if reps:
                    data[(name, server, metric)] = reps
    return data


def _size(n: int) -> str:
    mib = n / (1024 * 1024)
    if mib >= 1024 and mib % 1024 == 0:
        return f"{mib / 1024:g} GiB"
    if mib >= 1:
        return f"{mib:g} MiB"
    return f"{n / 1024:g} KiB"


def label(spec: Spec, meta: dict[str, object]) -> str:
    """The spec's label with the sizes of the run (a quick run uses smaller ones)."""
    from harness import Sizes  # bench/ is on sys.path when run.py or report.py runs

    sizes = {**Sizes().__dict__, **(meta.get("sizes") or {})}  # type: ignore[dict-item]
    return spec.label.format(
        blob=_size(sizes["blob_bytes"]), chunk=_size(sizes["chunk_bytes"]),
        pulls=sizes["pulls"], ranges=sizes["range_reads"], range=_size(sizes["range_bytes"]),
        conn=sizes["connections"], small_tags=sizes["small_repo_tags"] + 1,
        images=sizes["images"], clients=sizes["image_clients"],
        repos=f"{sizes['listing_repositories']:,}", tags=f"{sizes['listing_tags']:,}",
        n=sizes["page_size"])


def summary(values: list[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt_num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def fmt(s: tuple[float, float, float] | None, suffix: str = "") -> str:
    if s is None:
        return "–"
    med, lo, hi = s
    if lo == hi:
        return f"{fmt_num(med)}{suffix}"
    return f"{fmt_num(med)}{suffix} [{fmt_num(lo)}–{fmt_num(hi)}]"


def ratios(data: Data, workload: str, metric: str, a: str = D, b: str = R) -> list[float]:
    av = data.get((workload, a, metric), {})
    bv = data.get((workload, b, metric), {})
    return [av[r] / bv[r] for r in sorted(av) if r in bv and bv[r] > 0]


def advantage(spec: Spec, ratio: float) -> float:
    """How many times better Dockyard is (>1: better), whichever way the metric points."""
    if ratio <= 0:
        return 0.0
    return ratio if spec.higher_is_better else 1 / ratio


def target_status(spec: Spec, data: Data) -> str:
    if not spec.target:
        return ""
    if spec.target.startswith("x"):
        want = float(spec.target[1:])
        rs = ratios(data, spec.workload, spec.metric)
        if not rs:
            return f"≥{want:g}× better: –"
        adv = advantage(spec, statistics.median(rs))
        return f"≥{want:g}× better: {'met' if adv >= want else 'missed'}"
    values = list(data.get((spec.workload, D, spec.metric), {}).values())
    if not values:
        return f"{spec.target}: –"
    med = statistics.median(values)
    if spec.target.startswith("<="):
        limit = float(spec.target[2:])
        return f"≤{limit:g} {spec.unit}: {'met' if med <= limit else 'missed'}"
    limit = float(spec.target[2:])
    return f"≥{limit:g} {spec.unit}: {'met' if med >= limit else 'missed'}"


def main_table(data: Data, meta: dict[str, object]) -> str:
    head = ("| # | workload | metric | Dockyard | Distribution | Dockyard ÷ Distribution "
            "| target (median) | server CPU-s, Dockyard / Distribution |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for spec in SPECS:
        dv = summary(list(data.get((spec.workload, D, spec.metric), {}).values()))
        rv = summary(list(data.get((spec.workload, R, spec.metric), {}).values()))
        if dv is None and rv is None:
            continue
        rs = ratios(data, spec.workload, spec.metric)
        ratio = fmt(summary(rs), "×")
        if rs and not spec.higher_is_better:
            adv = advantage(spec, statistics.median(rs))
            word = "faster" if spec.unit == "s" else "lower"
            ratio += f" = {fmt_num(adv)}× {word}" if adv >= 1 else \
                f" = {fmt_num(1 / adv)}× {'slower' if spec.unit == 's' else 'higher'}"
        arrow = "↑" if spec.higher_is_better else "↓"
        cpu = ""
        if spec.metric in ("MiB_per_s", "req_per_s", "images_per_s", "seconds"):
            cd = summary(list(data.get((spec.workload, D, "server_cpu_s"), {}).values()))
            cr = summary(list(data.get((spec.workload, R, "server_cpu_s"), {}).values()))
            cpu = f"{fmt(cd)} / {fmt(cr)}"
        lines.append(f"| {spec.number} | {label(spec, meta)} | {spec.unit} {arrow} | {fmt(dv)} | "
                     f"{fmt(rv)} | {ratio} | {target_status(spec, data)} | {cpu} |")
    return "\n".join(lines) + "\n"


def ceiling_table(data: Data) -> str:
    cv = summary(list(data.get(("push_monolithic", C, "MiB_per_s"), {}).values()))
    if cv is None:
        return ""
    lines = ["| upload | MiB/s ↑ | % of the ceiling (same rep) | target |", "|---|---|---|---|",
             f"| ceiling: bare receive + sha256 + write + fsync under granian "
             f"(`bench/ceiling.py`) | {fmt(cv)} | 100% | |"]
    for workload, label in (("push_monolithic", "monolithic PUT"),
                            ("push_chunked", "chunked PATCH")):
        for server in (D, R):
            sv = summary(list(data.get((workload, server, "MiB_per_s"), {}).values()))
            pct = [100 * r for r in ratios(data, workload, "MiB_per_s", server, C)]
            if workload == "push_chunked":  # the ceiling is measured monolithic only
                pct = [100 * data[(workload, server, "MiB_per_s")][rep] /
                       data[("push_monolithic", C, "MiB_per_s")][rep]
                       for rep in data.get((workload, server, "MiB_per_s"), {})
                       if rep in data.get(("push_monolithic", C, "MiB_per_s"), {})]
            status = ""
            if server == D:
                met = pct and statistics.median(pct) >= 75
                status = f"≥75%: {'met' if met else 'missed'}" if pct else ""
            name = "Dockyard" if server == D else "Distribution"
            lines.append(f"| {name}, {label} | {fmt(sv)} | {fmt(summary(pct), '%')} "
                         f"| {status} |")
    return "\n".join(lines) + "\n"


def detail_table(data: Data) -> str:
    """Where the CPU went, and errors, for every workload and server."""
    lines = ["| workload | server | wall s | server CPU-s | client CPU-s | other CPU-s "
             "| steal CPU-s | peak RSS MiB (largest process) | errors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for workload in WORKLOAD_ORDER:
        for server in (D, R, C):
            if not data.get((workload, server, "wall_s")):
                continue

            def s(metric: str, w: str = workload, sv: str = server) -> str:
                return fmt(summary(list(data.get((w, sv, metric), {}).values())))

            other = []
            busy = data.get((workload, server, "machine_busy_cpu_s"), {})
            for rep, b in busy.items():
                used = data.get((workload, server, "server_cpu_s"), {}).get(rep, 0.0) + \
                    data.get((workload, server, "client_cpu_s"), {}).get(rep, 0.0)
                other.append(max(0.0, b - used))  # clock ticks: never below 0
            errors = sum(data.get((workload, server, "errors"), {}).values())
            lines.append(f"| {workload} | {server} | {s('wall_s')} | {s('server_cpu_s')} | "
                         f"{s('client_cpu_s')} | {fmt(summary(other))} | "
                         f"{s('machine_steal_cpu_s')} | {s('peak_rss_MiB')} "
                         f"({s('peak_rss_largest_process_MiB')}) | {errors:.0f} |")
    return "\n".join(lines) + "\n"


def populate_table(data: Data) -> str:
    rows = []
    for server in (D, R):
        v = summary(list(data.get(("listing_populate", server, "seconds"), {}).values()))
        n = summary(list(data.get(("listing_populate", server, "items"), {}).values()))
        if v:
            rows.append(f"| {server} | {fmt(n)} | {fmt(v)} |")
    if not rows:
        return ""
    return "\n".join(["| server | repositories + tags put | seconds (not in the table) |",
                      "|---|---|---|", *rows]) + "\n"


def markdown(results_dir: Path, data: Data, meta: dict[str, object]) -> str:
    machine = (results_dir / "machine.md").read_text() if (results_dir / "machine.md").exists() \
        else ""
    reps = sorted({rep for values in data.values() for rep in values})
    quick = ", QUICK sizes (smoke test: small blob, short load runs; not comparable)" \
        if meta.get("quick") else ""
    parts = [
        f"Run `{meta.get('command', '')}` on {meta.get('started', '?')}: {len(reps)} "
        f"repetition{'s' if len(reps) != 1 else ''}"
        f"{quick}."
        " Medians with [min–max] over repetitions. ↑ higher is better, ↓ lower is better."
        " Dockyard ÷ Distribution is computed per repetition; for ↓ metrics a ratio below 1"
        " means Dockyard is better.\n",
    ]
    if meta.get("noisy"):
        parts.append(f"**{meta['noisy']}**\n")
    parts += [main_table(data, meta), "\nUpload against the ceiling:\n", ceiling_table(data),
              "\nWhere the CPU went. Other CPU-s = the whole machine's busy CPU minus the "
              "server's and the client's during the measurement: other work on the machine "
              "(and the harness itself, a little). Steal = CPU the hypervisor gave to other "
              "guests. Either one well above 0 means the measurement was disturbed.\n",
              detail_table(data)]
    for workload in ("catalog_paging", "tags_paging"):
        pages = {srv: summary(list(data.get((workload, srv, "pages"), {}).values()))
                 for srv in (D, R)}
        pd, pr = pages[D], pages[R]
        if pd is not None and pr is not None and pd[0] != pr[0]:
            parts.append(f"\n{workload}: Dockyard answered in {pd[0]:.0f} pages, "
                         f"Distribution in {pr[0]:.0f} (Distribution 2.8 ignores `n` on "
                         "tags/list and sends every tag at once).\n")
    pop = populate_table(data)
    if pop:
        parts += ["\nPopulating the listing registries (untimed):\n", pop]
    failures = list(meta.get("failures") or [])  # type: ignore[call-overload]
    notes = list(meta.get("notes") or [])  # type: ignore[call-overload]
    if failures:
        parts.append("\nFailed measurements:\n\n" + "\n".join(f"- {f}" for f in failures)
                     + "\n")
    if notes:
        parts.append("\nNotes from the run:\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    parts += ["\nMachine:\n\n", machine]
    return "\n".join(parts)


def chart(results_dir: Path, data: Data, meta: dict[str, object]) -> Path | None:
    """Bars of Dockyard's advantage over Distribution per workload (log scale)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib is not installed: no chart; pip install matplotlib)")
        return None
    labels, meds, los, his, targets = [], [], [], [], []
    for spec in SPECS:
        rs = ratios(data, spec.workload, spec.metric)
        if not spec.chart or not rs:
            continue
        adv = sorted(advantage(spec, r) for r in rs)
        labels.append(f"{label(spec, meta)} ({spec.unit} {'↑' if spec.higher_is_better else '↓'})")
        med = statistics.median(adv)
        meds.append(med)
        los.append(med - adv[0])
        his.append(adv[-1] - med)
        targets.append(float(spec.target[1:]) if spec.target.startswith("x") else None)
    if not meds:
        return None
    n = len(meds)
    fig, ax = plt.subplots(figsize=(10, 0.42 * n + 1.8))
    ys = list(range(n))[::-1]  # first spec at the top
    colors = ["#2a7ab9" if m >= 1 else "#c0392b" for m in meds]
    ax.barh(ys, [m - 1 for m in meds], left=1, color=colors, xerr=[los, his], capsize=3,
            height=0.7)
    for y, t in zip(ys, targets, strict=True):
        if t:
            ax.plot([t, t], [y - 0.4, y + 0.4], color="black", linestyle="--", linewidth=1.2)
    for y, m in zip(ys, meds, strict=True):
        ax.annotate(f"{m:.2g}×", (m, y), ha="left" if m >= 1 else "right", va="center",
                    fontsize=8, xytext=(4 if m >= 1 else -4, 0), textcoords="offset points")
    ax.axvline(1.0, color="grey", linewidth=1)
    ax.set_xscale("log")
    lo_x = min([*meds, *(t for t in targets if t)]) / 2
    hi_x = max([*meds, *(t for t in targets if t)]) * 2
    ax.set_xlim(min(lo_x, 0.5), max(hi_x, 2))
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("Dockyard's advantage over Distribution (×, log scale; right of 1 = Dockyard "
                  "better)")
    title = ("Dockyard vs Distribution 2.8 on the same machine in the same run\n"
             "median of per-repetition ratios, whiskers [min–max]; dashed line = target")
    if meta.get("quick"):
        title += "\nQUICK smoke-test sizes on a shared machine: not a result"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = results_dir / "ratios.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_docs(text: str, results_dir: Path) -> None:
    doc = DOCS.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOCS} has no {BEGIN} … {END} section")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    rel = results_dir.resolve()
    with contextlib.suppress(ValueError):
        rel = rel.relative_to(REPO_DIR)
    block = (f"{BEGIN}\n<!-- written by bench/run.py from {rel} -->\n\n{text}\n"
             f"The chart of this run is `{rel}/ratios.png`.\n\n{END}")
    DOCS.write_text(head + block + tail)


def build(results_dir: Path, docs: bool = False) -> str:
    data = load(results_dir)
    meta_path = results_dir / "run.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    text = markdown(results_dir, data, meta)
    (results_dir / "results.md").write_text(text)
    chart(results_dir, data, meta)
    if docs:
        write_docs(text, results_dir)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild the report of a benchmark run.")
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("--write-docs", action="store_true",
                        help="replace the results section of docs/benchmarks.md")
    args = parser.parse_args()
    print(build(args.results_dir, args.write_docs))


if __name__ == "__main__":
    main()
