"""Token auth: signature, key lookup, algorithm pinning, claims and access, with real keys."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from dockyard.auth import build_access_controller
from dockyard.auth import token as token_module
from dockyard.auth.base import Access, Unauthorized
from dockyard.auth.token import TokenAccessController
from dockyard.auth.token_keys import jwk_thumbprint, libtrust_key_id
from dockyard.config import Config
from tests.auth.tokens import (
    ISSUER,
    REALM,
    SERVICE,
    Issuer,
    access,
    b64url,
    ec_key,
    encode,
    make_cert,
    make_claims,
    rsa_key,
    sign,
    write_bundle,
)

PULL = Access("repository", "team/app", ("pull",))
PUSH = Access("repository", "team/app", ("pull", "push"))
CATALOG = Access("registry", "catalog", ("*",))
FULL = [access("repository", "team/app", "pull", "push")]


@pytest.fixture(scope="module")
def rsa_issuer() -> Issuer:
    return Issuer.new("rsa-signer")


@pytest.fixture(scope="module")
def ec_issuer() -> Issuer:
    return Issuer.new("ec-signer", ec_key())


@pytest.fixture(scope="module")
def attacker() -> Issuer:
    return Issuer.new("attacker")


def controller_for(tmp_path: Path, *, bundle: list[Issuer] | None = None,
                   jwks: list[dict[str, Any]] | None = None, **options: Any
                   ) -> TokenAccessController:
    settings: dict[str, Any] = {"realm": REALM, "service": SERVICE, "issuer": ISSUER, **options}
    if bundle:
        settings["rootcertbundle"] = str(write_bundle(tmp_path / "bundle.pem", *bundle))
    if jwks is not None:
        path = tmp_path / "jwks.json"
        path.write_text(json.dumps({"keys": jwks}))
        settings["jwks"] = str(path)
    controller = build_access_controller(
        Config.model_validate({"version": "0.1", "auth": {"token": settings}}))
    assert isinstance(controller, TokenAccessController)
    return controller


@pytest.fixture
def controller(tmp_path, rsa_issuer, ec_issuer) -> TokenAccessController:
    return controller_for(tmp_path, bundle=[rsa_issuer, ec_issuer])


def bearer(token: str) -> str:
    return f"Bearer {token}"


def denied(controller: TokenAccessController, header: str | None,
           accesses: list[Access] | None = None) -> Unauthorized:
    with pytest.raises(Unauthorized) as error:
        controller.authorize(header, accesses if accesses is not None else [PUSH])
    return error.value


def assert_invalid(controller: TokenAccessController, token: str,
                   accesses: list[Access] | None = None) -> None:
    problem = denied(controller, bearer(token), accesses)
    assert problem.challenge.endswith(',error="invalid_token"'), problem.challenge


# ------------------------------------------------------------------------ accepted


@pytest.mark.parametrize("issuer_name", ["rsa_issuer", "ec_issuer"])
def test_valid_token_grants_its_access(request, controller, issuer_name):
    issuer: Issuer = request.getfixturevalue(issuer_name)
    grant = controller.authorize(bearer(issuer.token(access_=FULL)), [PUSH])
    assert grant.user == "alice"
    assert grant.allows(PULL) and grant.allows(PUSH)
    assert not grant.allows(Access("repository", "team/other", ("pull",)))
    assert not grant.allows(Access("repository", "team/app", ("delete",)))


def test_base_endpoint_needs_only_a_valid_token(controller, rsa_issuer):
    assert controller.authorize(bearer(rsa_issuer.token()), []).user == "alice"


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_every_rsa_algorithm(controller, rsa_issuer, alg):
    controller.authorize(bearer(rsa_issuer.token(alg=alg, access_=FULL)), [PUSH])


@pytest.mark.parametrize(("curve", "alg"), [(ec.SECP384R1(), "ES384"), (ec.SECP521R1(), "ES512")])
def test_other_curves(tmp_path, curve, alg):
    issuer = Issuer.new("ec", ec_key(curve))
    controller = controller_for(tmp_path, bundle=[issuer])
    controller.authorize(bearer(issuer.token(access_=FULL)), [PUSH])
    assert_invalid(controller, issuer.token(alg="ES256", access_=FULL))


def test_audience_may_be_a_list(controller, rsa_issuer):
    token = rsa_issuer.token(access_=FULL, aud=["other", SERVICE])
    controller.authorize(bearer(token), [PUSH])


def test_star_action_covers_every_action(controller, rsa_issuer):
    token = rsa_issuer.token(access_=[access("repository", "team/app", "*")])
    grant = controller.authorize(bearer(token), [PUSH])
    assert grant.allows(Access("repository", "team/app", ("delete",)))


def test_catalog_needs_registry_catalog_star(controller, rsa_issuer):
    good = rsa_issuer.token(access_=[access("registry", "catalog", "*")])
    controller.authorize(bearer(good), [CATALOG])
    wrong = rsa_issuer.token(access_=[access("registry", "catalog", "pull")])
    problem = denied(controller, bearer(wrong), [CATALOG])
    assert problem.challenge.endswith(',scope="registry:catalog:*",error="insufficient_scope"')


def test_access_split_over_entries_adds_up(controller, rsa_issuer):
    token = rsa_issuer.token(access_=[access("repository", "team/app", "pull"),
                                      access("repository", "team/app", "push")])
    controller.authorize(bearer(token), [PUSH])


def test_grant_tells_about_a_mount_source(controller, rsa_issuer):
    token = rsa_issuer.token(access_=[*FULL, access("repository", "team/src", "pull")])
    grant = controller.authorize(bearer(token), [PUSH])
    assert grant.allows(Access("repository", "team/src", ("pull",)))
    assert not grant.allows(Access("repository", "team/secret", ("pull",)))


# ---------------------------------------------------------------------------- claims


def test_expired_beyond_leeway(controller, rsa_issuer):
    now = time.time()
    assert_invalid(controller, rsa_issuer.token(access_=FULL, exp=int(now - 75),
                                                nbf=int(now - 600), iat=int(now - 600)))


def test_expired_within_leeway_is_accepted(controller, rsa_issuer):
    now = time.time()
    token = rsa_issuer.token(access_=FULL, exp=int(now - 30), nbf=int(now - 600),
                             iat=int(now - 600))
    controller.authorize(bearer(token), [PUSH])


def test_not_before_in_the_future(controller, rsa_issuer):
    now = time.time()
    assert_invalid(controller, rsa_issuer.token(access_=FULL, nbf=int(now + 120)))
    controller.authorize(bearer(rsa_issuer.token(access_=FULL, nbf=int(now + 30))), [PUSH])


def test_issued_in_the_future(controller, rsa_issuer):
    assert_invalid(controller, rsa_issuer.token(access_=FULL, iat=int(time.time() + 600)))


@pytest.mark.parametrize("claims", [
    {"exp": None},
    {"exp": "9999999999"},
    {"exp": True},
    {"aud": "someone-else"},
    {"aud": ["a", "b"]},
    {"aud": None},
    {"aud": [SERVICE, 1]},
    {"iss": "evil-issuer"},
    {"iss": None},
    {"sub": 42},
    {"access": {"type": "repository"}},
    {"access": [{"type": "repository", "name": "team/app", "actions": "pull,push"}]},
    {"access": ["repository:team/app:pull"]},
])
def test_bad_claims(controller, rsa_issuer, claims):
    assert_invalid(controller, rsa_issuer.token(make_claims(access_=FULL, **claims)))


def test_nan_and_infinity_are_not_numbers(controller, rsa_issuer):
    header = b64url(json.dumps({"alg": "RS256", "kid": rsa_issuer.kid}).encode())
    body = json.dumps(make_claims(access_=FULL)).replace(
        '"exp": ', '"exp": Infinity, "x": ').encode()
    signing_input = f"{header}.{b64url(body)}"
    token = f"{signing_input}.{b64url(sign('RS256', rsa_issuer.key, signing_input.encode()))}"
    assert_invalid(controller, token)


# ----------------------------------------------------------------------------- scope


def test_token_for_another_repository(controller, rsa_issuer):
    token = rsa_issuer.token(access_=[access("repository", "team/other", "pull", "push")])
    problem = denied(controller, bearer(token), [PUSH])
    assert problem.challenge == (f'Bearer realm="{REALM}",service="{SERVICE}",'
                                 'scope="repository:team/app:pull,push",'
                                 'error="insufficient_scope"')
    assert problem.accesses == (PUSH,)


def test_insufficient_actions(controller, rsa_issuer):
    token = rsa_issuer.token(access_=[access("repository", "team/app", "pull")])
    controller.authorize(bearer(token), [PULL])
    problem = denied(controller, bearer(token), [PUSH])
    assert problem.challenge.endswith('error="insufficient_scope"')
    assert problem.message == "insufficient scope"


def test_prefix_of_a_name_is_not_that_name(controller, rsa_issuer):
    token = rsa_issuer.token(access_=[access("repository", "team", "*"),
                                      access("repository", "team/app/x", "*"),
                                      access("repository", "team/ap", "*")])
    denied(controller, bearer(token), [PULL])


# ----------------------------------------------------------------- forgeries and keys


def test_alg_none(controller, rsa_issuer):
    claims = make_claims(access_=FULL)
    assert_invalid(controller, encode({"alg": "none", "typ": "JWT"}, claims, None))
    assert_invalid(controller, encode({"alg": "none", "kid": rsa_issuer.kid}, claims, None))
    assert_invalid(controller, encode({"alg": "None", "kid": rsa_issuer.kid}, claims, None))
    # A valid signature under alg=none's header is still not acceptable.
    assert_invalid(controller, rsa_issuer.token(access_=FULL, alg="none"))


@pytest.mark.parametrize("algorithms", [None, ["HS256", "RS256", "ES256"]])
def test_hs256_keyed_with_the_public_key(tmp_path, rsa_issuer, algorithms):
    """Alg confusion: the verifier must never use a public key as an HMAC secret."""
    options = {"signingalgorithms": algorithms} if algorithms else {}
    controller = controller_for(tmp_path, bundle=[rsa_issuer], **options)
    claims = make_claims(access_=FULL)
    for secret in (rsa_issuer.public_pem(), rsa_issuer.pem(),
                   json.dumps(rsa_issuer.jwk()).encode()):
        for header in ({"alg": "HS256", "kid": rsa_issuer.kid}, {"alg": "HS256"}):
            assert_invalid(controller, encode(header, claims, secret))


def test_signed_by_a_key_not_in_the_bundle(controller, attacker, rsa_issuer):
    assert_invalid(controller, attacker.token(access_=FULL))  # its own kid
    assert_invalid(controller, attacker.token(access_=FULL, header={"kid": rsa_issuer.kid}))
    assert_invalid(controller, attacker.token(access_=FULL, header={"kid": None}))


def test_jwk_header_with_trusted_kid_and_foreign_key_material(controller, attacker, rsa_issuer):
    """CVE-2025-24976: the embedded key must *be* the trusted key, not just claim its kid."""
    forged = attacker.token(access_=FULL, header={
        "kid": None, "jwk": attacker.jwk(kid=rsa_issuer.kid)})
    assert_invalid(controller, forged)
    forged_with_kid = attacker.token(access_=FULL, header={
        "kid": rsa_issuer.kid, "jwk": attacker.jwk(kid=rsa_issuer.kid)})
    assert_invalid(controller, forged_with_kid)


def test_jwk_header_with_the_trusted_key_is_accepted(controller, rsa_issuer):
    token = rsa_issuer.token(access_=FULL, header={
        "kid": None, "jwk": rsa_issuer.jwk(kid=rsa_issuer.kid)})
    controller.authorize(bearer(token), [PUSH])
    no_kid = rsa_issuer.token(access_=FULL, header={"kid": None, "jwk": rsa_issuer.jwk()})
    assert_invalid(controller, no_kid)


def test_jwk_header_with_symmetric_key(controller, rsa_issuer):
    secret = b64url(b"attacker secret")
    token = encode({"alg": "HS256", "jwk": {"kty": "oct", "k": secret, "kid": rsa_issuer.kid}},
                   make_claims(access_=FULL), b"attacker secret")
    assert_invalid(controller, token)


def test_jku_and_x5u_are_never_followed(controller, attacker):
    for header in ({"jku": "http://127.0.0.1:1/jwks.json"},
                   {"x5u": "http://127.0.0.1:1/cert.pem"}):
        assert_invalid(controller, attacker.token(access_=FULL, header=header))


def test_x5c_chain_not_rooted_in_the_bundle(controller, attacker):
    assert_invalid(controller, attacker.token(access_=FULL, header={
        "kid": None, "x5c": [attacker.x5c()]}))


def test_x5c_wins_over_a_trusted_kid(controller, attacker, rsa_issuer):
    # The header names a trusted key, but the chain (checked first) is the attacker's.
    token = rsa_issuer.token(access_=FULL, header={"x5c": [attacker.x5c()]})
    assert_invalid(controller, token)


def test_x5c_leaf_issued_by_a_bundle_ca(tmp_path):
    ca = Issuer.new("root-ca", ca=True)
    leaf_key = ec_key()
    leaf = Issuer(leaf_key, make_cert("leaf-signer", leaf_key, issuer=ca))
    controller = controller_for(tmp_path, bundle=[ca])
    token = leaf.token(access_=FULL, header={"kid": None, "x5c": [leaf.x5c()]})
    controller.authorize(bearer(token), [PUSH])
    # The leaf's kid alone is not trusted: only the chain vouches for it.
    assert_invalid(controller, leaf.token(access_=FULL))


def test_x5c_with_intermediate(tmp_path):
    ca = Issuer.new("root-ca", ca=True)
    middle_key = rsa_key()
    middle = Issuer(middle_key, make_cert("intermediate", middle_key, issuer=ca, ca=True))
    leaf_key = rsa_key()
    leaf = Issuer(leaf_key, make_cert("leaf", leaf_key, issuer=middle))
    controller = controller_for(tmp_path, bundle=[ca])
    chain = [leaf.x5c(), middle.x5c()]
    controller.authorize(bearer(leaf.token(access_=FULL, header={"kid": None, "x5c": chain})),
                         [PUSH])
    assert_invalid(controller, leaf.token(access_=FULL, header={"kid": None,
                                                                "x5c": [leaf.x5c()]}))


def test_x5c_intermediate_must_be_a_ca(tmp_path):
    ca = Issuer.new("root-ca", ca=True)
    middle_key = rsa_key()
    middle = Issuer(middle_key, make_cert("not-a-ca", middle_key, issuer=ca, ca=False))
    leaf_key = rsa_key()
    leaf = Issuer(leaf_key, make_cert("leaf", leaf_key, issuer=middle))
    controller = controller_for(tmp_path, bundle=[ca])
    assert_invalid(controller, leaf.token(access_=FULL, header={
        "kid": None, "x5c": [leaf.x5c(), middle.x5c()]}))


def test_x5c_expired_leaf(tmp_path):
    ca = Issuer.new("root-ca", ca=True)
    leaf_key = rsa_key()
    leaf = Issuer(leaf_key, make_cert("old", leaf_key, issuer=ca, days=-1, start_days_ago=10))
    controller = controller_for(tmp_path, bundle=[ca])
    assert_invalid(controller, leaf.token(access_=FULL, header={"kid": None,
                                                                "x5c": [leaf.x5c()]}))


def test_x5c_of_the_bundle_cert_itself(controller, rsa_issuer):
    token = rsa_issuer.token(access_=FULL, header={"kid": None, "x5c": [rsa_issuer.x5c()]})
    controller.authorize(bearer(token), [PUSH])


@pytest.mark.parametrize("x5c", [[], "abc", ["!!!"], [base64.b64encode(b"junk").decode()],
                                 [1]])
def test_x5c_malformed(controller, rsa_issuer, x5c):
    assert_invalid(controller, rsa_issuer.token(access_=FULL, header={"x5c": x5c}))


def test_alg_must_fit_the_key_type(controller, rsa_issuer, ec_issuer):
    # Each is signed correctly for its alg, by a key of another type than the kid names.
    ed_signer = Issuer.new("ed", ed25519.Ed25519PrivateKey.generate())
    assert_invalid(controller, rsa_issuer.token(access_=FULL, header={"kid": ec_issuer.kid}))
    assert_invalid(controller, ec_issuer.token(access_=FULL, header={"kid": rsa_issuer.kid}))
    assert_invalid(controller, ed_signer.token(access_=FULL, header={"kid": rsa_issuer.kid}))


def test_signing_algorithms_restrict(tmp_path, rsa_issuer, ec_issuer):
    controller = controller_for(tmp_path, bundle=[rsa_issuer, ec_issuer],
                                signingalgorithms=["ES256"])
    controller.authorize(bearer(ec_issuer.token(access_=FULL)), [PUSH])
    assert_invalid(controller, rsa_issuer.token(access_=FULL))


def test_libtrust_key_id_of_a_bundle_cert(controller, rsa_issuer):
    kid = libtrust_key_id(rsa_issuer.key.public_key())
    assert len(kid.split(":")) == 12 and all(len(part) == 4 for part in kid.split(":"))
    controller.authorize(bearer(rsa_issuer.token(access_=FULL, header={"kid": kid})), [PUSH])


def test_no_kid_with_several_trusted_keys(controller, rsa_issuer):
    assert_invalid(controller, rsa_issuer.token(access_=FULL, header={"kid": None}))


def test_no_kid_with_exactly_one_trusted_key(tmp_path, rsa_issuer):
    controller = controller_for(tmp_path, bundle=[rsa_issuer])
    controller.authorize(bearer(rsa_issuer.token(access_=FULL, header={"kid": None})), [PUSH])


@pytest.mark.parametrize("raw", ["", "abc", "a.b", "a.b.c", "a.b.c.d", "e30.e30.", "e30.e30.e30",
                                 "eyJhbGciOiJSUzI1NiJ9.e30", "+++.e30.e30"])
def test_malformed_tokens(controller, raw):
    if raw:
        assert_invalid(controller, raw)
    else:
        assert "error=" not in denied(controller, "Bearer ").challenge


def test_duplicate_header_members_are_refused(controller, rsa_issuer, attacker):
    header = f'{{"alg":"RS256","kid":"{attacker.kid}","kid":"{rsa_issuer.kid}"}}'
    signing_input = f"{b64url(header.encode())}.{b64url(json.dumps(make_claims()).encode())}"
    token = f"{signing_input}.{b64url(sign('RS256', rsa_issuer.key, signing_input.encode()))}"
    assert_invalid(controller, token)


def test_tampered_claims(controller, rsa_issuer):
    token = rsa_issuer.token(access_=[access("repository", "team/app", "pull")])
    header, _, signature = token.split(".")
    claims = b64url(json.dumps(make_claims(access_=FULL)).encode())
    assert_invalid(controller, f"{header}.{claims}.{signature}")


@pytest.mark.parametrize("header", [None, "", "Basic YWxpY2U6cHc=", "Bearer", "Token abc"])
def test_no_bearer_token_gets_a_plain_challenge(controller, header):
    problem = denied(controller, header, [PUSH])
    assert problem.challenge == (f'Bearer realm="{REALM}",service="{SERVICE}",'
                                 'scope="repository:team/app:pull,push"')
    assert problem.message == "authentication required"


def test_bearer_scheme_is_case_insensitive(controller, rsa_issuer):
    controller.authorize("bearer " + rsa_issuer.token(access_=FULL), [PUSH])


# ------------------------------------------------------------------------------ JWKS


def test_jwks_file(tmp_path):
    rsa_signer = Issuer.new("jwks-rsa")
    ed_signer = Issuer.new("jwks-ed", ed25519.Ed25519PrivateKey.generate())
    controller = controller_for(tmp_path, jwks=[rsa_signer.jwk(kid="rsa-1", use="sig"),
                                                ed_signer.jwk(kid="ed-1")])
    controller.authorize(bearer(rsa_signer.token(access_=FULL, header={"kid": "rsa-1"})), [PUSH])
    controller.authorize(bearer(ed_signer.token(access_=FULL, header={"kid": "ed-1"})), [PUSH])
    assert_invalid(controller, rsa_signer.token(access_=FULL, header={"kid": "ed-1"}))
    assert_invalid(controller, rsa_signer.token(access_=FULL, header={"kid": "unknown"}))
    assert_invalid(controller, rsa_signer.token(access_=FULL))  # thumbprint is not its kid


def test_jwks_key_without_kid_is_known_by_thumbprint(tmp_path):
    signer = Issuer.new("jwks")
    controller = controller_for(tmp_path, jwks=[signer.jwk()])
    assert signer.kid == jwk_thumbprint(signer.key.public_key())
    controller.authorize(bearer(signer.token(access_=FULL)), [PUSH])
    controller.authorize(bearer(signer.token(access_=FULL, header={"kid": None})), [PUSH])


def test_jwks_alg_pins_the_key(tmp_path):
    signer = Issuer.new("jwks")
    controller = controller_for(tmp_path, jwks=[signer.jwk(kid="k", alg="PS256")])
    controller.authorize(bearer(signer.token(access_=FULL, alg="PS256", header={"kid": "k"})),
                         [PUSH])
    assert_invalid(controller, signer.token(access_=FULL, alg="RS256", header={"kid": "k"}))


def test_jwks_encryption_keys_are_not_trusted(tmp_path, rsa_issuer):
    signer = Issuer.new("jwks")
    controller = controller_for(tmp_path, bundle=[rsa_issuer],
                                jwks=[signer.jwk(kid="enc", use="enc")])
    assert_invalid(controller, signer.token(access_=FULL, header={"kid": "enc"}))


def test_jwks_and_bundle_together(tmp_path, rsa_issuer):
    signer = Issuer.new("jwks", ec_key())
    controller = controller_for(tmp_path, bundle=[rsa_issuer], jwks=[signer.jwk(kid="ec")])
    controller.authorize(bearer(signer.token(access_=FULL, header={"kid": "ec"})), [PUSH])
    controller.authorize(bearer(rsa_issuer.token(access_=FULL)), [PUSH])


# ----------------------------------------------------------------------------- cache


def test_signature_checked_once_time_window_every_time(controller, rsa_issuer, monkeypatch):
    calls = []
    real = token_module.verify_signature
    monkeypatch.setattr(token_module, "verify_signature",
                        lambda *args: calls.append(args[0]) or real(*args))
    token = rsa_issuer.token(access_=FULL, exp=int(time.time() + 10))
    for _ in range(3):
        controller.authorize(bearer(token), [PUSH])
    assert len(calls) == 1
    now = time.time()
    controller.verifier.clock = lambda: now + 200
    assert_invalid(controller, token)
    controller.verifier.clock = time.time
    # An insufficient scope is decided per request, cached token or not.
    denied(controller, bearer(token), [Access("repository", "team/other", ("pull",))])
