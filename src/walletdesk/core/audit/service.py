"""Recording and reading the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from walletdesk.core.actors import Actor
from walletdesk.core.audit.models import AuditEvent
from walletdesk.core.errors import PermissionDenied
from walletdesk.db import utcnow

# Every API-created ticket and many agent actions write one: built once, bound per call.
_RECORD = insert(cast(Table, AuditEvent.__table__))


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target_kind: str,
    target_id: object,
    **detail: Any,
) -> None:
    """Add one audit entry in the caller's transaction: it exists exactly when the change does."""
    await session.execute(
        _RECORD,
        {
            "at": utcnow(),
            "actor_kind": actor.kind,
            "actor_id": actor.agent_id,
            "actor_name": actor.name,
            "action": action,
            "target_kind": target_kind,
            "target_id": str(target_id),
            "detail": detail,
        },
    )


async def list_events(
    session: AsyncSession,
    actor: Actor,
    *,
    target_kind: str | None = None,
    target_id: object | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> Sequence[AuditEvent]:
    """Newest first; supervisors and admins only."""
    if not actor.sees_all_queues:
        raise PermissionDenied("only supervisors and admins may read the audit log")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if target_kind:
        query = query.where(AuditEvent.target_kind == target_kind)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == str(target_id))
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    return (await session.scalars(query)).all()
