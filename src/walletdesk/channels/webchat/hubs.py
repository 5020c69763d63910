"""The app's chat hub: made on first use, started by the router's lifespan (or lazily in tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.hub import ChatHub


def hub_of(app: Any) -> ChatHub:
    hub = getattr(app.state, "webchat_hub", None)
    if hub is None:
        # Tests set app.state.webchat_settings to tighten limits; servers read the environment.
        settings = getattr(app.state, "webchat_settings", None) or WebchatSettings()
        hub = ChatHub(app.state.runtime, settings)
        app.state.webchat_hub = hub
    assert isinstance(hub, ChatHub)
    return hub


async def started_hub(app: Any) -> ChatHub:
    hub = hub_of(app)
    await hub.start()
    return hub


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    await started_hub(app)
    try:
        yield
    finally:
        await hub_of(app).stop()
