"""How a run and the run history are shown: text lines for people, JSON for scripts."""

import json
from datetime import UTC, datetime

from dockyard.retention.runner import RunReport
from dockyard.retention.runs import Deletion, RunRecord


def report_json(report: RunReport) -> str:
    """``deleted`` lists exactly the deletions (or, dry, the would-be deletions) in order."""
    judges = _judges(report)
    return json.dumps({
        "run": report.run_id,
        "dry_run": report.dry_run,
        "started_at": _iso(report.started_at),
        "finished_at": _iso(report.finished_at),
        "deleted": [_deletion(d, judges) for d in report.deleted],
        "kept": [{"repository": v.repository, "tag": v.tag, "digest": v.digest,
                  "kept_by": list(v.reasons), "policies": list(v.policies)}
                 for v in report.kept],
        "skipped": report.skipped,
        "counts": _counts(report),
    }, indent=2)


def report_lines(report: RunReport) -> list[str]:
    verb = "would delete" if report.dry_run else "deleted"
    judges = _judges(report)
    lines = []
    for deletion in report.deleted:
        if deletion.tag is not None:
            policies = ", ".join(map(str, judges.get((deletion.repository, deletion.tag), [])))
            lines.append(f"{verb} tag {deletion.repository}:{deletion.tag} {deletion.digest} "
                         f"(judged by policy {policies}; kept by: none)")
        else:
            lines.append(f"{verb} untagged manifest {deletion.repository}@{deletion.digest}")
    for verdict in report.kept:
        lines.append(f"kept {verdict.repository}:{verdict.tag} {verdict.digest} "
                     f"(kept by: {'; '.join(verdict.reasons)})")
    lines += [f"skipped {reason}" for reason in report.skipped]
    counts = _counts(report)
    done = "would be deleted" if report.dry_run else "deleted"
    lines.append(f"retention run {report.run_id}{' (dry run)' if report.dry_run else ''}: "
                 f"{counts['tags_deleted']} tags and {counts['manifests_deleted']} untagged "
                 f"manifests {done}, {counts['tags_kept']} tags kept, "
                 f"{counts['skipped']} skipped")
    return lines


def history_json(records: list[RunRecord]) -> str:
    return json.dumps([{**{k: v for k, v in r.as_json().items() if k != "deleted"},
                        "started_at": _iso(r.started_at), "finished_at": _iso(r.finished_at),
                        "deleted": [_deletion(d) for d in r.deleted]} for r in records],
                      indent=2)


def history_lines(records: list[RunRecord]) -> list[str]:
    if not records:
        return ["no retention runs recorded"]
    lines = []
    for r in records:
        kind = "dry run" if r.dry_run else "run"
        lines.append(f"#{r.id} {_iso(r.started_at)} .. {_iso(r.finished_at) or '-'} {kind} "
                     f"({r.trigger}) {r.status}: {r.tags_deleted} tags deleted, "
                     f"{r.tags_kept} kept, {r.manifests_deleted} untagged manifests deleted"
                     + (f"; error: {r.error}" if r.error else ""))
        for d in r.deleted:
            what = f"{d.repository}:{d.tag} {d.digest}" if d.tag else f"{d.repository}@{d.digest}"
            lines.append(f"    {what}")
    return lines


def _counts(report: RunReport) -> dict[str, int]:
    return {"tags_deleted": sum(1 for d in report.deleted if d.tag is not None),
            "tags_kept": len(report.kept),
            "manifests_deleted": sum(1 for d in report.deleted if d.tag is None),
            "skipped": len(report.skipped)}


def _judges(report: RunReport) -> dict[tuple[str, str], list[int]]:
    """For each judged tag, the policies that judged it (for a deleted tag: found nothing)."""
    return {(v.repository, v.tag): list(v.policies) for v in report.tags}


def _deletion(deletion: Deletion,
              judges: dict[tuple[str, str], list[int]] | None = None) -> dict[str, object]:
    if deletion.tag is None:
        return {"repository": deletion.repository, "digest": deletion.digest,
                "kind": "manifest"}
    found: dict[str, object] = {"repository": deletion.repository, "tag": deletion.tag,
                                "digest": deletion.digest, "kind": "tag", "kept_by": []}
    if judges is not None:
        found["policies"] = judges.get((deletion.repository, deletion.tag), [])
    return found


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="microseconds")
