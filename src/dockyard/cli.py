"""The ``dockyard`` command: the registry:2 verbs (``serve``) and Dockyard's own."""

from pathlib import Path
from typing import Annotated

import typer
import yaml

from dockyard.config import ConfigError, load_config
from dockyard.gc.online.command import gc_app
from dockyard.quota.command import register as register_quota
from dockyard.retention.command import app as retention_app

app = typer.Typer(help="Dockyard, a self-hosted container image registry.",
                  no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
config_app = typer.Typer(help="Inspect configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(retention_app, name="retention")
app.add_typer(gc_app, name="gc")
register_quota(app)
__import__("dockyard.client.cli_basic", fromlist=["register"]).register(app)
__import__("dockyard.client.cli_copy", fromlist=["register"]).register(app)


@app.command()
def serve(
    config: Annotated[Path | None, typer.Argument(help="config.yml in Distribution's format")]
    = None,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Serve the registry (default: port 5000, data under ./data)."""
    from dockyard.server import serve as run

    try:
        run(_load(config), workers=workers)
    except ConfigError as error:
        typer.echo(f"dockyard: {error}", err=True)
        raise typer.Exit(2) from None


@app.command("garbage-collect")
def garbage_collect(
    config: Annotated[Path, typer.Argument(help="config.yml of the registry to collect")],
    dry_run: Annotated[bool, typer.Option("--dry-run", "-d",
                                          help="print what would be deleted, delete nothing")]
    = False,
    delete_untagged: Annotated[bool, typer.Option(
        "--delete-untagged", "-m", help="also delete manifests no tag reaches")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the summary")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="run even though a registry is serving writes on this storage")] = False,
) -> None:
    """Delete blobs (and with -m, untagged manifests) nothing references; as registry:2 does."""
    from dockyard.gc.command import run_garbage_collect

    raise typer.Exit(run_garbage_collect(_load(config), dry_run=dry_run,
                                         delete_untagged=delete_untagged, quiet=quiet,
                                         force=force))


@app.command("scrub")
def scrub_command(
    config: Annotated[Path | None, typer.Argument(help="config.yml of the registry")] = None,
    report_only: Annotated[bool, typer.Option(
        "--report-only", help="report corrupt blobs, move nothing")] = False,
) -> None:
    """Re-hash every blob and manifest; quarantine corrupt ones; exit 1 when any is found."""
    from dockyard.integrity.scrub import scrub

    report = scrub(_load(config), quarantine=not report_only, say=typer.echo)
    if not report.clean:
        raise typer.Exit(1)


@app.command("import")
def import_tree(
    config: Annotated[Path | None, typer.Argument(help="config.yml of the registry")] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="re-read every repository, not only those changed since the last pass")]
    = False,
) -> None:
    """Index an existing registry:2 storage tree into the metadata database (idempotent)."""
    from dockyard.metadata.importer import import_distribution_tree

    summary = import_distribution_tree(_load(config), full=full)
    typer.echo(f"imported {summary.repositories} repositories, {summary.manifests} manifests, "
               f"{summary.tags} tags, {summary.blob_links} blob links")
    for skipped in summary.skipped:
        typer.echo(f"skipped: {skipped}", err=True)
    for failed in summary.failed:
        typer.echo(f"failed: {failed}", err=True)
    if summary.failed:
        raise typer.Exit(1)


@app.command("htpasswd", context_settings={"ignore_unknown_options": True})
def htpasswd(
    user: Annotated[str, typer.Argument(help="user name")],
    password: Annotated[str, typer.Argument(help="password")],
    bcrypt_flag: Annotated[bool, typer.Option("-B", help="bcrypt (the only kind)")] = True,
    batch: Annotated[bool, typer.Option("-b", help="password on the command line")] = True,
    stdout: Annotated[bool, typer.Option("-n", help="print the entry")] = True,
) -> None:
    """Print an htpasswd entry, like `htpasswd -Bbn USER PASSWORD`."""
    from dockyard.auth.htpasswd_command import htpasswd_entry

    try:
        typer.echo(htpasswd_entry(user, password))
    except ValueError as error:
        typer.echo(f"dockyard: {error}", err=True)
        raise typer.Exit(2) from None


@config_app.command("check")
def config_check(config: Annotated[Path, typer.Argument(help="config.yml to validate")]) -> None:
    """Validate a configuration and print the effective result, secrets masked."""
    from dockyard.config_support import unsupported_settings

    loaded = _load(config)
    for line in unsupported_settings(loaded):
        typer.echo(f"warning: unsupported config: {line}", err=True)
    typer.echo(yaml.safe_dump(loaded.masked_dict(), sort_keys=False))


def _load(path: Path | None):  # type: ignore[no-untyped-def]
    try:
        return load_config(path)
    except ConfigError as error:
        typer.echo(f"dockyard: {error}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    """Console-script entry point."""
    app()
