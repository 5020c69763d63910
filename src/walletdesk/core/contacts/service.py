"""Finding, creating and reading contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.contacts.identities import normalize_identity
from walletdesk.core.contacts.models import Contact, ContactIdentity
from walletdesk.core.errors import NotFound
from walletdesk.db import insert_ignoring_conflicts, utcnow


@dataclass(frozen=True, slots=True)
class SenderIdentity:
    """How a message's sender identified themselves on a channel."""

    kind: str
    value: str
    name: str = ""
    verified: bool = False


_IDENTITIES = cast(Table, ContactIdentity.__table__)
_CONTACTS = cast(Table, Contact.__table__)

# Every new customer on every channel runs these: built once as plain Core statements, a
# call only binds its parameters (half the CPU of building an ORM statement per call).
_FIND_CONTACT = select(_IDENTITIES.c.contact_id).where(
    _IDENTITIES.c.kind == bindparam("b_kind"), _IDENTITIES.c.value == bindparam("b_value")
)
_MARK_VERIFIED = (
    update(_IDENTITIES)
    .where(_IDENTITIES.c.kind == bindparam("b_kind"), _IDENTITIES.c.value == bindparam("b_value"))
    .values(verified=True)
)
_NEW_CONTACT = insert(_CONTACTS).returning(_CONTACTS.c.id)
_DROP_CONTACT = delete(_CONTACTS).where(_CONTACTS.c.id == bindparam("b_id"))


async def find_contact_id(session: AsyncSession, kind: str, value: str) -> int | None:
    return await session.scalar(_FIND_CONTACT, {"b_kind": kind, "b_value": value})


async def resolve_contact(session: AsyncSession, sender: SenderIdentity) -> int:
    """The contact owning this identity, created if new. Safe when two requests race.

    Two first messages from one new sender may arrive together: both create a contact,
    one identity insert wins the unique (kind, value), and the loser drops its contact
    and takes the winner's.
    """
    value = normalize_identity(sender.kind, sender.value)
    existing = await find_contact_id(session, sender.kind, value)
    if existing is not None:
        if sender.verified:
            await session.execute(_MARK_VERIFIED, {"b_kind": sender.kind, "b_value": value})
        return existing
    now = utcnow()
    contact_id = await session.scalar(
        _NEW_CONTACT, {"name": sender.name[:200], "created_at": now, "updated_at": now}
    )
    assert contact_id is not None
    claimed = await session.scalar(
        insert_ignoring_conflicts(session, _IDENTITIES, _IDENTITIES.c.contact_id),
        {
            "contact_id": contact_id,
            "kind": sender.kind,
            "value": value,
            "verified": sender.verified,
            "created_at": now,
        },
    )
    if claimed is not None:
        return int(contact_id)
    await session.execute(_DROP_CONTACT, {"b_id": contact_id})
    winner = await find_contact_id(session, sender.kind, value)
    assert winner is not None
    return winner


async def add_identity(
    session: AsyncSession, contact_id: int, kind: str, value: str, *, verified: bool = False
) -> None:
    """Attach one more identity to a contact (no-op if it is already theirs)."""
    await session.execute(
        insert_ignoring_conflicts(session, _IDENTITIES, _IDENTITIES.c.contact_id),
        {
            "contact_id": contact_id,
            "kind": kind,
            "value": normalize_identity(kind, value),
            "verified": verified,
            "created_at": utcnow(),
        },
    )


async def get_contact(session: AsyncSession, contact_id: int) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    return contact


async def identities_of(session: AsyncSession, contact_id: int) -> Sequence[ContactIdentity]:
    return (
        await session.scalars(
            select(ContactIdentity)
            .where(ContactIdentity.contact_id == contact_id)
            .order_by(ContactIdentity.id)
        )
    ).all()


async def contact_names(session: AsyncSession, contact_ids: set[int]) -> dict[int, str]:
    """Display names for a page of tickets, in one query: the name, else the first identity."""
    if not contact_ids:
        return {}
    rows = await session.execute(
        select(Contact.id, Contact.name).where(Contact.id.in_(contact_ids))
    )
    names = {row.id: row.name for row in rows}
    unnamed = {cid for cid, name in names.items() if not name}
    if unnamed:
        idents = await session.execute(
            select(ContactIdentity.contact_id, ContactIdentity.value)
            .where(ContactIdentity.contact_id.in_(unnamed))
            .order_by(ContactIdentity.id)
        )
        for row in idents:
            if not names[row.contact_id]:
                names[row.contact_id] = row.value
    return names
