"""Registry errors with the distribution spec's codes, raised by services.

The HTTP layer (:mod:`dockyard.api.errors`) turns them into the spec's envelope and status.
``status`` and ``headers`` are only for the few cases where the spec pins a status other than
the code's usual one (413 for an oversized manifest, 416 with the upload's ``Range``).
"""

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
