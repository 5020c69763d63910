"""Every route of the live-chat channel, with the lifespan that runs the node's chat hub.

Customer side under /webchat, agent side under /console/chat. app.py includes `router`.
"""

from __future__ import annotations

from fastapi import APIRouter

from walletdesk.channels.webchat import console_routes, routes
from walletdesk.channels.webchat.hubs import lifespan

router = APIRouter(lifespan=lifespan)
router.include_router(routes.router)
router.include_router(console_routes.router)
router.include_router(console_routes.socket_router)
