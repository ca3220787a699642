"""HTTP to one registry: scheme choice, authentication, retries with back-off, error mapping.

Every request names the token scope it needs; the :class:`Authenticator` turns that into an
Authorization header. Requests whose body can be sent again (none, or bytes) are retried on
429, 5xx and connection errors, waiting what ``Retry-After`` asks (capped) or an exponential
back-off. Streamed bodies are never retried here: the upload code resumes those itself from
the registry's ``Range``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import ssl
import time
from collections.abc import AsyncIterable, Mapping, Sequence
from typing import Any

import httpx

from dockyard.client import credentials as creds
from dockyard.client.auth import Authenticator
from dockyard.client.errors import ClientError, NotFound, RegistryError, TransportError, Unsupported
from dockyard.client.options import ClientOptions

log = logging.getLogger("dockyard.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")
_API_HOSTS = {"docker.io": "registry-1.docker.io"}

Content = bytes | AsyncIterable[bytes] | None


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    return host in _LOOPBACK or host.startswith("127.")


class Transport:
    """One registry's connection pool, scheme, auth state and retry policy."""

    def __init__(self, registry: str, options: ClientOptions) -> None:
        self.registry = registry
        self.options = options
        self.host = _API_HOSTS.get(registry, registry)
        verify: Any = False if options.insecure else (
            ssl.create_default_context(cafile=options.ca_file) if options.ca_file else True)
        self.http = httpx.AsyncClient(
            verify=verify, timeout=httpx.Timeout(options.timeout, connect=min(10.0,
                                                 options.timeout)),
            headers={"User-Agent": options.user_agent}, follow_redirects=True)
        found = (creds.Credentials(options.username, options.password or "")
                 if options.username else creds.lookup(registry, options.auth_file))
        self.auth = Authenticator(registry, found, self.http)
        self._schemes = ["https", "http"] if options.insecure or is_loopback(self.host) \
            else ["https"]
        self._base: str | None = None
        self._ping_lock = asyncio.Lock()
        self.ping_status: int | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ scheme and ping

    async def base(self) -> str:
        """``scheme://host``, settled by the first ``GET /v2/`` (which also learns the auth)."""
        if self._base is None:
            async with self._ping_lock:
                if self._base is None:
                    await self._ping()
        assert self._base is not None
        return self._base

    async def _ping(self) -> None:
        last: Exception | None = None
        for index, scheme in enumerate(self._schemes):
            url = f"{scheme}://{self.host}/v2/"
            # HTTPS with an HTTP fallback is tried once: a plain-HTTP registry answers the TLS
            # handshake with garbage at once, and retrying that would only add back-off.
            last_choice = index == len(self._schemes) - 1
            try:
                response = await self._with_retries(lambda u=url: self.http.get(u), "GET", url,
                                                    replayable=last_choice)
            except TransportError as error:
                last = error
                if _tls_verification_failed(error):
                    raise TransportError(
                        f"TLS certificate of {self.host} not trusted ({_root(error)}); use "
                        "--ca-file, or --tls-verify=false to skip verification") from None
                continue
            self._base = f"{scheme}://{self.host}"
            self.ping_status = response.status_code
            if response.status_code == 401:
                self.auth.learn(response.headers.get("www-authenticate"))
            return
        raise last or TransportError(f"{self.host} unreachable")

    # ------------------------------------------------------------------ requests

    async def request(self, method: str, path: str, *, scope: str | None,
                      params: Mapping[str, str] | None = None,
                      headers: Mapping[str, str] | None = None, content: Content = None,
                      ok: Sequence[int] = (200,), stream: bool = False,
                      not_found: bool = True) -> httpx.Response:
        """Send with auth and retries; a status outside ``ok`` raises the mapped error.

        ``path`` is relative to the registry (``/v2/...``) or an absolute upload Location.
        With ``stream`` the caller must ``aclose()`` the response it gets.
        """
        url = httpx.URL(path if "://" in path else await self.base() + path)
        if params:
            # Merge: an upload Location carries its own query (Distribution's ``_state``),
            # which httpx's ``params=`` would replace.
            url = url.copy_merge_params(params)
        for attempt in (1, 2):
            auth = await self.auth.headers(scope)
            sent = "Authorization" in auth

            async def send(auth: dict[str, str] = auth) -> httpx.Response:
                built = self.http.build_request(method, url,
                                                headers={**(headers or {}), **auth},
                                                content=content)
                return await self.http.send(built, stream=stream)

            replayable = content is None or isinstance(content, bytes)
            response = await self._with_retries(send, method, str(url), replayable=replayable)
            if response.status_code == 401 and attempt == 1 and replayable:
                retry_scope = await self.auth.answer(
                    response.headers.get("www-authenticate"), scope, sent)
                if retry_scope is not None:
                    await response.aclose()
                    scope = retry_scope or scope
                    continue
            break
        if response.status_code in ok:
            return response
        raise await self.error(response, not_found=not_found)

    async def _with_retries(self, send: Any, method: str, url: str,
                            replayable: bool = True) -> httpx.Response:
        attempts = max(1, self.options.retries + 1) if replayable else 1
        for attempt in range(1, attempts + 1):
            try:
                response: httpx.Response = await send()
            except httpx.TransportError as error:
                if attempt == attempts:
                    raise TransportError(f"{method} {_short(url)} failed: "
                                         f"{_root(error)}") from error
                wait = self._backoff(attempt)
                log.info("retrying %s %s in %.1fs: %s", method, _short(url), wait, _root(error))
            else:
                if response.status_code not in RETRY_STATUSES or attempt == attempts:
                    return response
                asked = self._retry_after(response)
                wait = self._backoff(attempt) if asked is None else asked
                await response.aclose()
                log.info("retrying %s %s in %.1fs: HTTP %d", method, _short(url), wait,
                         response.status_code)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        step = self.options.backoff * (2 ** (attempt - 1))
        return min(self.options.max_retry_wait, step * (1 + random.random() / 2))

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value).timestamp()
            except (TypeError, ValueError):
                return None
            seconds = when - time.time()
        return min(max(seconds, 0.0), self.options.max_retry_wait)

    # ------------------------------------------------------------------ errors

    async def error(self, response: httpx.Response, not_found: bool = True) -> ClientError:
        """The error a non-success response stands for (reads and closes the response)."""
        try:
            body = (await response.aread())[:65536]
        finally:
            await response.aclose()
        code, message = _parse_error_body(body)
        if response.status_code == 401 and not message:
            message = "authentication required"
        status = response.status_code
        if status == 404 and not_found:
            return NotFound(self.registry, status, code, message or "not found")
        if status == 405 or code == "UNSUPPORTED":
            return Unsupported(self.registry, status, code, message or "operation not supported")
        return RegistryError(self.registry, status, code, message)


def _parse_error_body(body: bytes) -> tuple[str | None, str]:
    import json

    try:
        errors = json.loads(body).get("errors") or []
        first = errors[0]
        return str(first.get("code") or "") or None, str(first.get("message") or "")
    except (ValueError, AttributeError, IndexError, TypeError):
        text = body.decode(errors="replace").strip().splitlines()
        return None, (text[0][:200] if text else "")


def _root(error: BaseException) -> str:
    """The innermost cause's message: "Connection refused", not httpx's wrapper text."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return str(error) or type(error).__name__


def _tls_verification_failed(error: BaseException) -> bool:
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _short(url: str) -> str:
    return url.split("?", 1)[0]
