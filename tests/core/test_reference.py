import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.core.reference import is_valid_name, is_valid_tag


@pytest.mark.parametrize("name", ["a", "library/ubuntu", "team/app/api", "a.b_c__d-e--f",
                                  "x" * 255, "0/1/2"])
def test_valid_names(name: str) -> None:
    assert is_valid_name(name)


@pytest.mark.parametrize("name", ["", "A", "a/B", "../x", "a/../b", "a//b", "a/", "/a", ".a",
                                  "a..b", "a___b", "a-", "x" * 256, "a\n", "a\x00b", "é",
                                  "a/_uploads", "a b"])
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b.c_d", "x" * 128,
                                 "sha256-" + "a" * 64])
def test_valid_tags(tag: str) -> None:
    assert is_valid_tag(tag)


@pytest.mark.parametrize("tag", ["", ".x", "-x", "x" * 129, "a:b", "a/b", "a@b", "latest\n",
                                 "ünïcode"])
def test_invalid_tags(tag: str) -> None:
    assert not is_valid_tag(tag)


@given(st.text(max_size=300))
def test_valid_names_never_contain_path_tricks(text: str) -> None:
    if is_valid_name(text):
        assert ".." not in text and "//" not in text and not text.startswith("/")
        assert text.isascii() and text == text.strip()
