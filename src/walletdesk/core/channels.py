"""What core knows of channels: the messages crossing the boundary and the adapter registry.

Core never imports a channel. Each adapter under walletdesk/channels registers itself
(walletdesk/channels/__init__.py lists them) and is looked up here by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from walletdesk.core.contacts.service import SenderIdentity


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # as the sender declared it; the store sniffs the real one
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as a channel adapter received it, already authenticated and normalised."""

    channel: str
    external_id: str
    sender: SenderIdentity
    text: str
    thread_key: str | None = None
    subject: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # A public post (a tweet, a Facebook comment) as opposed to a private message.
    public: bool = False
    locale: str | None = None
    received_at: datetime | None = None
    category: str | None = None
    priority: str | None = None
    # The team whose queue a new ticket starts in (its tier too); None: the L1 queue.
    team: str | None = None
    # More identities the sender gave (a phone beside the email); linked to the same contact.
    also_known_as: tuple[SenderIdentity, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """An agent's public reply, on its way to the customer through the ticket's channel."""

    channel: str
    message_id: int
    ticket_id: int
    ticket_number: str
    subject: str
    text: str
    html: str | None
    thread_key: str | None
    # The customer's identities, kind → value, for the adapter to pick its address from.
    recipients: dict[str, str] = field(default_factory=dict)
    agent_name: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    external_id: str | None = None


# Why a reply did not go out, in words an agent can act on (the console shows each in the
# agent's language; the detail beside it is the platform's own, often English, text).
DELIVERY_REASONS = frozenset(
    {
        "failed",  # no more precise reason known
        "not_configured",  # the channel is not set up on this server
        "no_address",  # the customer has no usable address on this channel
        "refused",  # the platform or relay refused the message for good
        "deferred",  # the platform asked us to try later
        "unreachable",  # no connection to the platform
        "settings",  # our own settings for the channel are wrong (an admin must act)
        "bounced",  # accepted, then returned by the customer's mail server
        "gone",  # the conversation or message no longer exists
        "internal",  # our bug; logged
    }
)


class DeliveryError(Exception):
    """The platform could not take the message now; the outbox will retry.

    `reason` is one of DELIVERY_REASONS; the message is the detail shown beside it.
    """

    default_reason = "deferred"

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason or self.default_reason
        assert self.reason in DELIVERY_REASONS, self.reason


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (no address, channel not configured, message refused)."""

    default_reason = "refused"


class ChannelSettingsError(DeliveryError):
    """The channel's own settings keep it from delivering (a relay refusing our login).

    Not the job's fault, and fixed by an admin some time later: the job is retried and
    waits, never dead for it, so once the settings are right what was queued goes out.
    """

    default_reason = "settings"


class ChannelAdapter(Protocol):
    name: str

    async def send(self, message: OutboundMessage) -> DeliveryResult: ...


class ChannelRegistry:
    def __init__(self) -> None:
        self._adapters: dict[str, ChannelAdapter] = {}

    def register(self, adapter: ChannelAdapter) -> None:
        self._adapters[adapter.name] = adapter

    def get(self, name: str) -> ChannelAdapter | None:
        return self._adapters.get(name)

    def names(self) -> list[str]:
        return sorted(self._adapters)
