"""The ``dockyard sync --file images.yaml`` schema (validated with pydantic).

```yaml
prefix: mirror/            # optional: put before every destination repository name
repositories:
  - team/app               # a bare name: every tag
  - name: team/api
    destination: prod/api  # optional rename (the prefix still applies)
    tags:
      regex: "^v[0-9]+"    # optional: the tag must match (re.search, as ``tags --filter``)
      semver: ">=1.2,<2"   # optional: the tag must be a version in this range
      names: [latest]      # optional: these tags are always included
```

A tag is copied when it is in ``names``, or when it passes every filter given (``regex``
and ``semver``); with no filter at all every tag is copied. Versions and ranges are read
with ``packaging``, as ``dockyard tags --semver-range`` reads them, so one range means the
same in both places: ``v1.2.3``, ``1.2`` and ``1.2.3-rc.1`` are versions, ``latest`` is not;
ranges are PEP 440 specifiers (``>=1.2,<2``, ``~=1.4``, ``==1.2.*``, ``!=1.3.0``), and a
pre-release only matches a range that names a pre-release itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


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
            _range(value)
        return value

    def selects(self, tag: str) -> bool:
        if tag in self.names:
            return True
        if self.regex is None and self.semver is None:
            return not self.names
        if self.regex is not None and re.search(self.regex, tag) is None:
            return False
        return self.semver is None or in_range(tag, self.semver)


def _range(text: str) -> SpecifierSet:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ValueError(f"invalid semver range {text!r}: expected e.g. '>=1.2,<2'") from None


def in_range(tag: str, text: str) -> bool:
    """Whether ``tag`` is a version inside the range ``text`` (see the module docstring)."""
    try:
        version = Version(tag)
    except InvalidVersion:
        return False
    specifier = _range(text)
    named_pre = any(Version(s.version.rstrip(".*")).is_prerelease for s in specifier)
    return specifier.contains(version, prereleases=named_pre)


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
