"""Which configured settings Dockyard does not act on, so ``serve`` can say so at start.

Unknown keys come from the schema (:attr:`Config.unsupported_keys`); the settings below are
Distribution keys the schema accepts but Dockyard does not implement yet, reported only when
they are set to something other than their default.
"""

from typing import Any

from dockyard.config import Config

_NOT_IMPLEMENTED: dict[str, str] = {
    "http.prefix": "URLs are always served from /",
    "http.host": "Location headers are relative, which every client accepts",
    "http.relativeurls": "Location headers are always relative",
    "storage.redirect.disable": "the filesystem store never redirects",
    "validation": "manifest URL and index-platform rules are not applied",
}


def unsupported_settings(config: Config) -> list[str]:
    """Human-readable lines naming every setting that will be ignored, and why."""
    lines = [f"{key}: unknown key, ignored" for key in config.unsupported_keys]
    defaults = Config.model_validate({"version": "0.1"})
    for path, why in _NOT_IMPLEMENTED.items():
        if _lookup(config, path) != _lookup(defaults, path):
            lines.append(f"{path}: not supported, ignored ({why})")
    return lines


def _lookup(config: Config, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    return node
