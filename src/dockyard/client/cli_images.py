"""The verbs on one image: manifest, inspect, rm, tag."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

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
    usage,
)

Image = Annotated[str, typer.Argument(help="HOST/REPO:TAG or HOST/REPO@DIGEST")]


def manifest(
    image: Image,
    platform: Annotated[str | None, typer.Option(
        "--platform", metavar="OS/ARCH[/VARIANT]", help="the entry of an index for a platform")]
    = None,
    json_out: JsonFlag = False, insecure: Insecure = False, tls_verify: TlsVerify = None,
    ca_file: CaFile = None, username: Username = None, password: Password = None,
    creds: Creds = None, authfile: AuthFile = None,
) -> None:
    """Print the manifest's exact bytes (verified against its digest)."""
    from dockyard.client.errors import NotFound
    from dockyard.client.platforms import parse_platform, select
    from dockyard.client.reference import parse_image
    from dockyard.client.registry import FetchedManifest, RegistryClient

    ref = parsed(parse_image, image, "manifest")
    if platform is not None:
        parsed(parse_platform, platform, "manifest")
    options = client_options(insecure, tls_verify, ca_file, username, password, creds, authfile)

    async def work() -> FetchedManifest:
        async with RegistryClient(ref.registry, options=options) as client:
            fetched = await client.get_manifest(ref.repository, ref.reference)
            if platform is None or not fetched.is_index:
                return fetched
            entry = select(fetched.json(), platform)
            if entry is None:
                raise NotFound(ref.registry, 404, None, f"no {platform} entry in the index")
            return await client.get_manifest(ref.repository, str(entry["digest"]))

    fetched = run("manifest", str(ref), work)
    if json_out:
        print_json({"name": str(ref), "digest": fetched.digest, "mediaType": fetched.media_type,
                    "size": len(fetched.body), "manifest": fetched.json()})
    else:
        sys.stdout.buffer.write(fetched.body)
        sys.stdout.flush()


def inspect(
    image: Image,
    no_referrers: Annotated[bool, typer.Option("--no-referrers",
                                               help="skip the referrers look-up")] = False,
    json_out: JsonFlag = False, insecure: Insecure = False, tls_verify: TlsVerify = None,
    ca_file: CaFile = None, username: Username = None, password: Password = None,
    creds: Creds = None, authfile: AuthFile = None,
) -> None:
    """Digest, media type, platforms, config, layers and referrers of an image or index."""
    from typing import Any

    from dockyard.client.inspect import inspect_image
    from dockyard.client.reference import parse_image
    from dockyard.client.registry import RegistryClient
    from dockyard.client.render import inspect_view

    ref = parsed(parse_image, image, "inspect")
    options = client_options(insecure, tls_verify, ca_file, username, password, creds, authfile)

    async def work() -> dict[str, Any]:
        async with RegistryClient(ref.registry, options=options) as client:
            return await inspect_image(client, ref, with_referrers=not no_referrers)

    view = run("inspect", str(ref), work)
    if json_out:
        print_json(view)
    else:
        inspect_view(view)


def rm(
    image: Image,
    json_out: JsonFlag = False, insecure: Insecure = False, tls_verify: TlsVerify = None,
    ca_file: CaFile = None, username: Username = None, password: Password = None,
    creds: Creds = None, authfile: AuthFile = None,
) -> None:
    """Delete a tag (OCI tag delete) or, given @DIGEST, the manifest and all its tags."""
    from dockyard.client.errors import ClientError, Unsupported
    from dockyard.client.reference import parse_image
    from dockyard.client.registry import RegistryClient

    ref = parsed(parse_image, image, "rm")
    if ref.tag and ref.digest:
        usage(f"rm {image}: give a tag or a digest, not both")
    options = client_options(insecure, tls_verify, ca_file, username, password, creds, authfile)

    async def work() -> str | None:
        async with RegistryClient(ref.registry, options=options) as client:
            if ref.digest:
                await client.delete_manifest(ref.repository, ref.digest)
                return None
            try:
                await client.delete_tag(ref.repository, ref.reference)
            except Unsupported as error:
                head = await client.head_manifest(ref.repository, ref.reference)
                hint = (f"; `dockyard rm {ref.repository_name}@{head[0]}` deletes the manifest"
                        " and every tag on it") if head else ""
                said = " ".join(p for p in (error.code, error.message) if p)
                # 400 is Distribution 2.8 reading the tag as a digest: no tag deletes at all.
                # 405 may also mean deletes are off (storage.delete.enabled: false).
                why = "does not support deleting a tag" if error.status == 400 else \
                    "refused the tag delete (no tag deletes, or deletes disabled)"
                raise ClientError(f"registry {why} (HTTP {error.status} {said}){hint}") from None
            return ref.reference

    deleted_tag = run("rm", str(ref), work)
    what = "tag" if deleted_tag else "manifest"
    if json_out:
        print_json({"name": str(ref), "deleted": what})
    else:
        typer.echo(f"Deleted {what} {ref}")


def tag(
    source: Annotated[str, typer.Argument(help="HOST/REPO:TAG or HOST/REPO@DIGEST")],
    new_tags: Annotated[list[str], typer.Argument(help="new tags in the same repository")],
    json_out: JsonFlag = False, insecure: Insecure = False, tls_verify: TlsVerify = None,
    ca_file: CaFile = None, username: Username = None, password: Password = None,
    creds: Creds = None, authfile: AuthFile = None,
) -> None:
    """Put SOURCE's manifest, byte for byte, under each NEWTAG (no layer moves)."""
    from dockyard.client.reference import ImageReference, parse_image
    from dockyard.client.registry import RegistryClient

    ref = parsed(parse_image, source, "tag")
    targets: list[ImageReference] = [parsed(ref.with_tag, t, "tag") for t in new_tags]
    options = client_options(insecure, tls_verify, ca_file, username, password, creds, authfile)

    async def work() -> str:
        async with RegistryClient(ref.registry, options=options) as client:
            fetched = await client.get_manifest(ref.repository, ref.reference)
            for target in targets:
                await client.put_manifest(ref.repository, str(target.tag), fetched.body,
                                          fetched.media_type)
            return fetched.digest

    digest = run("tag", str(ref), work)
    if json_out:
        print_json({"source": str(ref), "digest": digest, "tags": [str(t) for t in targets]})
    else:
        for target in targets:
            typer.echo(f"Tagged {target} -> {digest}")
