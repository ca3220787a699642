"""The ``dockyard`` command: the registry:2 verbs (``serve``) and Dockyard's own."""

from pathlib import Path
from typing import Annotated

import typer
import yaml

from dockyard.config import ConfigError, load_config

app = typer.Typer(help="Dockyard, a self-hosted container image registry.",
                  no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
config_app = typer.Typer(help="Inspect configuration files.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.command()
def serve(
    config: Annotated[Path | None, typer.Argument(help="config.yml in Distribution's format")]
    = None,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Serve the registry (default: port 5000, data under ./data)."""
    from dockyard.server import serve as run

    run(_load(config), workers=workers)


@config_app.command("check")
def config_check(config: Annotated[Path, typer.Argument(help="config.yml to validate")]) -> None:
    """Validate a configuration and print the effective result, secrets masked."""
    loaded = _load(config)
    for key in loaded.unsupported_keys:
        typer.echo(f"warning: unsupported config key: {key}", err=True)
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
