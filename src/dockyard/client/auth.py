"""The registry auth dance: answer ``WWW-Authenticate`` challenges with Basic or Bearer.

A registry says how it wants to be authenticated in the 401 of ``GET /v2/`` (or of any
request): ``Basic realm=...`` means send the password on every request; ``Bearer realm=...,
service=...,scope=...`` means fetch a token from ``realm`` for each scope (``repository:
team/app:pull,push``) and send that. Tokens are cached per scope until shortly before they
expire, so a copy of fifty layers asks the token service once per repository and action set.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from dataclasses import dataclass, field

import httpx

from dockyard.client.credentials import Credentials
from dockyard.client.errors import RegistryError, TransportError

log = logging.getLogger("dockyard.client")

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
# Renew a token this long before the registry would start refusing it.
_EXPIRY_MARGIN = 10.0
_DEFAULT_LIFETIME = 60.0


@dataclass(frozen=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` value: a scheme (lower case) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenge(header: str) -> Challenge | None:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm=...``)."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              .replace('\\"', '"') for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


def basic_header(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@dataclass
class _Token:
    value: str
    renew_at: float

    def fresh(self) -> bool:
        return time.monotonic() < self.renew_at


class Authenticator:
    """Remembers the registry's challenge and the tokens fetched per scope."""

    def __init__(self, registry: str, credentials: Credentials | None,
                 http: httpx.AsyncClient) -> None:
        self.registry = registry
        self.credentials = credentials
        self._http = http
        self.challenge: Challenge | None = None
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._aliases: dict[str, str] = {}
        self.token_requests = 0  # how many times the token service was asked (for tests, -v)

    async def headers(self, scope: str | None) -> dict[str, str]:
        """The Authorization header to send proactively for ``scope``, if any is known."""
        if self.challenge is None:
            return {}
        if self.challenge.scheme == "basic":
            return {"Authorization": basic_header(self.credentials)} if self.credentials else {}
        if self.challenge.scheme == "bearer":
            key = scope or self.challenge.params.get("scope", "")
            token = await self._token(self._aliases.get(key, key))
            return {"Authorization": f"Bearer {token}"}
        return {}

    def learn(self, header: str | None) -> None:
        """Record the scheme, realm and service of a challenge (from a 401)."""
        if header:
            challenge = parse_challenge(header)
            if challenge is not None and challenge.scheme in ("basic", "bearer"):
                self.challenge = challenge

    async def answer(self, header: str | None, scope: str | None, sent: bool) -> str | None:
        """Handle a 401: the scope to retry with, or None when retrying cannot help.

        ``sent`` says whether the refused request carried an Authorization header: a Basic
        refusal of a sent password (or of no password at all) is final. For Bearer the token
        for the scope is dropped and fetched again once; the transport retries only once, so
        a scope the token service does not grant fails after one extra token request. When the
        challenge names a different scope (the catalog, or push where pull was asked), that
        scope is used and remembered for the next request of the same kind.
        """
        self.learn(header)
        challenge = self.challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return "" if self.credentials is not None and not sent else None
        if challenge.scheme != "bearer":
            return None
        wanted = challenge.params.get("scope") or scope or ""
        if scope is not None and wanted != scope:
            self._aliases[scope] = wanted
        self._tokens.pop(wanted, None)
        return wanted

    async def _token(self, scope: str) -> str:
        """A cached token for ``scope``, or a new one from the realm."""
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(scope)
            if cached is not None and cached.fresh():
                return cached.value
            token = await self._fetch(scope)
            self._tokens[scope] = token
            return token.value

    async def _fetch(self, scope: str) -> _Token:
        assert self.challenge is not None
        realm = self.challenge.params.get("realm")
        if not realm:
            raise RegistryError(self.registry, 401, "UNAUTHORIZED",
                                "Bearer challenge without a realm")
        params: list[tuple[str, str | int | float | bool | None]] = \
            [("service", self.challenge.params["service"])] \
            if "service" in self.challenge.params else []
        params += [("scope", item) for item in scope.split() if item]
        headers = {"Authorization": basic_header(self.credentials)} if self.credentials else {}
        self.token_requests += 1
        log.debug("token request %s scope=%r", realm, scope)
        try:
            response = await self._http.get(realm, params=params, headers=headers)
        except httpx.HTTPError as error:
            raise TransportError(f"token service {realm} unreachable: {error}") from error
        if response.status_code in (401, 403):
            raise RegistryError(self.registry, response.status_code, "UNAUTHORIZED",
                                "token service refused the credentials" if self.credentials
                                else "authentication required (no credentials found; "
                                     "use dockyard login or --creds)")
        if response.status_code != 200:
            raise RegistryError(self.registry, response.status_code, None,
                                f"token service {realm} answered {response.status_code}")
        try:
            document = response.json()
            value = document.get("token") or document.get("access_token")
            lifetime = float(document.get("expires_in") or _DEFAULT_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            value, lifetime = None, 0.0
        if not value:
            raise RegistryError(self.registry, 200, None,
                                f"token service {realm} answered without a token")
        # Renew 10 s early (a quarter early for short-lived tokens), so a request never
        # carries a token that expires on its way.
        margin = min(_EXPIRY_MARGIN, max(lifetime, 0.0) / 4)
        return _Token(str(value), time.monotonic() + max(lifetime, 0.0) - margin)
