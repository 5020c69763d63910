"""Everything the help center serves over HTTP: the JSON API and the public pages."""

from __future__ import annotations

from fastapi import APIRouter

from walletdesk.helpcenter.api_routes import router as api_router
from walletdesk.helpcenter.public_routes import router as public_router

router = APIRouter()
router.include_router(api_router)
router.include_router(public_router)
