"""The ``dockyard.retention`` section of config.yml: policies, untagged cleanup, schedule.

Unknown keys are errors here, unlike in Distribution's sections: a misspelt keep rule
(``lst: 10``) silently ignored would delete every tag it was meant to keep. For the same
reason a policy must name at least one keep rule; ``last: 0`` is the explicit way to say
"delete every tag these repositories have".
"""

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
DEFAULT_PULL_FLUSH = timedelta(seconds=5)


def parse_span(value: object) -> timedelta:
    """``30d``, ``12h``, ``1d12h``, ``90m``, ``1w``, ``500ms``, or ``0``; a unit is required.

    A bare number is refused: ``30`` could mean days, seconds or (in Go) nanoseconds, and
    a retention window off by that much deletes everything.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return timedelta(0)
    text = str(value).strip() if isinstance(value, str | int | float) else None
    if text == "0":
        return timedelta(0)
    if not text or _PART.sub("", text) != "":
        raise _invalid(f"invalid duration {value!r}: use a number with a unit, such as "
                       "'30d', '12h', '1d12h', '90m' or '1w'")
    seconds = sum(float(number) * UNITS[unit] for number, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_span(value: timedelta) -> str:
    """The shortest text :func:`parse_span` reads back as ``value`` (``30d``, ``1d12h``)."""
    remaining = round(value.total_seconds() * 1000)
    if remaining == 0:
        return "0"
    parts = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = round(UNITS[unit] * 1000)
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Span = Annotated[timedelta, BeforeValidator(parse_span),
                 PlainSerializer(format_span, return_type=str, when_used="json")]


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("dockyard_retention", "{message}", {"message": message})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeepRules(_Strict):
    """What a policy keeps; a tag kept by any one rule stays (the rules are a union)."""

    last: int | None = Field(default=None, ge=0)
    tags: list[str] = Field(default_factory=list)
    pushedwithin: Span | None = None
    pulledwithin: Span | None = None

    @field_validator("tags")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if pattern.startswith("re:"):
                try:
                    re.compile(pattern[3:])
                except re.error as exc:
                    raise _invalid(f"invalid regular expression {pattern!r}: {exc}") from None
        return patterns

    @model_validator(mode="after")
    def _keeps_something(self) -> "KeepRules":
        if self.last is None and not self.tags and self.pushedwithin is None \
                and self.pulledwithin is None:
            raise _invalid("a policy must keep something (last, tags, pushedwithin or "
                           "pulledwithin); to delete every tag say so with 'last: 0'")
        return self


class RetentionPolicy(_Strict):
    """Tags of the repositories matching ``repositories`` (a glob; ``*`` crosses ``/``)."""

    repositories: str
    keep: KeepRules


class UntaggedPolicy(_Strict):
    """Manifests no tag names, pushed more than ``olderthan`` ago, in ``repositories``."""

    olderthan: Span
    repositories: str = "*"


class RetentionSettings(_Strict):
    """``dockyard.retention``: ``interval`` 0 runs only on demand (``dockyard retention run``)."""

    interval: Span = timedelta(0)
    pullflush: Span = DEFAULT_PULL_FLUSH
    policies: list[RetentionPolicy] = Field(default_factory=list)
    untagged: UntaggedPolicy | None = None

    @field_validator("policies", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("pullflush")
    @classmethod
    def _positive_flush(cls, value: timedelta) -> timedelta:
        """A zero flush interval would spin the flusher; zero means the default."""
        return value or DEFAULT_PULL_FLUSH

    @property
    def configured(self) -> bool:
        """Whether a run has anything to do."""
        return bool(self.policies) or self.untagged is not None
