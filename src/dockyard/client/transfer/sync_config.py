"""The ``dockyard sync --file images.yaml`` schema (validated with pydantic).

```yaml
prefix: mirror/            # optional: put before every destination repository name
repositories:
  - team/app               # a bare name: every tag
  - name: team/api
    destination: prod/api  # optional rename (the prefix still applies)
    tags:
      regex: "^v[0-9]+"    # optional: the tag must match (re.fullmatch)
      semver: ">=1.2,<2"   # optional: the tag must be a version in this range
      names: [latest]      # optional: these tags are always included
```

A tag is copied when it is in ``names``, or when it passes every filter given (``regex``
and ``semver``); with no filter at all every tag is copied.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dockyard.client.transfer.semver import Range


class TagFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regex: str | None = None
    semver: str | None = None
    names: list[str] = Field(default_factory=list)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"invalid regex {value!r}: {error}") from None
        return value

    @field_validator("semver")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            Range.parse(value)
        return value

    def selects(self, tag: str) -> bool:
        if tag in self.names:
            return True
        if self.regex is None and self.semver is None:
            return not self.names
        if self.regex is not None and re.fullmatch(self.regex, tag) is None:
            return False
        return self.semver is None or Range.parse(self.semver).matches(tag)


class RepositorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    destination: str | None = None
    tags: TagFilter = Field(default_factory=TagFilter)


class SyncFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefix: str = ""
    repositories: list[RepositorySpec] = Field(min_length=1)

    @field_validator("repositories", mode="before")
    @classmethod
    def _bare_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    def destination_of(self, spec: RepositorySpec) -> str:
        return self.prefix + (spec.destination or spec.name)


def load_sync_file(path: Path) -> SyncFile:
    """Read and validate; ValueError names the file and the bad field."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: {error}") from None
    try:
        return SyncFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']}") from None


def from_repositories(names: list[str]) -> SyncFile:
    """``--repo A --repo B`` as a sync file: every tag of each."""
    return SyncFile(repositories=[RepositorySpec(name=n) for n in names])
