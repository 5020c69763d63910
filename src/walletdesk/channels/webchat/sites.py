"""Sites that embed the widget: their key, allowed origins, identity secret and business hours.

Changing a site (update, deactivate, rotate the secret) emits a `site_changed` event after the
commit: every node's hub drops its cached copy at once. A node that misses it (the change came
from a CLI without Redis) re-reads the site within SITE_CACHE_SECONDS.
"""

from __future__ import annotations

import ipaddress
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

from walletdesk.channels.webchat import events
from walletdesk.channels.webchat.models import WebchatSite
from walletdesk.core.actors import Actor
from walletdesk.core.audit.service import record
from walletdesk.core.errors import InvalidInput, NotFound, PermissionDenied
from walletdesk.db import Database, utcnow

SITE_CACHE_SECONDS = 30.0
# A site is a handful of web properties; the cap keeps a pasted list from becoming a 1 MB row.
MAX_ORIGINS = 50
MAX_ORIGIN_CHARS = 300
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABELS = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?")
# What create_site makes ("ws_" + URL-safe base64). Anything else is no key of ours and never
# reaches the database (PostgreSQL refuses a NUL byte in a query parameter with an error).
_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")
_HOURS = re.compile(r"^\s*([1-7])-([1-7])\s+(\d{2}:\d{2})-(\d{2}:\d{2})\s+(\S+)\s*$")


def normalize_origin(value: str) -> str:
    """'HTTPS://Wallet.Example:443/' → 'https://wallet.example': what browsers send as Origin.

    Browsers leave the default port out and send an internationalised host in its ASCII
    (punycode) form, so both are stored that way or the site would never match.
    """
    text = value.strip()
    problem = InvalidInput("origin", f"{text[:100]!r} is not an origin like https://wallet.example")
    if len(text) > MAX_ORIGIN_CHARS or any(c.isspace() or ord(c) < 32 for c in text):
        raise problem
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for "abc" or 99999
        hostname = parts.hostname
    except ValueError:
        raise problem from None
    if parts.scheme not in ("http", "https") or not hostname or "@" in parts.netloc:
        raise problem
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidInput("origin", f"{text[:100]!r}: an origin has no path, query or fragment")
    host = _ascii_host(hostname, problem)
    port_part = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{port_part}"


def _ascii_host(hostname: str, problem: InvalidInput) -> str:
    if ":" in hostname:  # an IPv6 literal, written in brackets
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            raise problem from None
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise problem from None
    if not _HOST_LABELS.fullmatch(host):
        raise problem
    return host


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
    if opens == closes:  # would read as "never open", not "all day"
        raise InvalidInput("hours", "opening and closing times must differ")
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
    is_active: bool = True

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
        is_active=row.is_active,
    )


def _clean_name(name: str) -> str:
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in name.strip()):
        raise InvalidInput("name", "one line of text, without control characters")
    return name.strip()[:100]


def _clean_origins(origins: Sequence[str]) -> list[str]:
    if not origins:
        raise InvalidInput("origin", "give at least one origin the widget may run on")
    cleaned = sorted({normalize_origin(o) for o in origins})
    if len(cleaned) > MAX_ORIGINS:
        raise InvalidInput("origin", f"at most {MAX_ORIGINS} origins per site")
    return cleaned


def _require_admin(actor: Actor) -> None:
    """Sites hold the identity secret: only administrators (and the CLI, as SYSTEM) manage them."""
    if not actor.is_admin:
        raise PermissionDenied("only administrators may manage chat sites")


