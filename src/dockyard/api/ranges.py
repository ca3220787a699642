"""HTTP ``Range`` requests on blobs (RFC 9110), single ranges only.

A multi-range or malformed header is ignored and the whole blob is sent, as RFC 9110 allows;
this also rules out multipart amplification.
"""

import re

_RANGE = re.compile(r"bytes=([0-9]{0,19})-([0-9]{0,19})", re.ASCII)


class Unsatisfiable(Exception):
    """The range lies outside the blob: the answer is 416."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, length)`` of the requested range, or None for the whole blob."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable()
        start = max(size - suffix, 0)
        return start, size - start
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        raise Unsatisfiable()
    return start, end - start + 1
