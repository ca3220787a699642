"""The ``dockyard.quotas`` configuration section.

```yaml
dockyard:
  quotas:
    default: 10GiB        # optional; absent means unlimited
    namespaces:
      team: 500MiB
```

Sizes are integers (bytes) or a number with a unit: B, KB/MB/GB/TB (powers of 1000) or
KiB/MiB/GiB/TiB (powers of 1024), case-insensitive, spaces allowed (``1.5 GiB``).
"""

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from dockyard.quota.limits import QuotaLimits

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*", re.IGNORECASE)
_FACTORS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
            "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_size(value: Any) -> int:
    """Bytes from ``500MiB``, ``2 TB``, ``1048576``; ValueError naming the accepted units."""
    if isinstance(value, bool):
        raise ValueError("a size is a number of bytes or a string such as 500MiB")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.fullmatch(str(value))
        factor = _FACTORS.get(match.group(2).lower()) if match else None
        if match is None or factor is None:
            raise ValueError(f"invalid size {str(value)[:50]!r}: use bytes or a number with "
                             "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB")
        size = int(float(match.group(1)) * factor)
    if size < 0:
        raise ValueError("a size cannot be negative")
    return size


Size = Annotated[int, BeforeValidator(parse_size)]


class QuotaConfig(BaseModel):
    """Storage limits per namespace (first component of a repository name)."""

    model_config = ConfigDict(extra="forbid")

    default: Size | None = None
    namespaces: dict[str, Size] = Field(default_factory=dict)

    @field_validator("namespaces")
    @classmethod
    def _plain_names(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            if not name or "/" in name:
                raise ValueError(f"namespace {name!r} must be one path component, "
                                 "e.g. team for team/app")
        return value

    @property
    def configured(self) -> bool:
        """Whether any limit applies at all (none: the push path does no quota work)."""
        return self.default is not None or bool(self.namespaces)

    def limits(self) -> QuotaLimits | None:
        """The limits the services enforce, or None when no quota is configured."""
        return QuotaLimits(self.default, dict(self.namespaces)) if self.configured else None