async def create_site(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    origins: Sequence[str],
    business_hours: dict[str, Any] | None = None,
) -> WebchatSite:
    _require_admin(actor)
    site = WebchatSite(
        key="ws_" + secrets.token_urlsafe(12),
        name=_clean_name(name),
        allowed_origins=_clean_origins(origins),
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


async def get_site(session: AsyncSession, key: str, *, for_update: bool = False) -> WebchatSite:
    if not _KEY.fullmatch(key.strip()):
        raise NotFound("no chat site with such a key (see: webchat site list)")
    query = select(WebchatSite).where(WebchatSite.key == key.strip())
    if for_update:
        query = query.with_for_update()
    site = await session.scalar(query)
    if site is None:
        raise NotFound(f"no chat site with key {key.strip()[:40]!r} (see: webchat site list)")
    return site


def _changed(session: AsyncSession, site: WebchatSite) -> None:
    events.emit_chat(session, events.site_changed(site.key))


# Leaves business hours as they are (None means "always open").
KEEP: Any = object()


async def update_site(
    session: AsyncSession,
    actor: Actor,
    key: str,
    *,
    name: str | None = None,
    origins: Sequence[str] | None = None,
    business_hours: dict[str, Any] | None = KEEP,
) -> WebchatSite:
    """Change what was given; the audit entry names the fields that changed."""
    _require_admin(actor)
    site = await get_site(session, key, for_update=True)
    changed: dict[str, Any] = {}
    if name is not None and _clean_name(name) != site.name:
        site.name = changed["name"] = _clean_name(name)
    if origins is not None:
        cleaned = _clean_origins(origins)
        if cleaned != list(site.allowed_origins):
            site.allowed_origins = changed["origins"] = cleaned
    if business_hours is not KEEP and business_hours != site.business_hours:
        site.business_hours = changed["business_hours"] = business_hours
    if not changed:
        return site
    await session.flush()
    await record(session, actor, "webchat.site_updated", "webchat_site", site.key, **changed)
    _changed(session, site)
    return site


async def set_site_active(
    session: AsyncSession, actor: Actor, key: str, *, active: bool
) -> WebchatSite:
    """An inactive site's widget is refused (`site_inactive`); chats under way may finish."""
    _require_admin(actor)
    site = await get_site(session, key, for_update=True)
    if site.is_active == active:
        return site
    site.is_active = active
    await session.flush()
    action = "webchat.site_activated" if active else "webchat.site_deactivated"
    await record(session, actor, action, "webchat_site", site.key, name=site.name)
    _changed(session, site)
    return site


async def rotate_identity_secret(session: AsyncSession, actor: Actor, key: str) -> str:
    """A new identity secret: identities signed with the old one stop verifying.

    The new secret is returned once and never written to the audit trail.
    """
    _require_admin(actor)
    site = await get_site(session, key, for_update=True)
    site.identity_secret = secrets.token_urlsafe(32)
    await session.flush()
    await record(session, actor, "webchat.site_secret_rotated", "webchat_site", site.key)
    _changed(session, site)
    return site.identity_secret


async def reveal_identity_secret(session: AsyncSession, actor: Actor, key: str) -> str:
    """The current identity secret, for an administrator who asked to see it.

    Reading it is a sensitive view: the audit entry says who saw it (never the secret).
    """
    _require_admin(actor)
    site = await get_site(session, key)
    await record(session, actor, "webchat.site_secret_viewed", "webchat_site", site.key)
    return site.identity_secret


class SiteCache:
    """Sites by key, re-read at most every SITE_CACHE_SECONDS (every connection asks)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sites: dict[str, tuple[float, Site | None]] = {}

    def forget(self, key: str) -> None:
        self._sites.pop(key, None)

    async def get(self, key: str) -> Site | None:
        """The site with this key, active or not (None: no such site)."""
        if not _KEY.fullmatch(key):
            return None
        cached = self._sites.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < SITE_CACHE_SECONDS:
            return cached[1]
        async with self.db.transaction() as session:
            row = await session.scalar(select(WebchatSite).where(WebchatSite.key == key))
            site = _snapshot(row) if row else None
        if len(self._sites) > 1000:
            self._sites.clear()
        self._sites[key] = (now, site)
        return site

    async def by_id(self, site_id: int) -> Site | None:
        now = time.monotonic()
        for at, site in self._sites.values():
            if site is not None and site.id == site_id and now - at < SITE_CACHE_SECONDS:
                return site
        async with self.db.transaction() as session:
            row = await session.get(WebchatSite, site_id)
            key = row.key if row else None
        return await self.get(key) if key else None
