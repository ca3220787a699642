"""Random sequences of link, unlink, manifest put/delete and repository removal keep the
running usage equal to the recount from scratch and to an independent Python model."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text

from dockyard.metadata.records import MissingReferences, NewManifest, QuotaExceeded
from dockyard.metadata.schema import repositories
from dockyard.metadata.store import MetadataStore
from dockyard.quota.usage import Usage
from tests.quota.helpers import assert_reconciled, d

REPOS = ["team/app", "team/api", "team", "other/app", "other/x/y"]
SIZES = {n: 100 * n + 7 for n in range(1, 9)}  # Blob digests d(1)..d(8); manifests d(10+).

operation = st.one_of(
    st.tuples(st.just("link"), st.sampled_from(REPOS), st.integers(1, 8),
              st.none() | st.integers(0, 2500)),
    st.tuples(st.just("unlink"), st.sampled_from(REPOS), st.integers(1, 8), st.none()),
    st.tuples(st.just("put"), st.sampled_from(REPOS), st.integers(10, 13),
              st.none() | st.integers(0, 2500)),
    st.tuples(st.just("delete"), st.sampled_from(REPOS), st.integers(10, 13), st.none()),
    st.tuples(st.just("drop_repo"), st.sampled_from(REPOS), st.just(0), st.none()),
)


class Model:
    """What each namespace should hold, computed without SQL."""

    def __init__(self) -> None:
        self.links: set[tuple[str, int]] = set()
        self.manifests: dict[tuple[str, int], int] = {}

    def usage(self) -> dict[str, Usage]:
        held: dict[str, dict[int, int]] = {}
        for repo, n in self.links:
            held.setdefault(repo.split("/")[0], {})[n] = SIZES[n]
        for (repo, n), size in self.manifests.items():
            held.setdefault(repo.split("/")[0], {})[n] = size
        return {ns: Usage(sum(blobs.values()), len(blobs)) for ns, blobs in held.items()}


def apply(store: MetadataStore, model: Model, op: tuple[str, str, int, int | None]) -> None:
    kind, repo, n, quota = op
    if kind == "link":
        refused = quota is not None and would_exceed(model, repo, n, SIZES[n], quota)
        try:
            store.link_blob(repo, d(n), SIZES[n], quota=quota)
            model.links.add((repo, n))
            assert not refused
        except QuotaExceeded:
            assert refused
    elif kind == "unlink":
        assert store.unlink_blob(repo, d(n)) == ((repo, n) in model.links)
        model.links.discard((repo, n))
    elif kind == "put":
        layers = tuple(sorted(b for r, b in model.links if r == repo))[:3]
        new = NewManifest(repo, d(n), "application/vnd.oci.image.manifest.v1+json", 40 + n,
                          None, None, None, tuple(d(b) for b in layers), (), f"t{n}",
                          quota=quota)
        refused = quota is not None and would_exceed(model, repo, n, 40 + n, quota)
        try:
            store.put_manifest(new)
            model.manifests[(repo, n)] = 40 + n
            assert not refused
        except QuotaExceeded:
            assert refused
        except MissingReferences:
            raise AssertionError("references were linked") from None
    elif kind == "delete":
        assert store.delete_manifest(repo, d(n)) == ((repo, n) in model.manifests)
        model.manifests.pop((repo, n), None)
    else:
        with store.write_engine.begin() as conn:
            conn.execute(delete(repositories).where(repositories.c.name == repo))
        model.links = {(r, b) for r, b in model.links if r != repo}
        model.manifests = {k: v for k, v in model.manifests.items() if k[0] != repo}


def would_exceed(model: Model, repo: str, n: int, size: int, quota: int) -> bool:
    """The rule: only a digest new to the namespace is charged, and it must fit."""
    namespace = repo.split("/")[0]
    held = {b for r, b in model.links | set(model.manifests) if r.split("/")[0] == namespace}
    return n not in held and model.usage().get(namespace, Usage(0, 0)).bytes + size > quota


def test_random_histories_stay_reconciled(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path}/meta.sqlite3")

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(operation, min_size=1, max_size=30))
    def run(ops: list[tuple[str, str, int, int | None]]) -> None:
        with store.write_engine.begin() as conn:  # A fresh registry for each example.
            conn.execute(delete(repositories))
            conn.execute(text("DELETE FROM blobs"))
        assert assert_reconciled(store.write_engine) == {}
        model = Model()
        for op in ops:
            apply(store, model, op)
            assert assert_reconciled(store.write_engine) == model.usage(), op

    run()
    store.close()
