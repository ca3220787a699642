"""Semantic-version tags and ranges, for picking which tags a sync copies.

Tags are read leniently, as registries hold them: ``v1.2.3``, ``1.2``, ``1.2.3-rc.1``.
Ranges are comma- or space-separated comparisons, all of which must hold:
``>=1.2,<2``, ``^1.4`` (same major), ``~1.4`` (same minor), ``=1.2.3``, ``!=1.3.0``.
A pre-release (``-rc.1``) sorts before its release, as semver.org says; pre-release tags
only match a range that names a pre-release itself, as npm does, so ``>=1.0`` never picks
``2.0.0-rc.1`` by surprise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?"
                      r"(?:\+[0-9A-Za-z.-]+)?")
_COMPARISON = re.compile(r"(>=|<=|==|!=|>|<|=|\^|~)?\s*(\S+)")


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()

    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # A release (no pre) sorts after every pre-release of the same number.
        pre = tuple((0, p) if isinstance(p, int) else (1, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)


def parse_version(text: str) -> Version | None:
    """The version a tag spells, or None when it is not one (``latest``, ``main``)."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    parts = tuple(int(p) if p.isdigit() else p for p in pre.split(".")) if pre else ()
    return Version(int(major), int(minor or 0), int(patch or 0), parts)


@dataclass(frozen=True)
class Range:
    """A parsed range; ``Range.parse(">=1.2,<2").matches("v1.4.0")``."""

    text: str
    comparisons: tuple[tuple[str, Version], ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        glued = re.sub(r"(>=|<=|==|!=|>|<|=|\^|~)\s+", r"\1", text.strip())
        items = [p for p in re.split(r"[,\s]+", glued) if p]
        comparisons = []
        for item in items:
            match = _COMPARISON.fullmatch(item)
            version = parse_version(match.group(2)) if match else None
            if match is None or version is None:
                raise ValueError(f"invalid semver range {text!r}: cannot read {item!r}")
            comparisons.append((match.group(1) or "=", version))
        if not comparisons:
            raise ValueError(f"invalid semver range {text!r}: empty")
        return cls(text, tuple(comparisons))

    def matches(self, tag: str) -> bool:
        version = parse_version(tag)
        if version is None:
            return False
        if version.pre and not any(bound.pre for _, bound in self.comparisons):
            return False
        return all(_holds(op, version, bound) for op, bound in self.comparisons)


def _holds(op: str, version: Version, bound: Version) -> bool:
    key, other = version.key(), bound.key()
    if op in ("=", "=="):
        return key == other
    if op == "!=":
        return key != other
    if op == ">=":
        return key >= other
    if op == ">":
        return key > other
    if op == "<=":
        return key <= other
    if op == "<":
        return key < other
    if op == "^":
        return key >= other and version.major == bound.major
    return key >= other and (version.major, version.minor) == (bound.major, bound.minor)
