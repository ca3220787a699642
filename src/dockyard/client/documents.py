"""Parsing the JSON documents a client receives (manifests, image configs).

One place decides what "not a document" means, so the registry client, the inspect view and
the copy engine refuse the same bytes with the same words, each with its own error type.
"""

from __future__ import annotations

import json
from typing import Any


def json_object(body: bytes, what: str, error: type[Exception]) -> dict[str, Any]:
    """``body`` as a JSON object, else ``error("<what> is not JSON: ...")`` (or "... object")."""
    try:
        document = json.loads(body)
    except ValueError as problem:
        raise error(f"{what} is not JSON: {problem}") from None
    if not isinstance(document, dict):
        raise error(f"{what} is not a JSON object")
    return document
