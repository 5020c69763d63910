"""Handing an email to the outbound relay (aiosmtplib), with failures sorted for the outbox."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from walletdesk.channels.email.settings import EmailSettings, ServerUrl
from walletdesk.core.channels import ChannelSettingsError, DeliveryError, PermanentDeliveryError

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 60.0
# Answers, at any step, meaning the relay wants a login it did not get (RFC 4954 §6):
# 530 authentication required (no credentials in WALLETDESK_SMTP_URL, or STARTTLS first),
# 534 mechanism too weak, 535 credentials invalid, 538 encryption required for the mechanism.
# Settings an admin fixes, never the reply's fault: the outbox keeps such replies waiting.
AUTH_REFUSALS = frozenset({530, 534, 535, 538})
WAITS_FOR_SETTINGS = "retried until the relay settings are fixed"


async def send_email(
    settings: EmailSettings, message: EmailMessage, *, sender: str, recipients: list[str]
) -> None:
    """Deliver to the relay; `sender` "" is the null return path (automatic replies).

    Raises DeliveryError when a retry may work (relay down, 4xx), ChannelSettingsError when
    the relay refuses authentication (retried until the settings are fixed), and
    PermanentDeliveryError when nothing can help (5xx refusal, no relay configured).
    """
    server = settings.smtp()
    if server is None:
        raise PermanentDeliveryError(
            "no outbound mail relay configured (WALLETDESK_SMTP_URL)", reason="not_configured"
        )
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
                await _login(client, server)
            await client.sendmail(sender, recipients, message.as_bytes())
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        detail = "; ".join(f"{e.recipient}: {e.code} {e.message}" for e in exc.recipients)
        if codes and all(code in AUTH_REFUSALS for code in codes):
            first = exc.recipients[0]
            raise _authentication_refused(server, f"{first.code} {first.message}") from None
        if codes and all(code >= 500 for code in codes):
            raise PermanentDeliveryError(f"relay refused the recipient: {detail}") from None
        raise DeliveryError(f"relay deferred the recipient: {detail}") from None
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code in AUTH_REFUSALS:
            raise _authentication_refused(server, f"{exc.code} {exc.message}") from None
        if exc.code >= 500:
            raise PermanentDeliveryError(f"relay refused: {exc.code} {exc.message}") from None
        raise DeliveryError(f"relay deferred: {exc.code} {exc.message}") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise DeliveryError(
            f"relay {server.host}:{server.port} unreachable: {type(exc).__name__}: {exc}",
            reason="unreachable",
        ) from None


async def _login(client: aiosmtplib.SMTP, server: ServerUrl) -> None:
    try:
        await client.login(server.username, server.password)
    except aiosmtplib.SMTPResponseException:
        raise  # a refusal with a code, sorted by the caller
    except aiosmtplib.SMTPException:
        if client.is_connected and not client.supports_extension("auth"):
            # Not offered at all: often only after STARTTLS, or on another port.
            raise _authentication_refused(server, "no AUTH offered", offered=False) from None
        raise


def _authentication_refused(
    server: ServerUrl, said: str, *, offered: bool = True
) -> ChannelSettingsError:
    """The error shown on the reply (and logged), naming what to check but never the password."""
    if len(server.password) >= 4:  # should a relay ever echo it
        said = said.replace(server.password, "***")
    where = f"{server.host}:{server.port}"
    if not server.username:
        check = (
            "WALLETDESK_SMTP_URL has no user name and password; add them "
            "(smtp://user:password@host:587?starttls=true)"
        )
    elif not offered:
        check = (
            "the relay offers no login on this connection; check the TLS options in "
            "WALLETDESK_SMTP_URL (?starttls=true, or smtps://) and that the relay takes logins"
        )
    else:
        check = (
            f"check the user name ({server.username}) and the password in WALLETDESK_SMTP_URL, "
            "and its TLS options (?starttls=true, or smtps://)"
        )
    log.warning(
        "mail relay %s refused authentication (%s): %s; replies wait until this is fixed",
        where,
        said,
        check,
    )
    return ChannelSettingsError(
        f"relay {where} refused authentication ({said}): {check}; {WAITS_FOR_SETTINGS}"
    )
