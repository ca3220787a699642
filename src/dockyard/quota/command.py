"""``dockyard quota``: usage per namespace against its limit, and the reconciliation check."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # The CLI starts fast: SQLAlchemy is imported only when the command runs.
    from dockyard.quota.report import Reconciliation

HEADER = ("NAMESPACE", "USED", "LIMIT", "PERCENT", "BLOBS")


def register(app: typer.Typer) -> None:
    """Add the ``quota`` command to the ``dockyard`` CLI."""
    app.command("quota")(quota)


def quota(
    config: Annotated[Path | None, typer.Argument(help="config.yml of the registry")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n",
                                                  help="only this namespace")] = None,
    check: Annotated[bool, typer.Option(
        "--reconcile", "--check", help="recount usage from scratch, compare with the running "
        "figures, exit 1 on any difference")] = False,
    fix: Annotated[bool, typer.Option(
        "--fix", help="with --reconcile: rewrite the running figures from the recount")]
    = False,
) -> None:
    """Storage used per namespace (distinct blobs) against its quota."""
    from dockyard.cli import _load
    from dockyard.metadata.store import MetadataStore
    from dockyard.quota.report import reconcile, snapshot_engine, usage_rows

    loaded = _load(config)
    store = MetadataStore(loaded.metadata_url, migrate=True)
    try:
        if check or fix:
            engine = store.write_engine if fix else snapshot_engine(loaded.metadata_url)
            try:
                result = reconcile(engine, fix)
            finally:
                engine.dispose()
            raise typer.Exit(_report_reconciliation(result, as_json))
        rows = usage_rows(store.write_engine, loaded.dockyard.quotas.limits(), namespace)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([row.as_json() for row in rows], indent=2))
        return
    table = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)
                             ).rstrip())


def _report_reconciliation(result: "Reconciliation", as_json: bool) -> int:
    if as_json:
        typer.echo(json.dumps({
            "clean": result.clean, "namespaces": result.namespaces, "fixed": result.fixed,
            "blob_rows_differing": result.blob_rows_differing,
            "differences": [{"namespace": d.namespace,
                             "running": {"bytes": d.running.bytes, "blobs": d.running.blobs},
                             "recomputed": {"bytes": d.recomputed.bytes,
                                            "blobs": d.recomputed.blobs}}
                            for d in result.differences]}, indent=2))
    else:
        for difference in result.differences:
            typer.echo(difference.describe())
        if result.blob_rows_differing:
            typer.echo(f"{result.blob_rows_differing} (namespace, blob) rows differ")
        typer.echo(f"{result.namespaces} namespaces recounted: " + (
            "running figures equal the recount" if result.clean else
            "rewritten from the recount" if result.fixed else "DIFFERENCES (--fix rewrites)"))
    return 0 if result.clean else 1
