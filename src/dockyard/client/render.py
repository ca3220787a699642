"""Rich tables for people (``--json`` is for scripts)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _columns(table: Table, *names: str) -> None:
    """Digests are never cut (folded onto a second line when narrow); media types may be."""
    for name in names:
        if name == "digest":
            table.add_column(name, overflow="fold", min_width=20)
        elif name in ("size", "kind"):
            table.add_column(name, no_wrap=True)
        else:
            table.add_column(name, overflow="ellipsis")


def names(title: str, column: str, items: list[str]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column(column)
    for item in items:
        table.add_row(item)
    console().print(table)


def inspect_view(view: dict[str, Any]) -> None:
    out = console()
    out.print(f"[bold]Name:[/]      {view['name']}")
    out.print(f"[bold]MediaType:[/] {view['mediaType']}")
    out.print(f"[bold]Digest:[/]    {view['digest']}  ({human_size(view['size'])})")
    if "manifests" in view:
        table = Table(title="Manifests", title_justify="left")
        _columns(table, "platform", "digest", "media type", "size")
        for entry in view["manifests"]:
            platform = entry["platform"] + (" (attestation)" if entry["attestation"] else "")
            table.add_row(platform or "-", entry["digest"], entry["mediaType"],
                          human_size(entry["size"]))
        out.print(table)
    for image in view["images"]:
        _image(out, image)
    _referrers(out, "Referrers", view.get("referrers") or [])


def _image(out: Console, image: dict[str, Any]) -> None:
    out.print()
    out.print(f"[bold]Image[/] {image['platform'] or '-'}  {image['digest']}")
    config = image.get("config")
    if config:
        out.print(f"  Created:    {config['created'] or '-'}")
        out.print(f"  Entrypoint: {config['entrypoint'] or '-'}")
        out.print(f"  Cmd:        {config['cmd'] or '-'}")
        for variable in config["env"]:
            out.print(f"  Env:        {variable}")
        for key, value in sorted(config["labels"].items()):
            out.print(f"  Label:      {key}={value}")
    elif image.get("artifactType"):
        out.print(f"  Artifact:   {image['artifactType']}")
    table = Table(title=f"Layers ({human_size(image['layersSize'])})", title_justify="left")
    _columns(table, "digest", "media type", "size")
    for layer in image["layers"]:
        table.add_row(layer["digest"], layer["mediaType"], human_size(layer["size"]))
    out.print(table)
    _referrers(out, "  Referrers", image.get("referrers") or [])


def _referrers(out: Console, title: str, referrers: list[dict[str, Any]]) -> None:
    if not referrers:
        return
    table = Table(title=title, title_justify="left")
    _columns(table, "kind", "artifact type", "digest", "size")
    for entry in referrers:
        table.add_row(entry["kind"], entry["artifactType"] or "-", entry["digest"],
                      human_size(entry["size"]))
    out.print(table)
