"""``dockyard retention run|history``: apply the policies of a config.yml, list past runs.

A run from the command line writes the database directly, bypassing the serving process's
metadata cache, so after each committed repository it bumps the change marker
(:mod:`dockyard.metadata.generation`) and the server's cache forgets what it held.
"""

from pathlib import Path
from typing import Annotated

import typer

from dockyard.config import Config

app = typer.Typer(help="Retention policies: delete tags and untagged manifests nobody needs.",
                  no_args_is_help=True)
ConfigArgument = Annotated[Path | None, typer.Argument(help="config.yml of the registry")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


@app.command("run")
def run_command(config: ConfigArgument = None,
                dry_run: Annotated[bool, typer.Option(
                    "--dry-run", help="list what would be deleted, delete nothing")] = False,
                as_json: JsonOption = False) -> None:
    """Evaluate every policy now; delete what no keep rule keeps (unless --dry-run)."""
    from dockyard.core.immutability import ImmutableTagRule
    from dockyard.metadata.generation import change_marker
    from dockyard.metadata.store import MetadataStore
    from dockyard.retention.report import report_json, report_lines
    from dockyard.retention.runner import RetentionBusy, RunTarget, run_retention

    loaded = _load(config)
    settings = loaded.dockyard.retention
    if not settings.configured:
        typer.echo("dockyard retention: no policies under dockyard.retention in the "
                   "configuration; nothing to do", err=True)
    store = MetadataStore(loaded.metadata_url, migrate=True)
    try:
        rules = tuple(ImmutableTagRule(r.repositories, r.tags)
                      for r in loaded.dockyard.immutability)
        target = RunTarget(store.write_engine, store, loaded.root_directory,
                           change_marker(loaded.root_directory))
        try:
            report = run_retention(settings, rules, target, dry_run=dry_run, trigger="cli")
        except RetentionBusy as busy:
            typer.echo(f"dockyard retention: {busy}; try again when it has finished", err=True)
            raise typer.Exit(1) from None
    finally:
        store.close()
    if as_json:
        typer.echo(report_json(report))
    else:
        for line in report_lines(report):
            typer.echo(line)


@app.command("history")
def history_command(config: ConfigArgument = None, as_json: JsonOption = False,
                    limit: Annotated[int, typer.Option(help="how many runs, newest first")]
                    = 20) -> None:
    """List recorded retention runs (dry and real), newest first, with what each deleted."""
    from dockyard.metadata.store import MetadataStore
    from dockyard.retention.report import history_json, history_lines
    from dockyard.retention.runs import list_runs

    loaded = _load(config)
    store = MetadataStore(loaded.metadata_url, migrate=True)
    try:
        records = list_runs(store.write_engine, limit)
    finally:
        store.close()
    if as_json:
        typer.echo(history_json(records))
    else:
        for line in history_lines(records):
            typer.echo(line)


def _load(path: Path | None) -> Config:
    from dockyard.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as error:
        typer.echo(f"dockyard: {error}", err=True)
        raise typer.Exit(2) from None
