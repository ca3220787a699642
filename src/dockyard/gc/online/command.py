"""``dockyard gc run`` and ``dockyard gc status``: online collection on demand.

Unlike ``dockyard garbage-collect`` (offline, registry:2's mark-and-sweep) these run while
the registry serves, on the same review queue as the servers' background collectors, and
wait for a collection already running on the storage to finish.
"""

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from dockyard.config import Config
    from dockyard.gc.online.collector import Totals
    from dockyard.metadata.store import MetadataStore

gc_app = typer.Typer(help="Online garbage collection (the registry keeps serving).",
                     no_args_is_help=True)

ConfigArgument = Annotated[Path | None, typer.Argument(help="config.yml of the registry")]


@gc_app.command("run")
def run(
    config: ConfigArgument = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", "-d", help="print what would be deleted; delete and consume nothing")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
    orphans: Annotated[bool, typer.Option(
        "--orphans", help="also walk blobs/ for files no row names (a crash mid-upload)")]
    = False,
) -> None:
    """Collect what the review queue holds and is due, now."""
    from dockyard.gc.online.runner import collect_once
    from dockyard.metadata.store import MetadataStore

    loaded = _load(config)
    if loaded.storage.maintenance.readonly.enabled:
        typer.echo("dockyard gc: the registry is in read-only mode "
                   "(storage.maintenance.readonly); nothing is collected", err=True)
        raise typer.Exit(1)
    # Migrating takes the write lock even when there is nothing to do; a preview must not.
    store = MetadataStore(loaded.metadata_url, migrate=not dry_run)
    try:
        found = _orphans(loaded, store, dry_run) if orphans else []
        say = None if as_json else typer.echo
        totals = collect_once(loaded, store.write_engine, dry_run=dry_run, wait=True, emit=say)
    finally:
        store.close()
    assert totals is not None  # wait=True always gets the lock.
    if as_json:
        typer.echo(json.dumps({**_document(totals), "orphans": found}, indent=2))
        return
    for digest in found:
        typer.echo(f"orphan {digest}")
    if dry_run:
        for repository, digest in totals.manifests:
            typer.echo(f"manifest {repository}@{digest}")
        for repository, digest in totals.links:
            typer.echo(f"link {repository} {digest}")
        for digest, size in totals.blobs:
            typer.echo(f"blob {digest} {size}")
    typer.echo(totals.summary())


@gc_app.command("status")
def status(config: ConfigArgument = None) -> None:
    """How many candidates the review queue holds, per kind, and how many are due."""
    from dockyard.metadata.review_collect import queue_summary
    from dockyard.metadata.store import MetadataStore

    loaded = _load(config)
    store = MetadataStore(loaded.metadata_url, migrate=False)
    try:
        summary = queue_summary(store.write_engine, time.time(),
                                loaded.dockyard.gc.delay.total_seconds())
    finally:
        store.close()
    for kind in ("manifest", "link", "blob", "file"):
        queued, due = summary.get(kind, (0, 0))
        typer.echo(f"{kind}: {queued} queued, {due} due")


def _orphans(config: "Config", store: "MetadataStore", dry_run: bool) -> list[str]:
    from dockyard.gc.online.orphans import TreeNotIndexed, find_orphans
    from dockyard.gc.online.runner import protected_digests

    try:
        return find_orphans(config, store, protected_digests(config), enqueue=not dry_run)
    except TreeNotIndexed as pending:
        typer.echo(f"dockyard gc: repositories of the registry:2 tree are not indexed yet "
                   f"({pending}); run `dockyard import` first, their files would look "
                   "orphaned", err=True)
        raise typer.Exit(1) from None


def _document(totals: "Totals") -> dict[str, Any]:
    return {
        "dry_run": totals.dry_run,
        "manifests": [{"repository": r, "digest": d} for r, d in totals.manifests],
        "links": [{"repository": r, "digest": d} for r, d in totals.links],
        "blobs": [{"digest": d, "size": s} for d, s in totals.blobs],
        "files_removed": [{"digest": d, "size": s} for d, s in totals.files],
        "totals": {"manifests": len(totals.manifests), "links": len(totals.links),
                   "blobs": len(totals.blobs), "bytes": totals.bytes,
                   "files_removed": len(totals.files), "seconds": round(totals.seconds, 3)},
    }


def _load(path: Path | None) -> "Config":
    from dockyard.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as error:
        typer.echo(f"dockyard: {error}", err=True)
        raise typer.Exit(2) from None
