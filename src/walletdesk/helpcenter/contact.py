"""Keeping the "Contact us" page true to the channels' real settings.

The page lists what helpcenter/data/official_channels.json (or the file the deployment names)
says. Two of its claims are also configured elsewhere: the email addresses the email channel
accepts (WALLETDESK_SUPPORT_ADDRESSES) and the business hours of a chat site. Addresses are
checked at start-up and on the page's first load (a mismatch is logged once: customers would
write to an address whose mail bounces); a chat channel that names its chat site shows that
site's hours, read from the database, so the two cannot disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.errors import DomainError
from walletdesk.helpcenter.i18n import STRINGS
from walletdesk.helpcenter.official_channels import (
    OfficialChannel,
    OfficialChannels,
    channels_file,
    load_official_channels,
    normalise,
)

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)

# What has been logged already: each problem once per process, however often the page loads.
_reported: set[tuple[object, ...]] = set()


def _once(key: tuple[object, ...]) -> bool:
    if key in _reported:
        return False
    _reported.add(key)
    return True


def unaccepted_emails(channels: OfficialChannels, accepted: Iterable[str]) -> list[str]:
    """The contact page's email addresses that are not among `accepted`."""
    ours = {normalise("email", address) for address in accepted}
    return [c.value for c in channels.of_kind("email") if normalise("email", c.value) not in ours]


def check_contact_emails(runtime: Runtime) -> list[str]:
    """The contact page's email addresses that the email channel would refuse, logged once.

    Only when the email channel receives mail (the built-in SMTP server listens or an IMAP
    mailbox is polled): an address customers are told to write to must be one of
    WALLETDESK_SUPPORT_ADDRESSES (or WALLETDESK_MAIL_FROM), or their mail bounces.
    """
    from walletdesk.channels.email.adapter import email_settings_of

    if runtime.channels.get("email") is None:
        return []
    settings = email_settings_of(runtime)
    if settings.listen is None and not settings.imap_url:
        return []
    try:
        channels = load_official_channels()
    except DomainError as exc:
        if _once(("broken", str(exc))):
            log.error("the contact page cannot be shown: %s", exc)
        return []
    accepted = {*settings.addresses, settings.mail_from}
    missing = unaccepted_emails(channels, accepted)
    if missing and _once(("email", str(channels_file()), *missing, *sorted(accepted))):
        log.warning(
            "%s lists %s on the contact page, but the email channel accepts only %s: "
            "add them to WALLETDESK_SUPPORT_ADDRESSES or correct the channel file",
            channels_file(),
            ", ".join(missing),
            ", ".join(sorted(accepted)),
        )
    return missing


def site_hours_text(hours: dict[str, Any] | None, locale: str) -> str:
    """A chat site's stored business hours as the contact page says them."""
    words = STRINGS[locale]
    if not hours:
        return words["always_open"]
    days = sorted(int(d) for d in hours["days"])
    names = words["weekdays"].split(",")
    if days == list(range(1, 8)):
        when = words["every_day"]
    elif days == list(range(days[0], days[-1] + 1)) and len(days) > 1:
        when = words["day_range"].format(first=names[days[0] - 1], last=names[days[-1] - 1])
    else:
        when = words["day_list"].join(names[d - 1] for d in days)
    return words["site_hours"].format(
        days=when, open=hours["open"], close=hours["close"], zone=hours["timezone"]
    )


async def chat_hours(
    session: AsyncSession, channels: Iterable[OfficialChannel], locale: str
) -> dict[str, str]:
    """Channel value → the hours of the chat site it names, for chat channels whose site
    exists and is active; one that does not is logged once and keeps the file's hours."""
    from walletdesk.channels.webchat.models import WebchatSite

    wanted = {c.site: c.value for c in channels if c.kind == "chat" and c.site}
    if not wanted:
        return {}
    rows = await session.execute(
        select(WebchatSite.name, WebchatSite.business_hours)
        .where(WebchatSite.name.in_(wanted), WebchatSite.is_active.is_(True))
        .order_by(WebchatSite.id)
    )
    found: dict[str, str] = {}
    for name, hours in rows:
        found.setdefault(wanted[name], site_hours_text(hours, locale))
    for name, value in wanted.items():
        if value not in found and _once(("site", name)):
            log.warning(
                "%s: the chat channel %s names the chat site %r, which does not exist or is "
                "inactive; the contact page shows the file's hours",
                channels_file(),
                value,
                name,
            )
    return found
