"""The distribution grammar for repository names and tags.

Names become directory paths under ``repositories/`` and SQL values, so they are checked with
``fullmatch`` on ASCII-only patterns before anything else sees them: ``re.match`` with ``$``
accepts a trailing newline and ``\\w`` accepts Unicode, both of which would let odd names through.
"""

import re

NAME_MAX_LENGTH = 255
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*", re.ASCII)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", re.ASCII)


def is_valid_name(name: str) -> bool:
    """True when ``name`` is a repository name the distribution spec allows."""
    return len(name) <= NAME_MAX_LENGTH and _NAME.fullmatch(name) is not None


def is_valid_tag(tag: str) -> bool:
    """True when ``tag`` is a tag the distribution spec allows (at most 128 characters)."""
    return _TAG.fullmatch(tag) is not None
