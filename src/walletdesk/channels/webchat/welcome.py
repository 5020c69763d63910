"""Who a customer's socket speaks for, and what their chat looks like when they (re)connect.

`identify` turns a hello into a visitor: the wallet's signed user (verified) or an
anonymous visitor, and the conversation to resume — never another site's or another
user's. `read_chat` reads the conversation as the welcome frame shows it.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from walletdesk.channels.webchat import frames, service, views
from walletdesk.channels.webchat.config import WebchatSettings
from walletdesk.channels.webchat.history import conversation_messages
from walletdesk.channels.webchat.identity import (
    Resume,
    new_public_id,
    read_resume_token,
    verify_identity,
)
from walletdesk.channels.webchat.models import Conversation, ConversationStatus
from walletdesk.channels.webchat.queue import QueueFigures, agents_available, queue_figures
from walletdesk.channels.webchat.sites import Site
from walletdesk.core.contacts.identities import normalize_email
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.errors import InvalidInput
from walletdesk.db import Database, utcnow


@dataclass(frozen=True, slots=True)
class Visitor:
    resume: Resume
    sender: SenderIdentity
    also_known_as: tuple[SenderIdentity, ...]
    locale: str | None


def identify(
    site: Site, settings: WebchatSettings, secret_key: str, hello: frames.Hello
) -> Visitor:
    """The visitor a hello speaks for; raises IdentityRejected for a forged or stale identity."""
    user_id: str | None = None
    name = ""
    also_known_as: tuple[SenderIdentity, ...] = ()
    if hello.identity is not None:
        ident = hello.identity
        verify_identity(
            site.identity_secret,
            ident.user_id,
            ident.expires,
            ident.signature,
            max_lifetime=settings.identity_max_lifetime_seconds,
        )
        user_id, name = ident.user_id, (ident.name or "").strip()
        if ident.email:
            # An email the wallet sent badly does not stop the chat.
            with suppress(InvalidInput):
                also_known_as = (SenderIdentity("email", normalize_email(ident.email), name),)
    resume = read_resume_token(secret_key, hello.token) if hello.token else None
    # Another site's or another user's conversation is never shown: a shared phone whose
    # previous user logged out starts afresh.
    if resume is None or resume.site_id != site.id or resume.user_id != user_id:
        resume = Resume(new_public_id(), site.id, secrets.token_urlsafe(12), user_id)
    sender = (
        SenderIdentity("wallet", user_id, name, verified=True)
        if user_id
        else SenderIdentity("webchat", resume.visitor)
    )
    return Visitor(resume, sender, also_known_as, chat_locale(hello.locale))


def chat_locale(value: str | None) -> str | None:
    if not value:
        return None
    lowered = value.lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return None


@dataclass
class ChatState:
    """A conversation as its customer sees it on (re)connecting; a new chat if none yet."""

    status: str = "new"
    tier: int = 1
    ticket_id: int | None = None
    ticket_number: str | None = None
    agent: str | None = None
    rating: int | None = None
    # An ended chat the agent follows up on, and how its answer will reach the customer.
    follow_up: bool = False
    answer_by: str | None = None
    customer_read_id: int = 0
    agent_read_id: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False
    figures: QueueFigures | None = None
    agents_online: bool = False


async def read_chat(
    db: Database, settings: WebchatSettings, conversation_id: str, *, after: int
) -> ChatState:
    state = ChatState()
    async with db.transaction() as session:
        conversation = await service.find(session, conversation_id)
        if conversation is not None:
            _seen_again(conversation, settings)
            summary = (await views.chat_summaries(session, [conversation]))[0]
            state.status = conversation.status
            state.tier = conversation.tier
            state.ticket_id = conversation.ticket_id
            state.ticket_number = summary["ticket"]
            state.agent = summary["agent"] or None
            state.rating = conversation.rating
            if conversation.status == ConversationStatus.ENDED and conversation.follow_up:
                state.follow_up = True
                state.answer_by = await service.answer_channel(session, conversation.ticket_id)
            state.customer_read_id = conversation.customer_read_id
            state.agent_read_id = conversation.agent_read_id
            state.history, state.more = await conversation_messages(
                session, conversation, after=after, limit=settings.history_limit
            )
        if state.status in ("new", "waiting"):
            state.figures = await queue_figures(session, state.tier, settings)
            state.agents_online = state.figures.agents_online > 0
        else:
            state.agents_online = await agents_available(session, 1, settings) > 0
    return state


def _seen_again(conversation: Conversation, settings: WebchatSettings) -> None:
    """A returning customer counts in the queue at once, in the place they had (the hub
    keeps marking them seen while they stay)."""
    if conversation.status == ConversationStatus.ENDED:
        return
    now = utcnow()
    last = conversation.last_seen_at
    if last is None or now - last > timedelta(seconds=settings.heartbeat_seconds):
        conversation.last_seen_at = now
