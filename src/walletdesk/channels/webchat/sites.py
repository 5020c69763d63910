"""Sites that embed the widget: their key, allowed origins, identity secret and business hours."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.channels.webchat.models import WebchatSite
from walletdesk.core.actors import Actor
from walletdesk.core.audit.service import record
from walletdesk.core.errors import InvalidInput
from walletdesk.db import Database, utcnow

SITE_CACHE_SECONDS = 30.0
_HOURS = re.compile(r"^\s*([1-7])-([1-7])\s+(\d{2}:\d{2})-(\d{2}:\d{2})\s+(\S+)\s*$")


def normalize_origin(value: str) -> str:
    """'HTTPS://Wallet.Example/' → 'https://wallet.example': what browsers send as Origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("origin", f"{value!r} is not an origin like https://wallet.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidInput("origin", f"{value!r}: an origin has no path, query or fragment")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def parse_business_hours(text: str) -> dict[str, Any]:
    """'1-5 09:00-18:00 Asia/Shanghai' (ISO weekdays, Monday=1) → the stored form."""
    match = _HOURS.match(text)
    if not match:
        raise InvalidInput("hours", "write hours as '1-5 09:00-18:00 Asia/Shanghai'")
    first, last, opens, closes, zone = match.groups()
    try:
        ZoneInfo(zone)
        clock.fromisoformat(opens)
        clock.fromisoformat(closes)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("hours", f"{text!r}: unknown time zone or time") from None
    days = list(range(int(first), int(last) + 1))
    if not days:
        raise InvalidInput("hours", "the first day must not come after the last")
    return {"timezone": zone, "days": days, "open": opens, "close": closes}


def within_hours(hours: dict[str, Any] | None, now: datetime | None = None) -> bool:
    if not hours:
        return True
    local = (now or utcnow()).astimezone(ZoneInfo(str(hours["timezone"])))
    if local.isoweekday() not in hours["days"]:
        return False
    opens, closes = clock.fromisoformat(hours["open"]), clock.fromisoformat(hours["close"])
    current = local.time().replace(tzinfo=None)
    if opens <= closes:
        return opens <= current < closes
    return current >= opens or current < closes  # open across midnight


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    key: str
    name: str
    origins: frozenset[str]
    identity_secret: str
    business_hours: dict[str, Any] | None

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            return normalize_origin(origin) in self.origins
        except InvalidInput:
            return False

    def is_open(self) -> bool:
        return within_hours(self.business_hours)


def _snapshot(row: WebchatSite) -> Site:
    return Site(
        id=row.id,
        key=row.key,
        name=row.name,
        origins=frozenset(row.allowed_origins),
        identity_secret=row.identity_secret,
        business_hours=row.business_hours,
    )


async def create_site(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    origins: Sequence[str],
    business_hours: dict[str, Any] | None = None,
) -> WebchatSite:
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    if not origins:
        raise InvalidInput("origin", "give at least one origin the widget may run on")
    site = WebchatSite(
        key="ws_" + secrets.token_urlsafe(12),
        name=name.strip()[:100],
        allowed_origins=sorted({normalize_origin(o) for o in origins}),
        identity_secret=secrets.token_urlsafe(32),
        business_hours=business_hours,
        is_active=True,
    )
    session.add(site)
    await session.flush()
    await record(session, actor, "webchat.site_created", "webchat_site", site.key, name=site.name)
    return site


async def list_sites(session: AsyncSession) -> Sequence[WebchatSite]:
    return (await session.scalars(select(WebchatSite).order_by(WebchatSite.id))).all()


class SiteCache:
    """Sites by key, re-read at most every SITE_CACHE_SECONDS (every connection asks)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sites: dict[str, tuple[float, Site | None]] = {}

    async def get(self, key: str) -> Site | None:
        cached = self._sites.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < SITE_CACHE_SECONDS:
            return cached[1]
        async with self.db.transaction() as session:
            row = await session.scalar(
                select(WebchatSite).where(WebchatSite.key == key, WebchatSite.is_active.is_(True))
            )
            site = _snapshot(row) if row else None
        if len(self._sites) > 1000:
            self._sites.clear()
        self._sites[key] = (now, site)
        return site

    async def by_id(self, site_id: int) -> Site | None:
        for _, site in self._sites.values():
            if site is not None and site.id == site_id:
                return site
        async with self.db.transaction() as session:
            row = await session.get(WebchatSite, site_id)
            key = row.key if row else None
        return await self.get(key) if key else None
