"""Who is acting: an agent in the console, an integration with an API token, or the system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from walletdesk.core.agents.models import Role


@dataclass(frozen=True, slots=True)
class Actor:
    kind: Literal["agent", "api", "system"]
    agent_id: int | None
    name: str
    role: str
    tier: int
    locale: str = "zh-CN"

    @property
    def sees_all_queues(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


SYSTEM = Actor(kind="system", agent_id=None, name="WalletDesk", role=Role.ADMIN, tier=3)
