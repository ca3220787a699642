"""Builds the ASGI application from a configuration; nothing is created at import time."""

import asyncio
import logging
import time
import uuid
from typing import Any

from dockyard.api.errors import error_body
from dockyard.api.http import JSON, ClientDisconnected, Headers, Receive, Request, Scope, Send
from dockyard.api.registry.context import Context
from dockyard.api.registry.router import route
from dockyard.auth import build_access_controller
from dockyard.config import Config
from dockyard.core.errors import RegistryError, StorageFull, is_out_of_space
from dockyard.core.immutability import ImmutableTagRule
from dockyard.core.tasks import cancel_all
from dockyard.maintenance import purge_uploads_forever
from dockyard.metadata.base import Metadata
from dockyard.metadata.cached import CachedMetadataStore
from dockyard.metadata.generation import change_marker
from dockyard.metadata.store import MetadataStore
from dockyard.notifications import build_event_sink
from dockyard.observability import build_health, build_observer
from dockyard.retention.background import RetentionBackground
from dockyard.services.registry import Registry
from dockyard.services.settings import RegistrySettings
from dockyard.storage.filesystem import FilesystemBlobStore

log = logging.getLogger("dockyard")
API_VERSION = (b"docker-distribution-api-version", b"registry/2.0")


class DockyardApp:
    """The registry as one ASGI callable: ``/v2/`` API plus the ``/`` liveness answer."""

    def __init__(self, config: Config, migrate: bool = True, cache: bool = True):
        self.config = config
        store = MetadataStore(config.metadata_url, migrate=migrate)
        self.write_engine = store.write_engine  # The online collector writes through it.
        self.metadata: Metadata = (
            CachedMetadataStore(store, change_marker(config.root_directory)) if cache else store)
        self.store = FilesystemBlobStore(config.root_directory)
        storage = config.storage
        self.registry = Registry.build(self.metadata, self.store, RegistrySettings(
            delete_enabled=storage.delete.enabled,
            read_only=storage.maintenance.readonly.enabled,
            max_tags_page=config.tags.maxtags,
            max_catalog_page=config.catalog.maxentries,
            immutable_tags=tuple(ImmutableTagRule(rule.repositories, rule.tags)
                                 for rule in config.dockyard.immutability),
            quotas=config.dockyard.quotas.limits()))
        self.retention = RetentionBackground(config, store.write_engine, self.metadata)
        self.registry.manifests.on_pull = self.retention.pulls.record
        self.events = build_event_sink(config)
        self.context = Context(self.registry, build_access_controller(config), self.events,
                               read_only=storage.maintenance.readonly.enabled)
        self.observer = build_observer(config)
        self.health = build_health(config)
        self.base_headers: Headers = [API_VERSION] + [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, values in config.http.headers.items() for value in values]
        self._tasks: list[asyncio.Task[None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(Request(scope, receive, send, self.base_headers))
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, request: Request) -> None:
        started = time.perf_counter()
        request.scope["dockyard.request_id"] = str(uuid.uuid4())
        try:
            await self._dispatch(request)
        finally:
            self.observer.on_request(request, time.perf_counter() - started)

    async def _dispatch(self, request: Request) -> None:
        try:
            if not self.health.healthy:
                raise RegistryError("UNAVAILABLE", "a health check is failing")
            if request.path.startswith("/v2"):
                await route(request, self.context)
            elif request.path == "/":
                await request.respond(200, [(b"content-type", b"text/plain")], b"")
            else:
                raise RegistryError("NAME_UNKNOWN", "not found", status=404)
        except RegistryError as error:
            await self._send_error(request, error)
        except ClientDisconnected:
            log.info("client went away during %s %s", request.method, request.path)
            await self._send_error(request, RegistryError(
                "SIZE_INVALID", "the request body ended before its declared length"))
        except Exception as exc:
            log.exception("unexpected error on %s %s", request.method, request.path)
            await self._send_error(request, StorageFull("the request was not completed")
                                   if is_out_of_space(exc) else RegistryError("UNKNOWN"))

    @staticmethod
    async def _send_error(request: Request, error: RegistryError) -> None:
        if request.started:
            log.warning("error after response start on %s %s: %s", request.method,
                        request.path, error)
            return
        headers = [(b"content-type", JSON), *error.headers]
        if request.has_unread_body():
            # The rest of the body is still on the wire: the connection cannot be reused.
            headers.append((b"connection", b"close"))
        try:
            await request.respond(error.status, headers, error_body(error))
        except Exception:  # The client is gone; there is nobody left to tell.
            log.debug("could not send %s to %s %s", error.code, request.method, request.path)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start_background()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop_background()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def start_background(self) -> None:
        """Start health checks, event delivery and the upload purger, as configured."""
        self.health.start()
        start_events = getattr(self.events, "start", None)
        if start_events is not None:
            start_events()
        self.retention.start()
        if self.config.dockyard.gc.enabled and \
                not self.config.storage.maintenance.readonly.enabled:
            from dockyard.gc.online.background import collect_forever

            self._tasks.append(asyncio.create_task(collect_forever(self.config,
                                                                   self.write_engine)))
        purging = self.config.storage.maintenance.uploadpurging
        if purging.enabled:
            self._tasks.append(asyncio.create_task(purge_uploads_forever(
                self.store, purging.age, purging.interval, purging.dryrun)))

    async def stop_background(self) -> None:
        """Cancel background work and release the database."""
        await cancel_all(self._tasks)
        await self.retention.stop()
        await self.health.stop()
        stop_events = getattr(self.events, "stop", None)
        if stop_events is not None:
            await stop_events()
        self.metadata.close()


def build_app(config: Config, migrate: bool = True, cache: bool = True) -> Any:
    """The ASGI application for ``config``; ``cache`` only when it is the only writer."""
    return DockyardApp(config, migrate=migrate, cache=cache)
