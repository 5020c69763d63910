"""Handing an email to the outbound relay (aiosmtplib), with failures sorted for the outbox."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from walletdesk.channels.email.settings import EmailSettings
from walletdesk.core.channels import DeliveryError, PermanentDeliveryError

SEND_TIMEOUT_SECONDS = 60.0


async def send_email(
    settings: EmailSettings, message: EmailMessage, *, sender: str, recipients: list[str]
) -> None:
    """Deliver to the relay; `sender` "" is the null return path (automatic replies).

    Raises DeliveryError when a retry may work (relay down, 4xx) and PermanentDeliveryError
    when it cannot (5xx refusal, no relay configured).
    """
    server = settings.smtp()
    if server is None:
        raise PermanentDeliveryError("no outbound mail relay configured (WALLETDESK_SMTP_URL)")
    verify = server.options.get("verify", "true").lower() not in ("0", "false", "no")
    starttls_option = server.options.get("starttls")
    start_tls: bool | None = None  # opportunistic: used when the relay offers it
    if server.implicit_tls or (starttls_option and not server.starttls):
        start_tls = False
    elif server.starttls:
        start_tls = True
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=server.implicit_tls,
        start_tls=start_tls,
        validate_certs=verify,
        cert_bundle=settings.smtp_ca_file or None,
        timeout=SEND_TIMEOUT_SECONDS,
        local_hostname=settings.mail_domain,
    )
    try:
        async with client:
            if server.username:
                await client.login(server.username, server.password)
            await client.sendmail(sender, recipients, message.as_bytes())
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        detail = "; ".join(f"{e.recipient}: {e.code} {e.message}" for e in exc.recipients)
        if codes and all(code >= 500 for code in codes):
            raise PermanentDeliveryError(f"relay refused the recipient: {detail}") from None
        raise DeliveryError(f"relay deferred the recipient: {detail}") from None
    except aiosmtplib.SMTPAuthenticationError as exc:
        # Wrong credentials are fixed in settings, after which a retry succeeds.
        raise DeliveryError(f"relay refused our login: {exc.code} {exc.message}") from None
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentDeliveryError(f"relay refused: {exc.code} {exc.message}") from None
        raise DeliveryError(f"relay deferred: {exc.code} {exc.message}") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise DeliveryError(
            f"relay {server.host}:{server.port} unreachable: {type(exc).__name__}: {exc}"
        ) from None
