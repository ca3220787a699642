"""``dockyard.gc``: the online garbage collector's settings.

```yaml
dockyard:
  gc:
    enabled: true     # run the background collector in `dockyard serve`
    delay: 1h         # safety delay between a change and the review of what it orphaned
    interval: 10m     # how often each worker tries to take the collector lock and run
    batch: 200        # candidates re-checked per write transaction
    pause: 50ms       # sleep between batches, so pushes never queue long on the write lock
    untagged: true    # collect manifests no tag, index or kept subject reaches
    uploadgrace: 1h   # a blob an upload or mount just linked stays this long, referenced
                      # or not, so the push's manifest can still name it (default: delay)
```

Durations use Distribution's Go syntax. Unknown keys are errors: a misspelt ``delya: 24h``
silently ignored would collect with the default delay.
"""

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic_core import PydanticCustomError

from dockyard.config_env import format_duration, parse_duration


def _duration(value: object) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("dockyard_config", "{message}", {"message": str(exc)}) \
            from None


Span = Annotated[timedelta, BeforeValidator(_duration),
                 PlainSerializer(format_duration, return_type=str, when_used="json")]


class GcSettings(BaseModel):
    """Online garbage collection (see :mod:`dockyard.gc.online`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    delay: Span = timedelta(hours=1)
    interval: Span = timedelta(minutes=10)
    batch: int = Field(default=200, ge=1, le=10_000)
    pause: Span = timedelta(milliseconds=50)
    untagged: bool = True
    uploadgrace: Span | None = None

    @property
    def link_grace(self) -> timedelta:
        """How long a fresh blob link is kept; never shorter than the safety delay."""
        return max(self.delay, self.uploadgrace or self.delay)
