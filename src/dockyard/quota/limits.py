"""Quota limits and the words a refused push is told; pure, no I/O.

A namespace is the first path component of a repository name (``team/app`` -> ``team``,
``alpine`` -> ``alpine``): the unit users and admins think in, as Harbor's projects.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.core.errors import RegistryError
from dockyard.metadata.records import QuotaExceeded

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def namespace_of(repository: str) -> str:
    """The namespace a repository's usage is counted in."""
    return repository.split("/", 1)[0]


def human_size(size: int) -> str:
    """``524288000`` -> ``500.0 MiB``: binary units with one decimal, bytes below 1 KiB."""
    if abs(size) < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if abs(value) < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """Byte limits per namespace; ``default`` applies to namespaces not named (None: none)."""

    default: int | None = None
    namespaces: Mapping[str, int] = field(default_factory=dict)

    def limit_for(self, repository: str) -> int | None:
        """The limit of ``repository``'s namespace, or None when it is unlimited."""
        return self.namespaces.get(namespace_of(repository), self.default)

    def limit_of_namespace(self, namespace: str) -> int | None:
        """The limit of a namespace by its name."""
        return self.namespaces.get(namespace, self.default)


def refusal_message(namespace: str, used: int, adding: int, limit: int) -> str:
    """What a client refused by a quota reads, in the units people use."""
    return (f"quota exceeded for namespace {namespace}: used {human_size(used)} + "
            f"{human_size(adding)} > limit {human_size(limit)}")


def quota_denied(exceeded: QuotaExceeded) -> RegistryError:
    """The 403 DENIED a push refused by its namespace's quota answers with."""
    return RegistryError("DENIED", refusal_message(exceeded.namespace, exceeded.used,
                                                   exceeded.adding, exceeded.limit),
                         detail={"namespace": exceeded.namespace, "used": exceeded.used,
                                 "adding": exceeded.adding, "limit": exceeded.limit})
