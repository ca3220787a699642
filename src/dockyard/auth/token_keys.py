"""The keys a token may be signed with: ``rootcertbundle`` certificates and ``jwks`` entries.

Trusted keys are found by key id: a JWKS entry by its ``kid`` (or its RFC 7638 thumbprint when
it has none), a bundle certificate by the RFC 7638 thumbprint of its public key (Distribution
v3) and by its libtrust key id (Distribution 2.x). Keys are compared by their DER
SubjectPublicKeyInfo, never by id alone (CVE-2025-24976).
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

PublicKey = (rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
             | ed448.Ed448PublicKey)
PUBLIC_KEY_TYPES = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey,
                    ed448.Ed448PublicKey)
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
EC_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
ASYMMETRIC_ALGORITHMS = RSA_ALGORITHMS | frozenset(EC_ALGORITHMS.values()) | {"EdDSA"}
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
MAX_CHAIN = 10


class BadKey(ValueError):
    """A key, certificate or chain cannot be used."""


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key tokens may be signed with, and the algorithm it is pinned to, if any."""

    key: PublicKey
    der: bytes = field(repr=False)
    alg: str | None = None

    @classmethod
    def of(cls, key: PublicKey, alg: str | None = None) -> "TrustedKey":
        return cls(key, spki_der(key), alg)

    def algorithms(self) -> frozenset[str]:
        """The JWS algorithms this key can verify (and only those)."""
        allowed = key_algorithms(self.key)
        return allowed & {self.alg} if self.alg else allowed


def spki_der(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def key_algorithms(key: PublicKey) -> frozenset[str]:
    """Algorithms that match the key type: RS*/PS* for RSA, ES* by curve, EdDSA for Ed*."""
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = EC_ALGORITHMS.get(key.curve.name)
        return frozenset({alg}) if alg else frozenset()
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return frozenset({"EdDSA"})
    return frozenset()


def _b64url_uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode("ascii")


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The required members of the key's JWK (what RFC 7638 hashes)."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        crv = EC_CURVE_NAMES.get(key.curve.name)
        if crv is None:
            raise BadKey(f"unsupported elliptic curve {key.curve.name}")
        ec_numbers = key.public_numbers()
        size = (key.curve.key_size + 7) // 8
        return {"crv": crv, "kty": "EC", "x": _b64url_uint(ec_numbers.x, size),
                "y": _b64url_uint(ec_numbers.y, size)}
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    crv = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
    return {"crv": crv, "kty": "OKP",
            "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")}


def jwk_thumbprint(key: PublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url without padding."""
    canonical = json.dumps(public_jwk(key), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def libtrust_key_id(key: PublicKey) -> str:
    """Distribution 2.x's key id: base32 of SHA-256(SPKI)[:30] in ``:``-separated quads."""
    encoded = base64.b32encode(hashlib.sha256(spki_der(key)).digest()[:30]).decode("ascii")
    encoded = encoded.rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


def public_key_of(value: Any) -> PublicKey:
    """``value`` as a supported public key (private keys are reduced to their public half)."""
    if hasattr(value, "public_key") and not isinstance(value, PUBLIC_KEY_TYPES):
        value = value.public_key()
    if not isinstance(value, PUBLIC_KEY_TYPES):
        raise BadKey(f"unsupported key type {type(value).__name__}")
    if not key_algorithms(value):
        raise BadKey("unsupported key (curve)")
    return value


def key_from_jwk(jwk: Any) -> TrustedKey:
    """A JWK object as a trusted-key candidate; symmetric (``oct``) keys are refused."""
    if not isinstance(jwk, dict):
        raise BadKey("a JWK must be a JSON object")
    if jwk.get("kty") not in ("RSA", "EC", "OKP"):
        raise BadKey(f"unsupported key type {str(jwk.get('kty'))[:20]!r} (only RSA, EC and "
                        "OKP public keys can verify tokens)")
    alg = jwk.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in ASYMMETRIC_ALGORITHMS):
        raise BadKey(f"unsupported key algorithm {str(alg)[:20]!r}")
    try:
        parsed = jwt.PyJWK(jwk).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
        raise BadKey(f"invalid JWK: {error}") from None
    trusted = TrustedKey.of(public_key_of(parsed), alg)
    if alg is not None and not trusted.algorithms():
        raise BadKey(f"key algorithm {alg} does not fit the key type")
    return trusted


def parse_x5c(chain: Any) -> list[x509.Certificate]:
    """The ``x5c`` header: base64 (not base64url) DER certificates, leaf first."""
    if not isinstance(chain, list) or not chain or len(chain) > MAX_CHAIN:
        raise BadKey(f"x5c must be a list of 1 to {MAX_CHAIN} certificates")
    certificates = []
    for item in chain:
        if not isinstance(item, str):
            raise BadKey("x5c entries must be strings")
        try:
            certificates.append(x509.load_der_x509_certificate(
                base64.b64decode(item, validate=True)))
        except (binascii.Error, ValueError) as error:
            raise BadKey(f"x5c holds an invalid certificate: {error}") from None
    return certificates


def verify_chain(chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate],
                 now: datetime | None = None) -> PublicKey:
    """The leaf's key, if the chain leads from it to a bundle certificate (as Go verifies).

    The leaf may itself be a bundle certificate. Otherwise each step must be signed by its
    issuer, found among the bundle (which ends the walk) or the chain's other certificates
    (which must be CAs). Every certificate on the path must be within its validity period.
    """
    now = now or datetime.now(UTC)
    root_ders = {cert.public_bytes(serialization.Encoding.DER) for cert in roots}
    intermediates = list(chain[1:])
    current = chain[0]
    for _ in range(MAX_CHAIN + 1):
        _check_validity(current, now)
        if current.public_bytes(serialization.Encoding.DER) in root_ders:
            return public_key_of(chain[0].public_key())
        issuer = _find_issuer(current, roots, intermediates)
        if issuer is None:
            raise BadKey("certificate chain is not rooted in rootcertbundle")
        if issuer.public_bytes(serialization.Encoding.DER) not in root_ders:
            _check_ca(issuer)
            intermediates.remove(issuer)
        current = issuer
    raise BadKey("certificate chain too long")


def _find_issuer(cert: x509.Certificate, roots: Sequence[x509.Certificate],
                 intermediates: Sequence[x509.Certificate]) -> x509.Certificate | None:
    for candidate in [*roots, *intermediates]:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except Exception:  # noqa: BLE001 - InvalidSignature, ValueError, TypeError, unsupported
            continue
        return candidate
    return None


def _check_validity(cert: x509.Certificate, now: datetime) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise BadKey(f"certificate {cert.subject.rfc4514_string()[:200]!r} is outside its "
                        "validity period")


def _check_ca(cert: x509.Certificate) -> None:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise BadKey("an intermediate certificate in x5c is not a CA")
