"""Keys, certificates and JWTs made in the tests: an issuer we control, and forgeries.

``encode`` signs by hand (not with PyJWT) so tests can craft any header, including the
malicious ones a library would refuse to produce (``alg: none``, HS256 keyed with a PEM).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from dockyard.auth.token_keys import jwk_thumbprint, public_jwk

ISSUER = "test-issuer"
SERVICE = "dockyard-test"
REALM = "https://auth.example.test/token"
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_cert(subject: str, key: PrivateKey, *, issuer: Issuer | None = None,
              ca: bool = False, days: int = 30, start_days_ago: int = 1) -> x509.Certificate:
    """A certificate for ``key``, self-signed unless ``issuer`` is given."""
    now = dt.datetime.now(dt.UTC)
    sign_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(issuer.cert.subject if issuer else _name(subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=start_days_ago))
               .not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    algorithm = None if isinstance(sign_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(sign_key, algorithm)


@dataclass
class Issuer:
    """A signing key, its certificate, and the defaults for tokens it signs."""

    key: PrivateKey
    cert: x509.Certificate

    @classmethod
    def new(cls, name: str = "token-signer", key: PrivateKey | None = None,
            ca: bool = True) -> Issuer:
        key = key or rsa_key()
        return cls(key, make_cert(name, key, ca=ca))

    @property
    def alg(self) -> str:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return "RS256"
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return {"secp256r1": "ES256", "secp384r1": "ES384",
                    "secp521r1": "ES512"}[self.key.curve.name]
        return "EdDSA"

    @property
    def kid(self) -> str:
        return jwk_thumbprint(self.key.public_key())

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self, **extra: Any) -> dict[str, Any]:
        return {**public_jwk(self.key.public_key()), **extra}

    def x5c(self) -> str:
        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()

    def token(self, claims: dict[str, Any] | None = None, *, header: dict[str, Any] | None = None,
              alg: str | None = None, **claim_overrides: Any) -> str:
        """A token with ``kid`` = thumbprint unless ``header`` says otherwise."""
        head = {"typ": "JWT", "alg": alg or self.alg, "kid": self.kid}
        head.update(header or {})
        head = {k: v for k, v in head.items() if v is not None}
        return encode(head, claims if claims is not None else make_claims(**claim_overrides),
                      self.key)


def write_bundle(path: Path, *issuers: Issuer) -> Path:
    path.write_bytes(b"".join(i.pem() for i in issuers))
    return path


def access(type_: str, name: str, *actions: str) -> dict[str, Any]:
    return {"type": type_, "name": name, "actions": list(actions)}


def make_claims(*, access_: list[dict[str, Any]] | None = None, lifetime: float = 300,
                now: float | None = None, **overrides: Any) -> dict[str, Any]:
    now = time.time() if now is None else now
    claims: dict[str, Any] = {"iss": ISSUER, "aud": SERVICE, "sub": "alice",
                              "exp": int(now + lifetime), "nbf": int(now - 5),
                              "iat": int(now - 5), "jti": b64url(hashlib.sha256(
                                  str(now).encode()).digest()[:9]),
                              "access": access_ or []}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(alg: str, key: Any, message: bytes) -> bytes:
    """The JWS signature of ``message``; ``key`` is bytes for HS*, a private key otherwise."""
    if alg.lower() == "none":
        return b""
    if alg.startswith("HS"):
        return hmac.new(key, message, getattr(hashlib, "sha" + alg[2:])).digest()
    digest = _HASHES.get(alg[2:], hashes.SHA256)
    if alg.startswith("RS"):
        return bytes(key.sign(message, padding.PKCS1v15(), digest()))
    if alg.startswith("PS"):
        return bytes(key.sign(message, padding.PSS(padding.MGF1(digest()), digest().digest_size),
                              digest()))
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(digest())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return bytes(key.sign(message))  # EdDSA


def encode(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    signing_input = (b64url(json.dumps(header).encode()) + "."
                     + b64url(json.dumps(claims).encode()))
    return signing_input + "." + b64url(sign(header["alg"], key, signing_input.encode()))
