"""The `api` channel: tickets an integration (the wallet app's backend) opened over the REST API.

Agent replies on them are posted back to the integration's webhook, signed with
HMAC-SHA256 so it can tell them from forgeries, with an Idempotency-Key so a retried
delivery can be recognised and shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import time
from functools import cache

import httpx

from walletdesk.core.channels import (
    DeliveryError,
    DeliveryResult,
    OutboundMessage,
    PermanentDeliveryError,
)
from walletdesk.settings import Settings

SIGNATURE_HEADER = "X-WalletDesk-Signature"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle costs ~40 ms; once per process, not once per delivery.
    return httpx.create_ssl_context()


class IntegrationWebhookAdapter:
    name = "api"

    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.url = settings.integration_webhook_url
        self.secret = settings.integration_webhook_secret
        self.transport = transport

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if not self.url:
            raise PermanentDeliveryError(
                "no integration webhook configured (WALLETDESK_INTEGRATION_WEBHOOK_URL)",
                reason="not_configured",
            )
        body = json.dumps(
            {
                "type": "ticket.reply",
                "ticket_number": message.ticket_number,
                "message_id": message.message_id,
                "text": message.text,
                "agent_name": message.agent_name,
                "recipients": message.recipients,
            },
            ensure_ascii=False,
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            "X-WalletDesk-Timestamp": timestamp,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        try:
            async with httpx.AsyncClient(
                transport=self.transport, timeout=10, verify=_tls()
            ) as client:
                response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"integration webhook unreachable: {type(exc).__name__}", reason="unreachable"
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise DeliveryError(f"integration webhook answered {response.status_code}")
        # Redirects are not followed: a webhook that moved must be reconfigured, not guessed.
        if response.status_code >= 300:
            raise PermanentDeliveryError(f"integration webhook refused: {response.status_code}")
        return DeliveryResult(external_id=response.headers.get("X-Message-Id"))
