"""Authentication and authorisation for the registry API (``auth`` in config.yml).

``htpasswd``, ``token`` and ``silly`` are Distribution's three types, with its option names.
A configuration that cannot work (missing option, unreadable key file, no usable key) is a
:class:`ConfigError` naming the key, raised when the controller is built.
"""

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from dockyard.auth.base import AccessController
from dockyard.auth.htpasswd import HtpasswdAccessController, HtpasswdError
from dockyard.auth.silly import SillyAccessController
from dockyard.auth.token import TokenAccessController, TokenVerifier
from dockyard.auth.token_keys import (
    ASYMMETRIC_ALGORITHMS,
    HMAC_ALGORITHMS,
    BadKey,
    TrustedKey,
    jwk_thumbprint,
    key_from_jwk,
    libtrust_key_id,
    public_key_of,
)
from dockyard.config import Config, ConfigError

T = TypeVar("T")
log = logging.getLogger("dockyard.auth")


def build_access_controller(config: Config) -> AccessController | None:
    """The controller ``auth`` configures, or None when the registry is open."""
    if not config.auth:
        return None
    (kind, options), = config.auth.items()
    options = options or {}
    if not isinstance(options, dict):
        raise _error(f"auth.{kind}", "must be a mapping of options")
    if kind == "htpasswd":
        return _htpasswd(options)
    if kind == "token":
        return _token(options)
    if kind == "silly":
        return SillyAccessController(_string(options, "silly", "realm"),
                                     _string(options, "silly", "service"))
    raise _error(f"auth.{kind}", "unknown auth type (Dockyard knows htpasswd, token, silly)")


def _htpasswd(options: dict[str, Any]) -> HtpasswdAccessController:
    realm = _string(options, "htpasswd", "realm")
    path = _string(options, "htpasswd", "path", non_empty=True)
    try:
        return HtpasswdAccessController(realm, Path(path))
    except HtpasswdError as error:
        raise _error("auth.htpasswd.path", f"{path}: {error}") from None
    except OSError as error:
        raise _error("auth.htpasswd.path", f"{path}: {error.strerror or error}") from None


def _token(options: dict[str, Any]) -> TokenAccessController:
    realm = _string(options, "token", "realm")
    issuer = _string(options, "token", "issuer", non_empty=True)
    service = _string(options, "token", "service", non_empty=True)
    bundle = _string(options, "token", "rootcertbundle", required=False)
    jwks = _string(options, "token", "jwks", required=False)
    if not bundle and not jwks:
        raise ConfigError("config: auth.token.rootcertbundle: token auth needs "
                          "rootcertbundle or jwks (at least one signing key)",
                          ["auth.token.rootcertbundle", "auth.token.jwks"])
    keys: dict[str, TrustedKey] = {}
    roots = _load_bundle(bundle, keys) if bundle else []
    if jwks:
        _load_jwks(jwks, keys)
    if not keys and not roots:
        raise _error("auth.token.jwks" if jwks else "auth.token.rootcertbundle",
                     "token auth needs at least one signing key")
    if options.get("autoredirect"):
        # The realm would be built from each request's Host; the interface only sees the
        # Authorization header, so the configured realm is used as is.
        log.warning("auth.token.autoredirect is not supported; the challenge names the "
                    "configured realm %s", realm)
    algorithms = _algorithms(options.get("signingalgorithms"))
    verifier = TokenVerifier(issuer, service, roots=roots, keys=keys, algorithms=algorithms)
    return TokenAccessController(realm, service, verifier)


def _load_bundle(path: str, keys: dict[str, TrustedKey]) -> list[x509.Certificate]:
    where = "auth.token.rootcertbundle"
    certificates = _parse_file(path, where, x509.load_pem_x509_certificates,
                               "no PEM certificate could be read")
    for certificate in certificates:
        try:
            trusted = TrustedKey.of(public_key_of(certificate.public_key()))
        except (BadKey, ValueError) as error:
            log.warning("rootcertbundle certificate %s cannot sign tokens by kid: %s",
                        certificate.subject.rfc4514_string(), error)
            continue
        for kid in (jwk_thumbprint(trusted.key), libtrust_key_id(trusted.key)):
            _add_key(keys, kid, trusted, where)
    return certificates


def _load_jwks(path: str, keys: dict[str, TrustedKey]) -> None:
    where = "auth.token.jwks"
    document = _parse_file(path, where, json.loads, "not JSON")
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise _error(where, f"{path}: expected a JWK set, {{\"keys\": [...]}}")
    for number, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("use", "sig") != "sig":
            continue
        try:
            trusted = key_from_jwk(entry)
        except BadKey as error:
            raise _error(where, f"{path}: key #{number}: {error}") from None
        kid = entry.get("kid")
        _add_key(keys, kid if isinstance(kid, str) and kid else jwk_thumbprint(trusted.key),
                 trusted, where)


def _parse_file(path: str, where: str, parse: Callable[[bytes], T], unreadable: str) -> T:
    """Read and parse a key file; either failure stops the start naming the key path."""
    try:
        return parse(Path(path).read_bytes())
    except OSError as error:
        raise _error(where, f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise _error(where, f"{path}: {unreadable} ({error})") from None


def _add_key(keys: dict[str, TrustedKey], kid: str, trusted: TrustedKey, where: str) -> None:
    known = keys.get(kid)
    if known is not None and known.der != trusted.der:
        raise _error(where, f"key id {kid!r} names two different keys")
    keys[kid] = trusted


def _algorithms(value: Any) -> frozenset[str]:
    """``signingalgorithms``; by default every asymmetric one (each key still fits its type)."""
    where = "auth.token.signingalgorithms"
    if value is None or value == []:
        return ASYMMETRIC_ALGORITHMS
    if isinstance(value, str):  # from a REGISTRY_AUTH_TOKEN_SIGNINGALGORITHMS override
        value = [v for v in value.strip("[]").replace(",", " ").split() if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _error(where, "must be a list of signing algorithms")
    chosen = set()
    for name in value:
        if name in HMAC_ALGORITHMS:
            log.warning("signing algorithm %s ignored: HMAC needs a shared secret and Dockyard "
                        "verifies tokens with public keys only", name)
        elif name in ASYMMETRIC_ALGORITHMS:
            chosen.add(name)
        else:
            raise _error(where, f"unsupported signing algorithm {name!r}")
    if not chosen:
        raise _error(where, "no usable algorithm (RS*, PS*, ES*, EdDSA)")
    return frozenset(chosen)


def _string(options: dict[str, Any], kind: str, key: str, *, required: bool = True,
            non_empty: bool = False) -> str:
    value = options.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (non_empty and not value):
        raise _error(f"auth.{kind}.{key}", f"must be set for {kind} auth (a string)")
    return value


def _error(path: str, message: str) -> ConfigError:
    return ConfigError(f"config: {path}: {message}", [path])
