"""Sorting and filtering tag lists: plain, by version, by regex, by a version range.

Versions are read with ``packaging``: ``v1.2.3``, ``1.2``, ``1.2.3-rc.1`` parse, ``latest`` and
``1.2-alpine`` do not. A range such as ``>=1.2,<2`` keeps the versions inside it (pre-releases
only when the range names one, as pip does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


def version_of(tag: str) -> Version | None:
    try:
        return Version(tag)
    except InvalidVersion:
        return None


def compile_filter(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"invalid --filter regex {pattern!r}: {error}") from None


def compile_range(text: str) -> SpecifierSet:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ValueError(f"invalid --semver-range {text!r}: expected e.g. '>=1.2,<2'") from None


def select_tags(tags: Iterable[str], *, semver: bool = False, pattern: str | None = None,
                version_range: str | None = None) -> list[str]:
    """Filter, then sort: by version (unparseable tags after, by name) or by name."""
    kept = list(tags)
    if pattern is not None:
        regex = compile_filter(pattern)
        kept = [t for t in kept if regex.search(t)]
    if version_range is not None:
        specifier = compile_range(version_range)
        kept = [t for t in kept if (v := version_of(t)) is not None and specifier.contains(v)]
    if not semver:
        return sorted(kept)
    versions = sorted(((v, t) for t in kept if (v := version_of(t)) is not None),
                      key=lambda pair: (pair[0], pair[1]))
    others = sorted(t for t in kept if version_of(t) is None)
    return [t for _, t in versions] + others
