"""The built-in SMTP server (aiosmtpd) that `walletdesk serve` starts.

A message is answered 250 only once it is stored (its ticket committed), so a sending
relay that got our 250 can forget it, and one that got a 4xx tries again later. Every
message is handled on its own: whatever it contains, the answer is an SMTP reply
(550 unknown recipient, 552 too large, 451 try later), never a dropped connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from walletdesk.channels.email.adapter import email_settings_of
from walletdesk.channels.email.inbound import Refused, receive
from walletdesk.channels.email.settings import EmailSettings

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime

log = logging.getLogger(__name__)


class SupportMailbox:
    """aiosmtpd handler: accepts mail for the support addresses and feeds it to the ingest path."""

    def __init__(self, runtime: Runtime, settings: EmailSettings) -> None:
        self.runtime = runtime
        self.settings = settings

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        # Bounces of our replies come back to MAIL_FROM, which may not be a support address.
        accepted = {*self.settings.addresses, self.settings.mail_from.lower()}
        if address.strip().lower() not in accepted:
            return f"550 5.1.1 <{address[:100]}>: no such support address here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        try:
            received = await receive(
                self.runtime,
                self.settings,
                raw,
                # aiosmtpd spells the null return path "<>".
                envelope_from=(envelope.mail_from or "").strip("<>"),
                recipients=envelope.rcpt_tos,
            )
        except Refused as exc:
            return f"{exc.code} {exc.text}"
        except Exception:
            # The database or disk failed us: the sender keeps the message and retries.
            log.exception("could not store an email from %s", envelope.mail_from)
            return "451 4.3.0 temporary failure storing the message; try again later"
        if received.ticket_number:
            return f"250 2.0.0 OK ticket {received.ticket_number}"
        return f"250 2.0.0 OK ({received.outcome})"


class SmtpServerHandle:
    def __init__(self, server: asyncio.Server) -> None:
        self.server = server

    @property
    def port(self) -> int:
        sockname: Any = self.server.sockets[0].getsockname()
        return int(sockname[1])

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_smtp_server(
    runtime: Runtime, settings: EmailSettings | None = None
) -> SmtpServerHandle | None:
    """Listen on WALLETDESK_SMTP_LISTEN; None when that is empty (the server is off)."""
    settings = settings or email_settings_of(runtime)
    listen = settings.listen
    if listen is None:
        return None
    host, port = listen
    # aiosmtpd logs every SMTP command at INFO: far too much for a production log.
    protocol_log = logging.getLogger("mail.log")
    if protocol_log.level == logging.NOTSET:
        protocol_log.setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = SupportMailbox(runtime, settings)

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=settings.mail_domain,
            ident="WalletDesk ESMTP",
            timeout=120,
            loop=loop,
        )

    try:
        # reuse_port: each process of `serve --workers N` listens, and the kernel shares out
        # the connections among them.
        server = await loop.create_server(protocol, host, port, reuse_port=True)
    except OSError as exc:
        raise RuntimeError(
            f"WALLETDESK_SMTP_LISTEN={settings.smtp_listen}: cannot listen there ({exc.strerror})"
        ) from None
    handle = SmtpServerHandle(server)
    log.info("SMTP server listening on %s:%s", host, handle.port)
    return handle
