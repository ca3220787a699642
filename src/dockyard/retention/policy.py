"""Which tags of one repository the retention policies keep, and why: pure functions.

Every tag is judged on its own (two tags on one digest are two tags: users of other
registries lost a release tag because a development tag shared its digest). A tag is kept
when an immutability rule protects it, or when any keep rule of any policy whose
``repositories`` glob matches keeps it; every other tag of a matched repository goes.
Repositories no policy matches are not touched at all.
"""

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from dockyard.core.immutability import ImmutableTagRule, protecting_rule
from dockyard.retention.settings import KeepRules, RetentionPolicy, format_span


@dataclass(frozen=True, slots=True)
class TagState:
    """A tag as retention sees it; times are Unix seconds."""

    name: str
    digest: str
    pushed_at: float
    pulled_at: float | None


@dataclass(frozen=True, slots=True)
class TagVerdict:
    """``reasons`` empty means the tag goes; else every rule that keeps it."""

    repository: str
    tag: str
    digest: str
    pushed_at: float
    reasons: tuple[str, ...]
    policies: tuple[int, ...] = ()  # The policies that judged it (their index in the config).

    @property
    def kept(self) -> bool:
        return bool(self.reasons)


def repository_matches(pattern: str, repository: str) -> bool:
    """The immutability rules' glob: shell-style, and ``*`` also crosses ``/``."""
    return fnmatchcase(repository, pattern)


def governing(policies: list[RetentionPolicy], repository: str
              ) -> list[tuple[int, RetentionPolicy]]:
    """The policies (with their index in the config) whose pattern matches ``repository``."""
    return [(i, p) for i, p in enumerate(policies) if repository_matches(p.repositories,
                                                                          repository)]


def tag_matches(pattern: str, tag: str) -> bool:
    """A glob, or a regular expression after ``re:`` that must match the whole tag."""
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], tag) is not None
    return fnmatchcase(tag, pattern)


def judge_tags(repository: str, tags: list[TagState], policies: list[RetentionPolicy],
               immutable: tuple[ImmutableTagRule, ...], now: float) -> list[TagVerdict]:
    """One verdict per tag of ``repository``, in tag-name order; empty if no policy applies."""
    applicable = governing(policies, repository)
    if not applicable:
        return []
    # Newest push first; the name breaks ties so every run ranks the same way.
    ranked = sorted(tags, key=lambda t: (-t.pushed_at, t.name))
    rank = {t.name: position for position, t in enumerate(ranked)}
    verdicts = []
    for tag in sorted(tags, key=lambda t: t.name):
        reasons: list[str] = []
        rule = protecting_rule(immutable, repository, tag.name)
        if rule is not None:
            reasons.append(f"immutable ({rule})")
        for index, policy in applicable:
            reasons += [f"policy {index}: {why}"
                        for why in _keeps(policy.keep, tag, rank[tag.name], now)]
        verdicts.append(TagVerdict(repository, tag.name, tag.digest, tag.pushed_at,
                                   tuple(reasons), tuple(i for i, _ in applicable)))
    return verdicts


def _keeps(keep: KeepRules, tag: TagState, rank: int, now: float) -> list[str]:
    """Every rule of ``keep`` that keeps ``tag`` (``rank`` 0 is the newest push)."""
    reasons = []
    if keep.last is not None and rank < keep.last:
        reasons.append(f"last {keep.last} (#{rank + 1} most recently pushed)")
    reasons += [f"tags {pattern!r}" for pattern in keep.tags if tag_matches(pattern, tag.name)]
    if keep.pushedwithin is not None and now - tag.pushed_at <= keep.pushedwithin.total_seconds():
        reasons.append(f"pushed within {format_span(keep.pushedwithin)}")
    if keep.pulledwithin is not None and tag.pulled_at is not None \
            and now - tag.pulled_at <= keep.pulledwithin.total_seconds():
        reasons.append(f"pulled within {format_span(keep.pulledwithin)}")
    return reasons
