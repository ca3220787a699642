"""Registry errors with the distribution spec's codes, raised by services.

The HTTP layer (:mod:`dockyard.api.errors`) turns them into the spec's envelope and status.
``status`` and ``headers`` are only for the few cases where the spec pins a status other than
the code's usual one (413 for an oversized manifest, 416 with the upload's ``Range``).
"""

import errno
from typing import Any

STATUS_BY_CODE = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
    "RANGE_INVALID": 416,
    "PAGINATION_NUMBER_INVALID": 400,
    "UNKNOWN": 500,
    "UNAVAILABLE": 503,
}

DEFAULT_MESSAGES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "manifest references a blob unknown to the repository",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "SIZE_INVALID": "provided length did not match content length",
    "TAG_INVALID": "manifest tag did not match URI",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "the operation is unsupported",
    "TOOMANYREQUESTS": "too many requests",
    "RANGE_INVALID": "invalid content range",
    "PAGINATION_NUMBER_INVALID": "invalid number of results requested",
    "UNKNOWN": "unknown error",
    "UNAVAILABLE": "service unavailable",
}


class RegistryError(Exception):
    """An error the client caused or must know about, with its spec code."""

    def __init__(self, code: str, message: str | None = None, detail: Any = None,
                 status: int | None = None, headers: list[tuple[bytes, bytes]] | None = None):
        self.code = code
        self.message = message or DEFAULT_MESSAGES[code]
        self.detail = detail
        self.status = status or STATUS_BY_CODE[code]
        self.headers = headers or []
        super().__init__(f"{code}: {self.message}")


# The registry's storage is full. The spec has no code for it; Distribution answers 500
# UNKNOWN. Dockyard keeps the spec's catch-all code UNKNOWN (so every client parses the body)
# with RFC 4918's 507 Insufficient Storage: still a 5xx, so no client blames its own request,
# but operators and metrics can tell "the disk is full" from a bug. 503 would say "temporarily
# unavailable, retry soon", and a full disk stays full until an operator frees space.
INSUFFICIENT_STORAGE = 507
_NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13


def is_out_of_space(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a full disk or an exhausted quota.

    Recognises ``OSError`` ENOSPC/EDQUOT and SQLite's SQLITE_FULL, however a database driver
    wraps it (SQLAlchemy keeps the driver's exception as ``orig``).
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_SPACE_ERRNOS:
            return True
        code = getattr(current, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF == _SQLITE_FULL:  # also its extended codes
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (
            current.__cause__ or current.__context__)
    return False


class StorageFull(RegistryError):
    """A write the full storage refused; whatever it had begun was removed again.

    Stores raise it (it is a storage fact, not an HTTP one); being a :class:`RegistryError`
    it reaches the client as 507 ``UNKNOWN`` with a message saying what was discarded.
    """

    def __init__(self, what: str):
        super().__init__("UNKNOWN", f"no space left on the registry's storage; {what}",
                         detail={"reason": "insufficient storage"},
                         status=INSUFFICIENT_STORAGE)
