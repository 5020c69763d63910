"""The customer side over HTTP, under /webchat: what a wallet page calls for live chat.

Each part is its own module; this one puts them under one prefix (router.py includes it):

- widget_routes: the widget's files, the demo host page, the chat socket (/ws);
- offline_routes: leave-a-message when no agent is online or the site is closed;
- conversation_routes: uploads, the conversation's attachments, missed history (by token);
- deflection_routes: help-center suggestions and what the customer did with them.

All of it is called from the wallet's pages, another origin: cross_origin decides which
site or conversation a request speaks for and answers with CORS headers.
"""

from __future__ import annotations

from fastapi import APIRouter

from walletdesk.channels.webchat import (
    conversation_routes,
    deflection_routes,
    offline_routes,
    widget_routes,
)

router = APIRouter(prefix="/webchat", tags=["webchat"])
router.include_router(widget_routes.router)
router.include_router(offline_routes.router)
router.include_router(conversation_routes.router)
router.include_router(deflection_routes.router)
