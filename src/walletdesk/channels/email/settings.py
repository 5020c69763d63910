"""Settings of the email channel (WALLETDESK_* environment, like the rest of WalletDesk)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from walletdesk.core.tickets.models import Category

DEFAULT_MAX_MESSAGE_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SupportAddress:
    address: str
    # A ticket category this address files new tickets under (complaints@ → complaint).
    category: str | None = None
    # Or the team whose queue (and tier) new tickets start in (escalations@ → L2 Technical).
    team: str | None = None


@dataclass(frozen=True, slots=True)
class ServerUrl:
    """An smtp://, smtps://, imap:// or imaps:// URL taken apart."""

    scheme: str
    host: str
    port: int
    username: str
    password: str
    path: str
    implicit_tls: bool
    starttls: bool
    options: dict[str, str]


_DEFAULT_PORTS = {"smtp": 587, "smtps": 465, "imap": 143, "imaps": 993}


def parse_server_url(url: str, allowed: tuple[str, ...]) -> ServerUrl:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in allowed:
        raise ValueError(f"{url!r}: the scheme must be one of {', '.join(allowed)}")
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"{url!r}: the port is not a number") from None
    options = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
    starttls = options.get("starttls", "").lower() in ("1", "true", "yes")
    return ServerUrl(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        path=unquote(parts.path.lstrip("/")),
        implicit_tls=scheme.endswith("s"),
        starttls=starttls,
        options=options,
    )


class EmailSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WALLETDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    smtp_listen: str = Field(
        default="127.0.0.1:2525",
        description="host:port of the built-in SMTP server; empty disables it",
    )
    support_addresses: str = Field(
        default="support@walletdesk.test,complaints@walletdesk.test=complaint",
        description="Comma-separated addresses we accept mail for, each optionally =category "
        "or =team",
    )
    smtp_url: str = Field(default="", description="Outbound relay: smtp://user:pass@host:port")
    # PEM file of a private CA that signed the relay's certificate, trusted besides the
    # system's store. `?verify=false` in the URL still turns checking off altogether.
    smtp_ca_file: str = ""
    mail_from: str = Field(default="support@walletdesk.test", description="From of our emails")
    mail_from_name: str = "WalletDesk Support"
    imap_url: str = Field(default="", description="imaps://user:pass@host:port/INBOX to poll")
    # Like smtp_ca_file, for the IMAP server's certificate.
    imap_ca_file: str = ""
    imap_poll_seconds: float = 30.0
    # Where the poller moves processed mail (empty: it only marks it \\Seen).
    imap_processed_folder: str = ""
    ack_enabled: bool = True
    ack_reply_time_zh: str = "1 个工作日内"
    ack_reply_time_en: str = "within 1 business day"
    # RFC 3834 loop breaker: at most this many automatic replies to one address per hour.
    autoreply_limit_per_hour: int = Field(default=3, ge=0)
    max_message_bytes: int = Field(default=DEFAULT_MAX_MESSAGE_BYTES, ge=1024)
    # authserv-ids of relays whose Authentication-Results header we believe (RFC 8601).
    trusted_authserv_ids: str = ""
    # Our own DKIM and DMARC check: "auto" runs it unless a trusted relay reported DKIM or
    # DMARC; "always" runs it even then (the relay's SPF still counts); "never" trusts the relay.
    email_verify_dkim: Literal["auto", "always", "never"] = "auto"
    # IP[:port] of the DNS resolvers that check asks, comma-separated; empty: the system's.
    email_dns_servers: str = ""
    # How long one email's check may wait on DNS in all; past it the verdict is "temperror".
    email_dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("smtp_listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        value = value.strip()
        if value:
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ValueError("must be host:port, e.g. 127.0.0.1:2525 (or empty to disable)")
        return value

    @field_validator("support_addresses")
    @classmethod
    def _check_addresses(cls, value: str) -> str:
        parse_support_addresses(value)
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: str) -> str:
        if value.strip():
            parse_server_url(value, ("smtp", "smtps"))
        return value.strip()

    @field_validator("imap_url")
    @classmethod
    def _check_imap_url(cls, value: str) -> str:
        if value.strip():
            parse_server_url(value, ("imap", "imaps"))
        return value.strip()

    @field_validator("smtp_ca_file", "imap_ca_file")
    @classmethod
    def _check_ca_file(cls, value: str) -> str:
        value = value.strip()
        # Checked at start-up: a typo here would otherwise surface as every send failing.
        if value and not os.path.isfile(value):
            raise ValueError(f"{value!r} is not a file (a PEM bundle of CA certificates)")
        return value

    @field_validator("email_verify_dkim", mode="before")
    @classmethod
    def _lower_mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("email_dns_servers")
    @classmethod
    def _check_dns_servers(cls, value: str) -> str:
        parse_dns_servers(value)
        return value.strip()

    @property
    def dns_servers(self) -> tuple[tuple[str, int], ...]:
        return parse_dns_servers(self.email_dns_servers)

    @property
    def listen(self) -> tuple[str, int] | None:
        if not self.smtp_listen:
            return None
        host, _, port = self.smtp_listen.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def addresses(self) -> dict[str, SupportAddress]:
        return {a.address: a for a in parse_support_addresses(self.support_addresses)}

    @property
    def trusted_relays(self) -> frozenset[str]:
        return frozenset(
            part.strip().lower() for part in self.trusted_authserv_ids.split(",") if part.strip()
        )

    @property
    def mail_domain(self) -> str:
        return self.mail_from.rpartition("@")[2].lower() or "walletdesk.invalid"

    def smtp(self) -> ServerUrl | None:
        return parse_server_url(self.smtp_url, ("smtp", "smtps")) if self.smtp_url else None

    def imap(self) -> ServerUrl | None:
        return parse_server_url(self.imap_url, ("imap", "imaps")) if self.imap_url else None


def parse_support_addresses(value: str) -> list[SupportAddress]:
    found: list[SupportAddress] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        address, _, target = item.partition("=")
        address = address.strip().lower()
        if address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
            raise ValueError(f"{address!r} is not an email address")
        target = target.strip()
        # `=complaint` names a category; anything else names a team (checked when mail comes).
        if target in set(Category):
            found.append(SupportAddress(address, category=target))
        else:
            found.append(SupportAddress(address, team=target or None))
    return found


def parse_dns_servers(value: str) -> tuple[tuple[str, int], ...]:
    """`192.0.2.53, [2001:db8::53]:5353` → ((address, port), …); IP addresses, not names."""
    found: list[tuple[str, int]] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        host, port = item, "53"
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif item.count(":") == 1:
            host, _, port = item.partition(":")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"{item!r}: give a resolver's IP address, e.g. 127.0.0.1 or [::1]:5353"
            ) from None
        if not port.isdigit() or not 0 < int(port) <= 65535:
            raise ValueError(f"{item!r}: the port must be a number from 1 to 65535")
        found.append((str(address), int(port)))
    return tuple(found)
