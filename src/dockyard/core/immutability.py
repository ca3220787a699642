"""Tag immutability rules: which tags, once pushed, may never move or be deleted."""

from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True, slots=True)
class ImmutableTagRule:
    """Tags matching ``tags`` in repositories matching ``repositories`` (shell-style globs)."""

    repositories: str
    tags: str

    def protects(self, repository: str, tag: str) -> bool:
        return fnmatchcase(repository, self.repositories) and fnmatchcase(tag, self.tags)

    def __str__(self) -> str:
        return f"tags {self.tags!r} in repositories {self.repositories!r}"


def protecting_rule(rules: tuple[ImmutableTagRule, ...], repository: str, tag: str
                    ) -> ImmutableTagRule | None:
    """The first rule that protects ``repository:tag``, or None."""
    for rule in rules:
        if rule.protects(repository, tag):
            return rule
    return None
