"""The distribution spec's error envelope and the HTTP status of every error code.

Services raise :class:`~dockyard.core.errors.RegistryError`; this module turns it into
``{"errors": [{"code", "message", "detail"}]}`` with the status Distribution uses.
"""

import json
from typing import Any

from dockyard.core.errors import STATUS_BY_CODE, RegistryError

__all__ = ["STATUS_BY_CODE", "RegistryError", "error_body"]

def error_body(error: RegistryError) -> bytes:
    """The JSON envelope for ``error``."""
    entry: dict[str, Any] = {"code": error.code, "message": error.message,
                             "detail": error.detail if error.detail is not None else {}}
    return json.dumps({"errors": [entry]}).encode()
