"""Typed FastAPI dependencies shared by every API route."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from walletdesk.core.actors import Actor
from walletdesk.core.agents.credentials import hash_api_token
from walletdesk.core.agents.service import actor_for_token
from walletdesk.http.errors import Unauthorized
from walletdesk.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="An API token from `walletdesk token create`")


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency in a thread, on every request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class ActorCache:
    """Token → actor for a few seconds, so most API calls skip a database round trip.

    The price: a revoked token or a deactivated agent keeps working until its entry
    expires (WALLETDESK_API_TOKEN_CACHE_SECONDS; 0 turns the cache off).
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Actor]] = {}

    def get(self, key: str) -> Actor | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, actor: Actor) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude, but bounded; entries are cheap to rebuild
        self._entries[key] = (time.monotonic() + self.ttl, actor)


def _actor_cache(request: Request, runtime: Runtime) -> ActorCache:
    cache: ActorCache | None = getattr(request.app.state, "actor_cache", None)
    if cache is None:
        cache = ActorCache(runtime.settings.api_token_cache_seconds)
        request.app.state.actor_cache = cache
    return cache


async def api_actor(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The agent behind a bearer token, from the cache or its own short transaction."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    cache = _actor_cache(request, runtime)
    key = hash_api_token(credentials.credentials)
    actor = cache.get(key)
    if actor is not None:
        return actor
    async with runtime.db.transaction() as session:
        actor = await actor_for_token(session, credentials.credentials)
    if actor is None:
        raise Unauthorized("the API token is unknown or revoked")
    cache.put(key, actor)
    return actor


ApiActor = Annotated[Actor, Depends(api_actor)]
