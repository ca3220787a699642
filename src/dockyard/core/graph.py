"""Reachability over the manifest graph, shared by garbage collection and retention.

Both keep what a root (a tag, a recent or protected manifest) reaches through index children
and referrers; they differ only in what a node is and how its neighbours are found.
"""

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

N = TypeVar("N")
K = TypeVar("K", bound=Hashable)


def reachable(roots: Iterable[N], successors: Callable[[N], Iterable[N]],
              key: Callable[[N], K]) -> set[K]:
    """The keys of ``roots`` and of every node ``successors`` reaches from them.

    Iterative (an index nested deep cannot overflow the stack), and each node is expanded
    once, so shared children and cycles cost nothing extra.
    """
    stack = list(roots)
    seen: set[K] = set()
    while stack:
        node = stack.pop()
        if key(node) in seen:
            continue
        seen.add(key(node))
        stack.extend(successors(node))
    return seen
