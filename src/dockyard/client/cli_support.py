"""What every client verb shares: connection flags, running a coroutine, one-line errors.

Errors are one line naming the verb, the image (which names the registry) and the reason,
exit code 1; bad arguments exit 2, as typer does for usage errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from dockyard.client.errors import ClientError
from dockyard.client.options import ClientOptions

T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="JSON on stdout, for scripts")]
Insecure = Annotated[bool, typer.Option(
    "--insecure", help="allow plain HTTP and unverified TLS (as --tls-verify=false)")]
TlsVerify = Annotated[str | None, typer.Option(
    "--tls-verify", metavar="BOOL", help="--tls-verify=false: as --insecure (skopeo's flag)")]
CaFile = Annotated[str | None, typer.Option("--ca-file", help="CA bundle to verify TLS with")]
Username = Annotated[str | None, typer.Option("--username", "-u", help="registry user")]
Password = Annotated[str | None, typer.Option("--password", "-p", help="registry password")]
Creds = Annotated[str | None, typer.Option("--creds", metavar="USER:PASS",
                                           help="credentials as user:password")]
AuthFile = Annotated[str | None, typer.Option(
    "--authfile", help="auth.json to read (default: dockyard's, podman's, docker's)")]


def client_options(insecure: bool = False, tls_verify: str | None = None,
                   ca_file: str | None = None, username: str | None = None,
                   password: str | None = None, creds: str | None = None,
                   authfile: str | None = None) -> ClientOptions:
    """ClientOptions from the common flags (a bad value is a usage error, exit 2)."""
    if tls_verify is not None:
        value = tls_verify.strip().lower()
        if value not in ("true", "false", "1", "0", "yes", "no"):
            usage(f"--tls-verify expects true or false, got {tls_verify!r}")
        insecure = insecure or value in ("false", "0", "no")
    if creds:
        username, sep, password = creds.partition(":")
        if not sep or not username:
            usage("--creds expects USER:PASSWORD")
    if password is not None and not username:
        usage("--password needs --username")
    return ClientOptions(insecure=insecure, ca_file=ca_file, username=username or None,
                         password=password, auth_file=authfile)


def usage(message: str) -> None:
    typer.echo(f"dockyard: {message}", err=True)
    raise typer.Exit(2)


def parsed(parse: Callable[[str], T], text: str, verb: str) -> T:
    """``parse(text)``; a ValueError becomes a one-line usage error (exit 2)."""
    try:
        return parse(text)
    except ValueError as error:
        typer.echo(f"{verb} {text}: {error}", err=True)
        raise typer.Exit(2) from None


def run(verb: str, subject: str, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work()``; a ClientError is printed as ``VERB SUBJECT: reason`` and exits 1."""
    try:
        return asyncio.run(_call(work))
    except ClientError as error:
        typer.echo(f"{verb} {subject}: {error}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo(f"{verb} {subject}: interrupted", err=True)
        raise typer.Exit(130) from None


async def _call(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")
