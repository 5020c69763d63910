"""Typed FastAPI dependencies shared by every API route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from walletdesk.core.actors import Actor
from walletdesk.core.agents.service import actor_for_token
from walletdesk.http.errors import Unauthorized
from walletdesk.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="An API token from `walletdesk token create`")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def api_actor(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The agent behind a bearer token. Looked up in its own short transaction."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    async with runtime.db.transaction() as session:
        actor = await actor_for_token(session, credentials.credentials)
    if actor is None:
        raise Unauthorized("the API token is unknown or revoked")
    return actor


ApiActor = Annotated[Actor, Depends(api_actor)]
