"""``auth.token``: bearer JWTs from an external issuer, verified as Distribution verifies them.

Only verification happens here; the issuer (the ``realm``) is another service. A token is
accepted when:

* its signature verifies with a trusted key, found in this order: an ``x5c`` chain leading to
  a ``rootcertbundle`` certificate; else an embedded ``jwk`` that equals a trusted key in
  both ``kid`` and key material (CVE-2025-24976); else ``kid`` among the trusted keys; else
  the only trusted key. ``jku``/``x5u`` are never fetched;
* its ``alg`` is in ``signingalgorithms`` *and* fits the key type (RS*/PS* for RSA, ES* by
  curve, EdDSA for Ed25519/Ed448); ``none`` and HS* never verify (no alg confusion);
* ``iss`` is the issuer, ``aud`` names the service, ``exp`` (required), ``nbf`` and ``iat``
  hold with 60 s of leeway;
* its ``access`` claims cover every access the request needs (``*`` covers any action).
"""

import base64
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from dockyard.auth.base import Access, Grant, Unauthorized
from dockyard.auth.challenge import INSUFFICIENT_SCOPE, INVALID_TOKEN, bearer_challenge
from dockyard.auth.token_keys import (
    ASYMMETRIC_ALGORITHMS,
    BadKey,
    PublicKey,
    TrustedKey,
    key_from_jwk,
    parse_x5c,
    verify_chain,
)

log = logging.getLogger("dockyard.auth.token")

LEEWAY = 60.0  # seconds of clock skew allowed on exp, nbf and iat
MAX_TOKEN_LENGTH = 64 * 1024
CACHE_SIZE = 4096
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


class TokenError(Exception):
    """The token is malformed or does not verify (the reason is logged, never sent)."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a verified token says: who, what, and when it is usable."""

    subject: str | None
    access: frozenset[tuple[str, str, str]]  # (type, name, action)
    expires: float
    not_before: float | None = None
    issued_at: float | None = None

    def allows(self, access: Access) -> bool:
        granted = self.access
        return all((access.type, access.name, action) in granted
                   or (access.type, access.name, "*") in granted
                   for action in access.actions)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """The grant of a verified token: exactly its ``access`` claims."""

    token: VerifiedToken

    @property
    def user(self) -> str | None:
        return self.token.subject

    def allows(self, access: Access) -> bool:
        return self.token.allows(access)


class TokenVerifier:
    """Checks a compact JWS against fixed keys, algorithms, issuer and service."""

    def __init__(self, issuer: str, service: str, *, roots: Sequence[x509.Certificate] = (),
                 keys: Mapping[str, TrustedKey] | None = None,
                 algorithms: frozenset[str] = ASYMMETRIC_ALGORITHMS,
                 clock: Callable[[], float] = time.time):
        self.issuer = issuer
        self.service = service
        self.roots = list(roots)
        self.keys = dict(keys or {})
        self.algorithms = algorithms & ASYMMETRIC_ALGORITHMS
        self.clock = clock
        distinct = {key.der: key for key in self.keys.values()}
        self._only_key = next(iter(distinct.values())) if len(distinct) == 1 else None

    def verify(self, raw: str) -> VerifiedToken:
        if len(raw) > MAX_TOKEN_LENGTH:
            raise TokenError("token too long")
        parts = raw.split(".")
        if len(parts) != 3:
            raise TokenError("not a compact JWS")
        header = _json_object(_b64url(parts[0]), "header")
        payload, signature = _b64url(parts[1]), _b64url(parts[2])
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise TokenError(f"algorithm {str(alg)[:20]!r} not allowed")
        if "crit" in header or header.get("b64") is False:
            raise TokenError("critical header extensions are not supported")
        key = self._signing_key(header)
        if alg not in key.algorithms():
            raise TokenError(f"algorithm {alg} does not fit the signing key")
        if not verify_signature(alg, key.key, f"{parts[0]}.{parts[1]}".encode("ascii"),
                                signature):
            raise TokenError("bad signature")
        token = _claims(_json_object(payload, "claims"), self.issuer, self.service)
        self.check_times(token)
        return token

    def check_times(self, token: VerifiedToken) -> None:
        now = self.clock()
        if now > token.expires + LEEWAY:
            raise TokenError("token expired")
        if token.not_before is not None and now < token.not_before - LEEWAY:
            raise TokenError("token not valid yet (nbf)")
        if token.issued_at is not None and token.issued_at > now + LEEWAY:
            raise TokenError("token issued in the future (iat)")

    def _signing_key(self, header: dict[str, Any]) -> TrustedKey:
        try:
            if "x5c" in header:
                return self._chain_key(header["x5c"])
            if "jwk" in header:
                return self._embedded_key(header["jwk"])
        except BadKey as error:
            raise TokenError(str(error)) from None
        kid = header.get("kid")
        if kid is not None:
            trusted = self.keys.get(kid) if isinstance(kid, str) else None
            if trusted is None:
                raise TokenError(f"token signed by an untrusted key id {str(kid)[:100]!r}")
            return trusted
        if self._only_key is None:
            raise TokenError("token names no key and more than one key is trusted")
        return self._only_key

    def _chain_key(self, x5c: Any) -> TrustedKey:
        if not self.roots:
            raise BadKey("x5c given but no rootcertbundle is configured")
        return TrustedKey.of(verify_chain(parse_x5c(x5c), self.roots))

    def _embedded_key(self, jwk: Any) -> TrustedKey:
        embedded = key_from_jwk(jwk)
        if "x5c" in jwk:  # a JWK carrying its own chain: the leaf must be this very key
            chained = self._chain_key(jwk["x5c"])
            if chained.der != embedded.der:
                raise BadKey("the JWK is not the key of its x5c leaf certificate")
            return chained
        kid = jwk.get("kid")
        trusted = self.keys.get(kid) if isinstance(kid, str) else None
        if trusted is None:
            raise BadKey("untrusted JWK with no certificate chain")
        if trusted.der != embedded.der:
            raise BadKey(f"JWK key material differs from trusted key {kid[:100]!r}")
        return trusted


