"""build_access_controller: the configured type, and ConfigError naming the key otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.auth import build_access_controller
from dockyard.auth.htpasswd import HtpasswdAccessController
from dockyard.auth.silly import SillyAccessController
from dockyard.auth.token import TokenAccessController
from dockyard.auth.token_keys import ASYMMETRIC_ALGORITHMS
from dockyard.config import Config, ConfigError
from tests.auth.tokens import ISSUER, REALM, SERVICE, Issuer, write_bundle


def build(auth: Any) -> Any:
    return build_access_controller(Config.model_validate({"version": "0.1", "auth": auth}))


def config_error(auth: Any) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        build(auth)
    return error.value


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer.new()


@pytest.fixture
def bundle(tmp_path: Path, issuer: Issuer) -> str:
    return str(write_bundle(tmp_path / "bundle.pem", issuer))


def token_options(**overrides: Any) -> dict[str, Any]:
    options = {"realm": REALM, "service": SERVICE, "issuer": ISSUER}
    options.update(overrides)
    return {k: v for k, v in options.items() if v is not None}


def test_no_auth_means_no_controller():
    assert build(None) is None


def test_each_type(tmp_path, bundle):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("")
    assert isinstance(build({"htpasswd": {"realm": "r", "path": str(htpasswd)}}),
                      HtpasswdAccessController)
    assert isinstance(build({"silly": {"realm": "r", "service": "s"}}), SillyAccessController)
    controller = build({"token": token_options(rootcertbundle=bundle)})
    assert isinstance(controller, TokenAccessController)
    assert controller.verifier.algorithms == ASYMMETRIC_ALGORITHMS


@pytest.mark.parametrize(("auth", "path"), [
    ({"htpasswd": {"path": "/tmp/x"}}, "auth.htpasswd.realm"),
    ({"htpasswd": {"realm": "r"}}, "auth.htpasswd.path"),
    ({"htpasswd": {"realm": "r", "path": ""}}, "auth.htpasswd.path"),
    ({"htpasswd": None}, "auth.htpasswd.realm"),
    ({"silly": {"realm": "r"}}, "auth.silly.service"),
    ({"token": token_options(realm=None, rootcertbundle="/b")}, "auth.token.realm"),
    ({"token": token_options(issuer=None, rootcertbundle="/b")}, "auth.token.issuer"),
    ({"token": token_options(service=None, rootcertbundle="/b")}, "auth.token.service"),
    ({"token": token_options(service=5, rootcertbundle="/b")}, "auth.token.service"),
    ({"token": token_options()}, "auth.token.rootcertbundle"),
    ({"token": token_options(rootcertbundle="/nonexistent/bundle.pem")},
     "auth.token.rootcertbundle"),
    ({"token": token_options(jwks="/nonexistent/jwks.json")}, "auth.token.jwks"),
    ({"ldap": {"url": "x"}}, "auth.ldap"),
])
def test_invalid_options_name_the_key(auth, path):
    error = config_error(auth)
    assert path in error.paths
    assert f"{path}:" in str(error)


def test_unreadable_bundle(tmp_path):
    # A directory cannot be read even by root (a mode-000 file can).
    error = config_error({"token": token_options(rootcertbundle=str(tmp_path))})
    assert "config: auth.token.rootcertbundle: cannot read" in str(error)
    error = config_error({"token": token_options(jwks=str(tmp_path))})
    assert "config: auth.token.jwks: cannot read" in str(error)


@pytest.mark.parametrize("content", [b"", b"not pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                     b"-----END CERTIFICATE-----\n"])
def test_bundle_without_certificates(tmp_path, content):
    path = tmp_path / "bundle.pem"
    path.write_bytes(content)
    error = config_error({"token": token_options(rootcertbundle=str(path))})
    assert error.paths == ["auth.token.rootcertbundle"]


@pytest.mark.parametrize(("document", "message"), [
    ("not json", "not JSON"),
    ({"nokeys": []}, "JWK set"),
    ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}, "unsupported key type"),
    ({"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]}, "invalid JWK"),
    ({"keys": ["string"]}, "JSON object"),
    ({"keys": []}, "at least one signing key"),
])
def test_bad_jwks(tmp_path, document, message):
    path = tmp_path / "jwks.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    error = config_error({"token": token_options(jwks=str(path))})
    assert error.paths == ["auth.token.jwks"]
    assert message in str(error)


def test_jwks_kid_naming_two_keys(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [Issuer.new().jwk(kid="k"), Issuer.new().jwk(kid="k")]}))
    assert "two different keys" in str(config_error({"token": token_options(jwks=str(path))}))


@pytest.mark.parametrize(("value", "expected"), [
    (["RS256", "ES256"], {"RS256", "ES256"}),
    ("RS256, PS256", {"RS256", "PS256"}),
    ("[RS256,EdDSA]", {"RS256", "EdDSA"}),
    (["HS256", "RS256"], {"RS256"}),
])
def test_signing_algorithms(bundle, value, expected):
    controller = build({"token": token_options(rootcertbundle=bundle, signingalgorithms=value)})
    assert controller.verifier.algorithms == expected


@pytest.mark.parametrize("value", [["none"], ["RS256", "XX999"], ["HS256"], [1], {"a": 1}])
def test_bad_signing_algorithms(bundle, value):
    error = config_error({"token": token_options(rootcertbundle=bundle,
                                                 signingalgorithms=value)})
    assert error.paths == ["auth.token.signingalgorithms"]


def test_invalid_htpasswd_file(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("no colon here\n")
    error = config_error({"htpasswd": {"realm": "r", "path": str(path)}})
    assert error.paths == ["auth.htpasswd.path"]
    assert "line 1" in str(error)


def test_htpasswd_path_that_is_a_directory(tmp_path):
    error = config_error({"htpasswd": {"realm": "r", "path": str(tmp_path)}})
    assert error.paths == ["auth.htpasswd.path"]
