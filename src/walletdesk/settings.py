"""The one settings object. Every WALLETDESK_* variable is read here, once."""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "dev", "test"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WALLETDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("data"), description="Where SQLite, secrets and files live")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite in data_dir")
    redis_url: str = Field(default="", description="Redis URL; empty = in-process event bus")
    secret_key: str = Field(
        default="", description="Signs sessions; generated on first run if empty"
    )
    base_url: str = "http://127.0.0.1:8000"
    default_locale: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")
    # Replies on tickets that an integration opened through the API are posted back to it here.
    integration_webhook_url: str = ""
    integration_webhook_secret: str = ""
    embedded_worker: bool = Field(
        default=True,
        description="Run an outbox worker (and the channels' pollers, IMAP) inside `serve`",
    )
    # Addresses of the proxies / load balancers whose X-Forwarded-For and X-Forwarded-Proto
    # `serve` believes (uvicorn's forwarded_allow_ips): comma-separated IPs or networks, or
    # "*". Per-address limits (chat, help center, sign-in) count the client they name.
    forwarded_allow_ips: str = "127.0.0.1"
    max_message_chars: int = 20_000
    login_rate_per_minute: int = 10
    # How long an API token's agent is remembered without asking the database again;
    # a revoked token or deactivated agent works that long. 0 checks on every request.
    api_token_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    # Test each pooled PostgreSQL connection before use. It costs three round trips per
    # transaction (a third of a chat message's); without it a database restart fails the
    # requests in flight once (503 / SMTP 451 / chat "unavailable", all retried) and the
    # pool is rebuilt. Turn it on where connections die silently (idle-killing proxies).
    db_pool_pre_ping: bool = False
    # How often `walletdesk serve` runs a full garbage collection (a pause that grows with
    # the open connections: ~0.7 s at 2,000 chats); between them only young objects are
    # collected, and reference cycles of closed connections wait for the next one.
    gc_full_collection_seconds: float = Field(default=600.0, ge=10)

    @field_validator("secret_key")
    @classmethod
    def _refuse_placeholder(cls, value: str) -> str:
        if value and (value.lower() in _PLACEHOLDER_SECRETS or len(value) < 16):
            raise ValueError("WALLETDESK_SECRET_KEY must be at least 16 random characters")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_forwarded(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r}: give IP addresses or networks (10.0.0.0/8), comma-separated, or *"
                ) from None
        return ",".join(items)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'walletdesk.db').resolve()}"

    @property
    def trusted_proxies(self) -> list[str]:
        """For uvicorn; empty believes no proxy's headers (the peer is the client)."""
        return [item for item in self.forwarded_allow_ips.split(",") if item]

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
