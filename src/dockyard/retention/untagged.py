"""Which untagged manifests of one repository the untagged cleanup removes: pure functions.

A manifest stays when a tag names it, when it was pushed less than ``olderthan`` ago, when
it is a child (transitively) of a kept index, or when its subject is a kept manifest (so
signatures and SBOMs of kept images stay, and so do signatures of those SBOMs). Everything
else in a matched repository goes. Tags are taken as they were when the run started: a
manifest whose last tag this run deletes is left for the online collector, as a tag delete
made through the API would be.
"""

from dataclasses import dataclass

from dockyard.core.graph import reachable
from dockyard.retention.policy import repository_matches
from dockyard.retention.settings import UntaggedPolicy


@dataclass(frozen=True, slots=True)
class ManifestState:
    """A manifest of the repository as the cleanup sees it."""

    digest: str
    created_at: float
    tagged: bool
    subject: str | None
    children: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ManifestVerdict:
    repository: str
    digest: str
    created_at: float


def judge_untagged(repository: str, manifests: list[ManifestState],
                   policy: UntaggedPolicy | None, now: float) -> list[ManifestVerdict]:
    """The manifests to delete, parents before children and referrers before subjects."""
    if policy is None or not repository_matches(policy.repositories, repository):
        return []
    cutoff = now - policy.olderthan.total_seconds()
    by_digest = {m.digest: m for m in manifests}
    referrers: dict[str, list[ManifestState]] = {}
    for manifest in manifests:
        if manifest.subject:
            referrers.setdefault(manifest.subject, []).append(manifest)
    kept = reachable(
        (m for m in manifests if m.tagged or m.created_at > cutoff),
        lambda m: [*(by_digest[d] for d in m.children if d in by_digest),
                   *referrers.get(m.digest, [])],
        key=lambda m: m.digest)
    doomed = [m for m in sorted(manifests, key=lambda m: m.digest) if m.digest not in kept]
    return [ManifestVerdict(repository, m.digest, m.created_at) for m in _parents_first(doomed)]


def _parents_first(doomed: list[ManifestState]) -> list[ManifestState]:
    """Order deletions so no remaining manifest ever names a deleted child or subject.

    A manifest is deleted only after every doomed manifest that names it (as a child or as
    its subject) is gone; a cycle, impossible with digests, would end the loop anyway.
    """
    digests = {m.digest for m in doomed}
    pointing: dict[str, int] = {m.digest: 0 for m in doomed}
    for manifest in doomed:
        for target in {*manifest.children, *([manifest.subject] if manifest.subject else [])}:
            if target in digests:
                pointing[target] += 1
    ordered: list[ManifestState] = []
    remaining = list(doomed)
    while remaining:
        ready = [m for m in remaining if pointing[m.digest] == 0] or remaining
        for manifest in ready:
            ordered.append(manifest)
            for target in {*manifest.children,
                           *([manifest.subject] if manifest.subject else [])}:
                if target in pointing:
                    pointing[target] -= 1
        done = {m.digest for m in ready}
        remaining = [m for m in remaining if m.digest not in done]
    return ordered
