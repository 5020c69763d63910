"""Live-chat limits and tuning, from WALLETDESK_WEBCHAT_* variables (defaults suit production)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebchatSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WALLETDESK_WEBCHAT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    max_text_chars: int = Field(default=4000, description="Longest chat message, in characters")
    max_frame_bytes: int = Field(default=64 * 1024, description="Largest websocket frame read")
    hello_timeout_seconds: float = 10.0
    # Per connection: a burst of `message_burst`, refilled at `messages_per_second`.
    messages_per_second: float = 2.0
    message_burst: int = 10
    # Per client IP on this node, across all its connections (an office NAT has many users).
    ip_messages_per_second: float = 20.0
    ip_message_burst: int = 60
    ip_max_connections: int = 30
    # Typing and read frames past this rate are dropped silently (they are hints).
    hints_per_second: float = 4.0
    # Protocol errors (bad JSON, unknown types, refused messages) before the socket is closed.
    max_errors_per_minute: int = 30
    # A connection whose client reads too slowly is closed; it resumes from history.
    send_queue_size: int = 256
    max_attachment_bytes: int = 10 * 1024 * 1024
    allowed_attachment_types: tuple[str, ...] = (
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
    )
    # Estimated wait: chats one agent handles at once, and the handling time assumed
    # until there are enough finished chats to measure it.
    chats_per_agent: int = 3
    default_handle_seconds: int = 300
    handle_time_sample: int = 50
    heartbeat_seconds: float = 20.0
    # An agent's reply is pushed live by its node, which then marks its outbox job done; the
    # worker delivers it only if that did not happen within this grace (the node died).
    live_delivery_grace_seconds: float = 15.0
    heartbeat_stale_seconds: float = 60.0
    # An agent none of whose chat clients was seen for this long (browser closed, network
    # lost, node gone) has their active chats put back in the queue.
    agent_gone_grace_seconds: float = 120.0
    # Customers' sockets mark their chats seen every `heartbeat_seconds`: a waiting chat
    # counts in the queue while its customer was seen within `customer_recent_seconds`,
    # and becomes a follow-up ticket after `customer_abandon_seconds` without them.
    customer_recent_seconds: float = 90.0
    customer_abandon_seconds: float = 1800.0
    queue_refresh_seconds: float = 30.0
    # A signed identity may be valid for at most this long from now.
    identity_max_lifetime_seconds: int = 30 * 24 * 3600
    offline_messages_per_minute: int = 5
    history_limit: int = 200

    @model_validator(mode="after")
    def _absences_outlast_heartbeats(self) -> Self:
        # A connected agent or customer is marked seen every heartbeat_seconds; a window
        # shorter than that would take people who are there for gone.
        for name in ("agent_gone_grace_seconds", "customer_recent_seconds"):
            if getattr(self, name) <= self.heartbeat_seconds:
                raise ValueError(f"{name} must be longer than heartbeat_seconds")
        if self.customer_abandon_seconds < self.customer_recent_seconds:
            raise ValueError("customer_abandon_seconds must be at least customer_recent_seconds")
        return self
