"""The simple client verbs: login, logout, repos, tags (and, from ``cli_images``, manifest,
inspect, rm, tag).

``register(app)`` adds them to the ``dockyard`` command. The client library is imported only
inside the verbs, so ``dockyard serve`` never loads it.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dockyard.client.cli_images import inspect, manifest, rm, tag
from dockyard.client.cli_support import (
    AuthFile,
    CaFile,
    Creds,
    Insecure,
    JsonFlag,
    Password,
    TlsVerify,
    Username,
    client_options,
    parsed,
    print_json,
    run,
)


def register(app: typer.Typer) -> None:
    """Add the verbs to ``app``."""
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("repos")(repos)
    app.command("tags")(tags)
    app.command("manifest")(manifest)
    app.command("inspect")(inspect)
    app.command("rm")(rm)
    app.command("tag")(tag)


def login(
    host: Annotated[str, typer.Argument(help="registry, e.g. localhost:5000")],
    username: Username = None, password: Password = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="read the password from stdin")] = False,
    authfile: AuthFile = None, insecure: Insecure = False, tls_verify: TlsVerify = None,
    ca_file: CaFile = None, json_out: JsonFlag = False,
) -> None:
    """Check credentials against HOST and save them (~/.config/dockyard/auth.json, 0600)."""
    from dockyard.client.credentials import Credentials, store
    from dockyard.client.registry import RegistryClient

    username = username or typer.prompt("Username")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    password = password if password is not None else typer.prompt("Password", hide_input=True)
    options = client_options(insecure, tls_verify, ca_file, username, password)

    async def work() -> None:
        async with RegistryClient(host, options=options) as client:
            await client.ping()

    run("login", host, work)
    path = store(host, Credentials(username, password), authfile)
    if json_out:
        print_json({"registry": host, "username": username, "authFile": str(path)})
    else:
        typer.echo(f"Login succeeded: {username}@{host} (saved in {path})")


def logout(host: Annotated[str, typer.Argument(help="registry, e.g. localhost:5000")],
           authfile: AuthFile = None, json_out: JsonFlag = False) -> None:
    """Forget the credentials saved for HOST by `dockyard login`."""
    from dockyard.client.credentials import dockyard_auth_file, remove

    removed = remove(host, authfile)
    path = authfile or str(dockyard_auth_file())
    if json_out:
        print_json({"registry": host, "removed": removed, "authFile": path})
    if not removed:
        typer.echo(f"logout {host}: not logged in (no entry in {path})", err=True)
        raise typer.Exit(1)
    if not json_out:
        typer.echo(f"Removed credentials for {host} from {path}")


def repos(
    host: Annotated[str, typer.Argument(help="registry, e.g. localhost:5000")],
    page_size: Annotated[int, typer.Option("--page-size", "-n", min=1,
                                           help="entries per catalog request")] = 1000,
    json_out: JsonFlag = False, insecure: Insecure = False, tls_verify: TlsVerify = None,
    ca_file: CaFile = None, username: Username = None, password: Password = None,
    creds: Creds = None, authfile: AuthFile = None,
) -> None:
    """List the repositories of HOST (the catalog, every page)."""
    from dockyard.client.registry import RegistryClient
    from dockyard.client.render import names

    options = client_options(insecure, tls_verify, ca_file, username, password, creds, authfile)

    async def work() -> list[str]:
        async with RegistryClient(host, options=options) as client:
            return [name async for name in client.catalog(page_size)]

    found = sorted(run("repos", host, work))
    if json_out:
        print_json(found)
    else:
        names(f"{host}: repositories: {len(found)}", "repository", found)


def tags(
    repository: Annotated[str, typer.Argument(help="HOST/REPO")],
    semver: Annotated[bool, typer.Option("--semver", help="sort by version")] = False,
    pattern: Annotated[str | None, typer.Option("--filter", metavar="REGEX",
                                                help="keep tags matching REGEX")] = None,
    version_range: Annotated[str | None, typer.Option(
        "--semver-range", metavar="SPEC", help="keep versions in SPEC, e.g. '>=1.2,<2'")]
    = None,
    page_size: Annotated[int, typer.Option("--page-size", "-n", min=1,
                                           help="tags per request")] = 1000,
    json_out: JsonFlag = False, insecure: Insecure = False, tls_verify: TlsVerify = None,
    ca_file: CaFile = None, username: Username = None, password: Password = None,
    creds: Creds = None, authfile: AuthFile = None,
) -> None:
    """List the tags of HOST/REPO (every page), sorted; optionally by version and filtered."""
    from dockyard.client.reference import parse_repository
    from dockyard.client.registry import RegistryClient
    from dockyard.client.render import names
    from dockyard.client.tagsort import compile_filter, compile_range, select_tags

    ref = parsed(parse_repository, repository, "tags")
    if pattern is not None:
        parsed(compile_filter, pattern, "tags")
    if version_range is not None:
        parsed(compile_range, version_range, "tags")
    options = client_options(insecure, tls_verify, ca_file, username, password, creds, authfile)

    async def work() -> list[str]:
        async with RegistryClient(ref.registry, options=options) as client:
            return [t async for t in client.tags(ref.repository, page_size)]

    found = select_tags(run("tags", str(ref), work), semver=semver, pattern=pattern,
                        version_range=version_range)
    if json_out:
        print_json({"name": str(ref), "tags": found})
    else:
        names(f"{ref}: tags: {len(found)}", "tag", found)

