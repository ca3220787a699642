"""Quota sizes and limits in config.yml."""

from pathlib import Path

import pytest
import yaml

from dockyard.config import ConfigError, load_config
from dockyard.quota.limits import QuotaLimits, human_size, namespace_of
from dockyard.quota.settings import parse_size


@pytest.mark.parametrize(("text", "size"), [
    (0, 0), (1536, 1536), ("1536", 1536), ("10B", 10), ("1KB", 1000), ("2 MB", 2_000_000),
    ("1GB", 10**9), ("1TB", 10**12), ("1KiB", 1024), ("500MiB", 500 * 2**20),
    ("1.5GiB", 3 * 2**29), ("2TiB", 2 * 2**40), ("10gib", 10 * 2**30)])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "10XB", "-1", "1 0MiB", "MiB", "ten"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_human_sizes_and_namespaces() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 30 * 2**20, 480 * 2**20 + 2**19, 2**41)] \
        == ["0 B", "1023 B", "1.0 KiB", "30.0 MiB", "480.5 MiB", "2.0 TiB"]
    assert [namespace_of(n) for n in ("team/app", "alpine", "a/b/c")] == ["team", "alpine", "a"]


def test_config_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"version": 0.1, "dockyard": {"quotas": {
        "default": "10GiB", "namespaces": {"team": "500MiB", "big": "2TiB"}}}}))
    config = load_config(path)
    limits = config.dockyard.quotas.limits()
    assert limits == QuotaLimits(10 * 2**30, {"team": 500 * 2**20, "big": 2 * 2**40})
    assert limits.limit_for("team/app") == 500 * 2**20
    assert limits.limit_for("alpine") == 10 * 2**30
    assert type(config).model_validate_json(config.to_json()).dockyard.quotas.limits() == limits
    path.write_text(yaml.safe_dump({"version": 0.1}))
    assert load_config(path).dockyard.quotas.limits() is None  # No quota: no quota work.


@pytest.mark.parametrize(("quotas", "words"), [
    ({"namespaces": {"team": "lots"}}, "invalid size"),
    ({"namespaces": {"team/app": "1GiB"}}, "one path component"),
    ({"defualt": "1GiB"}, "defualt"),
])
def test_bad_config(tmp_path: Path, quotas: dict[str, object], words: str) -> None:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"version": 0.1, "dockyard": {"quotas": quotas}}))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "dockyard.quotas" in str(error.value) and words in str(error.value)


def test_registry_variables_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"version": 0.1, "dockyard": {"quotas": {
        "namespaces": {"team": "1GiB"}}}}))
    monkeypatch.setenv("REGISTRY_DOCKYARD_QUOTAS_DEFAULT", "2GiB")
    monkeypatch.setenv("REGISTRY_DOCKYARD_QUOTAS_NAMESPACES_TEAM", "500MiB")
    assert load_config(path).dockyard.quotas.limits() == QuotaLimits(
        2 * 2**30, {"team": 500 * 2**20})