class TokenAccessController:
    """``Authorization: Bearer <jwt>``; challenges name the realm, service and scopes."""

    def __init__(self, realm: str, service: str, verifier: TokenVerifier,
                 cache_size: int = CACHE_SIZE):
        self.realm = realm
        self.service = service
        self.verifier = verifier
        self._cache: OrderedDict[bytes, VerifiedToken] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def authorize(self, authorization: str | None, accesses: list[Access]) -> Grant:
        needed = tuple(accesses)
        scheme, _, raw = (authorization or "").partition(" ")
        if not raw or scheme.lower() != "bearer":
            raise Unauthorized(self.challenge(needed), "authentication required", needed)
        try:
            token = self._verified(raw)
        except TokenError as error:
            log.info("rejected bearer token: %s", error)
            raise Unauthorized(self.challenge(needed, INVALID_TOKEN), "invalid token",
                               needed) from None
        if not all(token.allows(access) for access in needed):
            raise Unauthorized(self.challenge(needed, INSUFFICIENT_SCOPE), "insufficient scope",
                               needed)
        return TokenGrant(token)

    def challenge(self, accesses: Sequence[Access], error: str | None = None) -> str:
        return bearer_challenge(self.realm, self.service, tuple(accesses), error)

    def _verified(self, raw: str) -> VerifiedToken:
        """Signatures are checked once per token; the time window on every use."""
        key = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).digest()
        with self._lock:
            token = self._cache.get(key)
            if token is not None:
                self._cache.move_to_end(key)
        if token is not None:
            try:
                self.verifier.check_times(token)
            except TokenError:
                with self._lock:
                    self._cache.pop(key, None)
                raise
            return token
        token = self.verifier.verify(raw)
        with self._lock:
            self._cache[key] = token
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return token


def verify_signature(alg: str, key: PublicKey, message: bytes, signature: bytes) -> bool:
    """JWS signature check for the asymmetric algorithms; False for anything else."""
    try:
        if alg[:2] == "RS" and isinstance(key, rsa.RSAPublicKey) and alg[2:] in _HASHES:
            key.verify(signature, message, padding.PKCS1v15(), _HASHES[alg[2:]]())
        elif alg[:2] == "PS" and isinstance(key, rsa.RSAPublicKey) and alg[2:] in _HASHES:
            digest = _HASHES[alg[2:]]()
            key.verify(signature, message, padding.PSS(padding.MGF1(digest), digest.digest_size),
                       digest)
        elif alg[:2] == "ES" and isinstance(key, ec.EllipticCurvePublicKey) \
                and alg[2:] in _HASHES:
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                       int.from_bytes(signature[size:], "big"))
            key.verify(der, message, ec.ECDSA(_HASHES[alg[2:]]()))
        elif alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, message)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _b64url(segment: str) -> bytes:
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise TokenError("invalid base64url segment")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                raise TokenError(f"duplicate member {name[:50]!r} in the {what}")
            result[name] = value
        return result

    def no_constants(name: str) -> Any:
        raise TokenError(f"{name} is not JSON")

    try:
        value = json.loads(data, object_pairs_hook=unique, parse_constant=no_constants)
    except (ValueError, RecursionError):
        raise TokenError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenError(f"the {what} is not a JSON object")
    return value


def _claims(claims: dict[str, Any], issuer: str, service: str) -> VerifiedToken:
    if claims.get("iss") != issuer:
        raise TokenError(f"untrusted issuer {str(claims.get('iss'))[:100]!r}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise TokenError("aud must be a string or a list of strings")
    if service not in audiences:
        raise TokenError(f"token intended for another audience {audiences[:5]!r}")
    expires = _number(claims, "exp")
    if expires is None:
        raise TokenError("token has no exp")
    subject = claims.get("sub")
    if subject is not None and not isinstance(subject, str):
        raise TokenError("sub must be a string")
    return VerifiedToken(subject, _access(claims.get("access")), expires,
                         _number(claims, "nbf"), _number(claims, "iat"))


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        raise TokenError(f"{name} must be a number")
    return float(value)


def _access(value: Any) -> frozenset[tuple[str, str, str]]:
    """The ``access`` claim as (type, name, action) triples; ``class`` is ignored, as in Go."""
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise TokenError("access must be a list")
    granted: set[tuple[str, str, str]] = set()
    for entry in value:
        if not isinstance(entry, dict):
            raise TokenError("access entries must be objects")
        type_, name, actions = entry.get("type"), entry.get("name"), entry.get("actions") or []
        if not isinstance(type_, str) or not isinstance(name, str) \
                or not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise TokenError("access entries need string type and name and a list of actions")
        granted.update((type_, name, action) for action in actions)
    return frozenset(granted)
