"""The registry rules a service needs from the configuration, decoupled from its schema."""

from dataclasses import dataclass

from dockyard.core.immutability import ImmutableTagRule
from dockyard.quota.limits import QuotaLimits


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """Switches and limits of the push/pull/delete rules."""

    delete_enabled: bool = False
    read_only: bool = False
    max_tags_page: int = 1000
    max_catalog_page: int = 1000
    immutable_tags: tuple[ImmutableTagRule, ...] = ()
    quotas: QuotaLimits | None = None  # None: no quota configured, no quota work on pushes.
