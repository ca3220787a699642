"""``dockyard copy`` and ``dockyard sync``: the command-line side of ``client.transfer``.

Flags follow skopeo where it has them (``--src-tls-verify=false``, ``--src-creds``,
``--authfile``, ``--all``/``--platform``), so scripts move over with few changes. Failures
print one line naming the images and the reason, and exit 1 (2 for usage errors).
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from dockyard.client.options import ClientOptions

Json = Annotated[bool, typer.Option("--json", help="print the summary as JSON")]
Insecure = Annotated[bool, typer.Option(
    "--insecure", help="both sides: TLS without verification, then plain HTTP")]
SrcVerify = Annotated[str, typer.Option(
    "--src-tls-verify", help="false: like --insecure for the source only")]
DestVerify = Annotated[str, typer.Option(
    "--dest-tls-verify", help="false: like --insecure for the destination only")]
SrcCreds = Annotated[str | None, typer.Option("--src-creds", help="USER:PASSWORD for the source")]
DestCreds = Annotated[str | None, typer.Option(
    "--dest-creds", help="USER:PASSWORD for the destination")]
AuthFile = Annotated[str | None, typer.Option("--authfile", help="auth.json / config.json")]
CaFile = Annotated[str | None, typer.Option("--ca-file", help="CA bundle for both sides")]
Jobs = Annotated[int, typer.Option("--jobs", "-j", min=1, help="blobs transferred at once")]
PlatformOpt = Annotated[str | None, typer.Option(
    "--platform", help="os/arch or os/arch/variant: copy only this image of an index")]
AllOpt = Annotated[bool, typer.Option(
    "--all/--no-all", help="every platform of an index (the default unless --platform); "
    "--no-all: only this machine's platform")]


def register(app: typer.Typer) -> None:
    """Add ``copy`` and ``sync`` to the ``dockyard`` command."""
    app.command("copy")(copy_command)
    app.command("sync")(sync_command)


def copy_command(
    source: Annotated[str, typer.Argument(help="docker://HOST/REPO:TAG, oci:DIR:TAG, "
                                                "docker-archive:FILE:NAME:TAG (tags optional)")],
    destination: Annotated[str, typer.Argument(help="same transports as SOURCE")],
    tag: Annotated[list[str] | None, typer.Option("--tag", help="extra destination tag")]
    = None,
    mount_from: Annotated[list[str] | None, typer.Option(
        "--mount-from", help="destination-registry repository that may hold the blobs")]
    = None,
    platform: PlatformOpt = None, all_platforms: AllOpt = True, jobs: Jobs = 4,
    json_out: Json = False, insecure: Insecure = False, src_tls_verify: SrcVerify = "true",
    dest_tls_verify: DestVerify = "true", src_creds: SrcCreds = None,
    dest_creds: DestCreds = None, authfile: AuthFile = None, ca_file: CaFile = None,
) -> None:
    """Copy an image or a whole index; blobs stream from source to destination."""
    from dockyard.client.transfer.copy import CopyOptions, copy_image
    from dockyard.client.transfer.endpoints import open_destination, open_source

    label = f"copy {source} to {destination}"
    src_opts = _options(label, insecure, src_tls_verify, src_creds, authfile, ca_file)
    dst_opts = _options(label, insecure, dest_tls_verify, dest_creds, authfile, ca_file)
    options = CopyOptions(platform=_platform(label, platform, all_platforms), jobs=jobs,
                          extra_tags=tag or [], mount_from=mount_from or [])

    async def run() -> Any:
        src = open_source(source, src_opts)
        dst = open_destination(destination, dst_opts)
        try:
            with _progress(json_out) as progress:
                return await copy_image(src, dst, options, progress)
        finally:
            await dst.aclose()
            await src.aclose()

    result = _run(label, run)
    if json_out:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    elif result.up_to_date:
        typer.echo(f"{destination} is up to date ({result.digest})")
    else:
        typer.echo(f"copied {result.digest} to {destination}; {result.stats.line()}")


def sync_command(
    source_host: Annotated[str, typer.Argument(help="source registry HOST[:PORT]")],
    destination_host: Annotated[str, typer.Argument(help="destination registry HOST[:PORT]")],
    repo: Annotated[list[str] | None, typer.Option("--repo", help="repository (all tags)")]
    = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="images.yaml")] = None,
    platform: PlatformOpt = None, all_platforms: AllOpt = True, jobs: Jobs = 4,
    json_out: Json = False, insecure: Insecure = False, src_tls_verify: SrcVerify = "true",
    dest_tls_verify: DestVerify = "true", src_creds: SrcCreds = None,
    dest_creds: DestCreds = None, authfile: AuthFile = None, ca_file: CaFile = None,
) -> None:
    """Copy the selected tags of repositories; a second run moves nothing."""
    from dockyard.client.transfer.copy import CopyOptions
    from dockyard.client.transfer.sync import sync
    from dockyard.client.transfer.sync_config import from_repositories, load_sync_file

    source_host, destination_host = (h.removeprefix("docker://").rstrip("/")
                                     for h in (source_host, destination_host))
    label = f"sync {source_host} to {destination_host}"
    if bool(repo) == bool(file):
        _usage(label, "give either --repo (one or more) or --file")
    try:
        plan = load_sync_file(file) if file else from_repositories(repo or [])
    except ValueError as error:
        _usage(label, str(error))
    src_opts = _options(label, insecure, src_tls_verify, src_creds, authfile, ca_file)
    dst_opts = _options(label, insecure, dest_tls_verify, dest_creds, authfile, ca_file)
    options = CopyOptions(platform=_platform(label, platform, all_platforms), jobs=jobs)

    async def run() -> Any:
        with _progress(json_out) as progress:
            return await sync(source_host, destination_host, plan, source_options=src_opts,
                              destination_options=dst_opts, copy_options=options,
                              progress=progress)

    summary = _run(label, run)
    if json_out:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        for line in summary.failed:
            typer.echo(f"failed: {line}", err=True)
        typer.echo(summary.line())
    if summary.failed:
        raise typer.Exit(1)


def _options(label: str, insecure: bool, tls_verify: str, creds: str | None,
             authfile: str | None, ca_file: str | None) -> ClientOptions:
    verify = tls_verify.strip().lower()
    if verify not in ("true", "false", "1", "0", "yes", "no"):
        _usage(label, f"--*-tls-verify takes true or false, not {tls_verify!r}")
    username = password = None
    if creds is not None:
        username, sep, password = creds.partition(":")
        if not sep or not username:
            _usage(label, "credentials must be USER:PASSWORD")
    return ClientOptions(insecure=insecure or verify in ("false", "0", "no"), ca_file=ca_file,
                         username=username, password=password, auth_file=authfile)


def _platform(label: str, text: str | None, all_platforms: bool) -> Any:
    from dockyard.client.transfer.model import Platform

    if text is None:
        return None if all_platforms else Platform.host()
    try:
        return Platform.parse(text)
    except ValueError as error:
        _usage(label, str(error))


def _progress(json_out: bool) -> Any:
    from dockyard.client.transfer.progress import PlainLines, RichBars, Silent

    if json_out:
        return nullcontext(Silent())
    if sys.stdout.isatty():
        return RichBars()
    return nullcontext(PlainLines())


def _run(label: str, factory: Any) -> Any:
    from dockyard.client.errors import ClientError
    from dockyard.client.transfer.model import TransferError

    try:
        return asyncio.run(factory())
    except (TransferError, ClientError, OSError, ValueError) as error:
        typer.echo(f"{label}: {error}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo(f"{label}: interrupted; run it again to resume", err=True)
        raise typer.Exit(130) from None


def _usage(label: str, message: str) -> Any:
    typer.echo(f"{label}: {message}", err=True)
    raise typer.Exit(2)
