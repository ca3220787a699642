"""WWW-Authenticate formatting and the silly controller."""

import pytest

from dockyard.auth.base import Access, Unauthorized
from dockyard.auth.challenge import basic_challenge, bearer_challenge, quote, scope_param
from dockyard.auth.silly import SillyAccessController

PUSH = Access("repository", "team/app", ("pull", "push"))


def test_basic_challenge():
    assert basic_challenge("basic-realm") == 'Basic realm="basic-realm"'


def test_bearer_challenge_without_scope_or_error():
    assert bearer_challenge("https://auth/token", "reg", []) == \
        'Bearer realm="https://auth/token",service="reg"'


def test_bearer_challenge_with_scope_and_errors():
    assert bearer_challenge("r", "s", [PUSH]) == \
        'Bearer realm="r",service="s",scope="repository:team/app:pull,push"'
    assert bearer_challenge("r", "s", [PUSH], "invalid_token") == \
        'Bearer realm="r",service="s",scope="repository:team/app:pull,push",error="invalid_token"'
    assert bearer_challenge("r", "s", [Access("registry", "catalog", ("*",))],
                            "insufficient_scope") == \
        'Bearer realm="r",service="s",scope="registry:catalog:*",error="insufficient_scope"'


def test_scopes_are_space_separated_and_merged_per_resource():
    accesses = [Access("repository", "a", ("pull",)), Access("repository", "b", ("pull",)),
                Access("repository", "a", ("push", "pull"))]
    assert scope_param(accesses) == "repository:a:pull,push repository:b:pull"


@pytest.mark.parametrize(("value", "quoted"), [
    ("plain", '"plain"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("line\r\nX-Injected: 1", '"line\\r\\nX-Injected: 1"'),
    ("tab\there\x00", '"tab\\there\\x00"'),
    ("café ☃", '"caf\\u00e9 \\u2603"'),
])
def test_quote_never_breaks_the_header(value, quoted):
    assert quote(value) == quoted
    quoted.encode("ascii")


def test_silly_accepts_any_authorization_header():
    controller = SillyAccessController("https://auth/token", "reg")
    grant = controller.authorize("anything at all", [PUSH])
    assert grant.user == "silly"
    assert grant.allows(Access("repository", "other", ("delete",)))


@pytest.mark.parametrize("header", [None, ""])
def test_silly_challenges_without_a_header(header):
    controller = SillyAccessController("https://auth/token", "reg")
    with pytest.raises(Unauthorized) as denied:
        controller.authorize(header, [PUSH])
    assert denied.value.challenge == ('Bearer realm="https://auth/token",service="reg",'
                                      'scope="repository:team/app:pull,push"')
    assert denied.value.accesses == (PUSH,)
