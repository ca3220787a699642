"""How a :class:`~dockyard.client.registry.RegistryClient` connects and authenticates."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard import __version__


@dataclass
class ClientOptions:
    """Connection, TLS, credential and retry settings shared by every request of a client.

    ``insecure`` is skopeo's ``--tls-verify=false``: HTTPS without verification first, then
    plain HTTP. Loopback hosts may fall back to plain HTTP without it, as docker allows.
    """

    insecure: bool = False
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    auth_file: str | None = None
    retries: int = 4
    timeout: float = 60.0
    user_agent: str = f"dockyard/{__version__}"
    # Longest wait honoured from a Retry-After header; a registry asking for more fails fast.
    max_retry_wait: float = 30.0
    # First back-off step (doubled per attempt) when the registry gives no Retry-After.
    backoff: float = 0.2
    # Blobs up to this size go in one PUT; larger ones as PATCH chunks of ``chunk_size``.
    monolithic_limit: int = 8 * 1024 * 1024
    chunk_size: int = 16 * 1024 * 1024
