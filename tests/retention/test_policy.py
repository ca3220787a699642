"""The pure evaluation: which tags and untagged manifests go, and why the rest stay."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from dockyard.core.immutability import ImmutableTagRule
from dockyard.retention.policy import TagState, judge_tags
from dockyard.retention.settings import (
    RetentionPolicy,
    RetentionSettings,
    UntaggedPolicy,
    format_span,
    parse_span,
)
from dockyard.retention.untagged import ManifestState, judge_untagged

DAY = 86400.0
NOW = 1_800_000_000.0


def tag(name: str, days_ago: float, digest: str | None = None,
        pulled_days_ago: float | None = None) -> TagState:
    return TagState(name, digest or f"sha256:{name}", NOW - days_ago * DAY,
                    None if pulled_days_ago is None else NOW - pulled_days_ago * DAY)


def policy(repositories: str = "team/**", **keep: object) -> RetentionPolicy:
    return RetentionPolicy.model_validate({"repositories": repositories, "keep": keep})


def deleted(verdicts: list) -> set[str]:  # type: ignore[type-arg]
    return {v.tag for v in verdicts if not v.kept}


# A tagging history in the styles teams use: semver, environments, git shas, timestamps.
HISTORY = [tag("1.0.0", 400), tag("1.2.3", 90), tag("v2.0.0-rc1", 20), tag("dev", 1),
           tag("test", 3), tag("prod", 45), tag("a1b2c3d", 60), tag("e4f5a6b", 2),
           tag("20261101-1200", 29), tag("20261001-0800", 59), tag("latest", 1.5)]


def test_keep_last_n_by_push_time() -> None:
    verdicts = judge_tags("team/app", HISTORY, [policy(last=3)], (), NOW)
    kept = {v.tag for v in verdicts if v.kept}
    assert kept == {"dev", "latest", "e4f5a6b"}
    ranks = {v.tag: v.reasons for v in verdicts if v.kept}
    assert ranks["dev"] == ("policy 0: last 3 (#1 most recently pushed)",)


def test_keep_by_glob_and_regex() -> None:
    rules = policy(tags=["v*", "latest", r"re:\d+\.\d+\.\d+", r"re:[0-9a-f]{7}"])
    verdicts = judge_tags("team/app", HISTORY, [rules], (), NOW)
    assert deleted(verdicts) == {"dev", "test", "prod", "20261101-1200", "20261001-0800"}
    # A regex matches the whole tag, not a part of it.
    partial = judge_tags("team/app", [tag("x1.2.3y", 1)], [policy(tags=[r"re:\d\.\d\.\d"])],
                         (), NOW)
    assert deleted(partial) == {"x1.2.3y"}


def test_pushed_and_pulled_within() -> None:
    history = [tag("old-pulled", 90, pulled_days_ago=2), tag("old", 90, pulled_days_ago=40),
               tag("fresh", 5), tag("never", 31)]
    verdicts = judge_tags("team/app", history,
                          [policy(pushedwithin="30d", pulledwithin="7d")], (), NOW)
    assert deleted(verdicts) == {"old", "never"}
    reasons = {v.tag: v.reasons for v in verdicts}
    assert reasons["old-pulled"] == ("policy 0: pulled within 7d",)
    assert reasons["fresh"] == ("policy 0: pushed within 30d",)


def test_keep_rules_and_policies_are_a_union() -> None:
    rules = [policy(last=1), policy("team/app", tags=["prod"]), policy("other/**", last=100)]
    verdicts = judge_tags("team/app", HISTORY, rules, (), NOW)
    assert {v.tag for v in verdicts if v.kept} == {"dev", "prod"}
    assert judge_tags("elsewhere/app", HISTORY, rules, (), NOW) == []  # Untouched.


def test_two_tags_on_one_digest_are_two_tags() -> None:
    history = [tag("v1.0.0", 100, digest="sha256:same"), tag("dev-123", 100, digest="sha256:same")]
    verdicts = judge_tags("team/app", history, [policy(tags=["v*"])], (), NOW)
    assert deleted(verdicts) == {"dev-123"}
    assert {v.tag: v.digest for v in verdicts} == {"v1.0.0": "sha256:same",
                                                   "dev-123": "sha256:same"}


def test_immutable_tags_are_kept_and_say_so() -> None:
    rules = (ImmutableTagRule("team/**", "1.*"),)
    verdicts = judge_tags("team/app", HISTORY, [policy(last=0)], rules, NOW)
    assert deleted(verdicts) == {t.name for t in HISTORY} - {"1.0.0", "1.2.3"}
    kept = {v.tag: v.reasons for v in verdicts if v.kept}
    assert kept["1.0.0"] == ("immutable (tags '1.*' in repositories 'team/**')",)


def test_seed_days_to_keep_is_one_policy_line() -> None:
    """cleanup-registry.sh (DAYS_TO_KEEP=30: delete tags pushed more than 30 days ago)."""
    settings = RetentionSettings.model_validate(
        {"policies": [{"repositories": "**", "keep": {"pushedwithin": "30d"}}]})
    verdicts = judge_tags("any/depth/repo", HISTORY, settings.policies, (), NOW)
    assert deleted(verdicts) == {"1.0.0", "1.2.3", "prod", "a1b2c3d", "20261001-0800"}
    assert judge_tags("top", [tag("x", 31)], settings.policies, (), NOW)[0].kept is False


def test_durations_and_validation() -> None:
    assert parse_span("30d") == timedelta(days=30)
    assert parse_span("1d12h") == timedelta(hours=36)
    assert parse_span("1w") == timedelta(days=7)
    assert parse_span("500ms") == timedelta(milliseconds=500)
    assert format_span(timedelta(hours=36)) == "1d12h"
    for bad in ("30", "30 days", "d", "-1d", ""):
        with pytest.raises(ValidationError):
            RetentionSettings.model_validate({"interval": bad})
    with pytest.raises(ValidationError, match="must keep something"):
        policy()
    with pytest.raises(ValidationError, match="Extra inputs"):
        policy(lst=3)
    with pytest.raises(ValidationError, match="regular expression"):
        policy(tags=["re:("])
    assert policy(last=0).keep.last == 0


def manifest(digest: str, days_ago: float, tagged: bool = False, subject: str | None = None,
             children: tuple[str, ...] = ()) -> ManifestState:
    return ManifestState(digest, NOW - days_ago * DAY, tagged, subject, children)


def test_untagged_keeps_index_children_and_referrers_of_kept() -> None:
    manifests = [
        manifest("sha256:index", 50, tagged=True, children=("sha256:amd64", "sha256:arm64")),
        manifest("sha256:amd64", 50), manifest("sha256:arm64", 50),
        manifest("sha256:sig", 50, subject="sha256:index"),
        manifest("sha256:sig-of-sig", 50, subject="sha256:sig"),
        manifest("sha256:young", 2), manifest("sha256:young-sbom", 30, subject="sha256:young"),
        manifest("sha256:old", 30), manifest("sha256:old-sbom", 30, subject="sha256:old"),
        manifest("sha256:old-index", 30, children=("sha256:old-child",)),
        manifest("sha256:old-child", 30),
    ]
    cleanup = UntaggedPolicy.model_validate({"olderthan": "7d"})
    doomed = [v.digest for v in judge_untagged("team/app", manifests, cleanup, NOW)]
    assert set(doomed) == {"sha256:old", "sha256:old-sbom", "sha256:old-index",
                           "sha256:old-child"}
    # Parents and referrers go first, so nothing left ever names a deleted manifest.
    assert doomed.index("sha256:old-index") < doomed.index("sha256:old-child")
    assert doomed.index("sha256:old-sbom") < doomed.index("sha256:old")
    scoped = UntaggedPolicy.model_validate({"olderthan": "7d", "repositories": "other/*"})
    assert judge_untagged("team/app", manifests, scoped, NOW) == []
