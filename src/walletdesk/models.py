"""Imports every module's tables so that Alembic and tests see the whole schema."""

from walletdesk.channels.email import models as _email_models  # noqa: F401
from walletdesk.channels.webchat import models as _webchat_models  # noqa: F401
from walletdesk.core.agents.models import Agent, ApiToken, Team
from walletdesk.core.attachments.models import Attachment
from walletdesk.core.audit.models import AuditEvent
from walletdesk.core.contacts.models import Contact, ContactIdentity
from walletdesk.core.outbox.models import OutboxJob
from walletdesk.core.tickets.models import Message, Tag, Ticket, TicketNumberBlock
from walletdesk.db import Base
from walletdesk.helpcenter import models as _helpcenter_models  # noqa: F401

metadata = Base.metadata

__all__ = [
    "Agent",
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "Contact",
    "ContactIdentity",
    "Message",
    "OutboxJob",
    "Tag",
    "Team",
    "Ticket",
    "TicketNumberBlock",
    "metadata",
]
