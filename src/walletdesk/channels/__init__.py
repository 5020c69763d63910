"""Channel adapters. Adding a channel: a new folder here and one line in install_channels."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime


def install_channels(runtime: Runtime) -> None:
    from walletdesk.channels.api.adapter import IntegrationWebhookAdapter
    from walletdesk.channels.email.install import install as install_email
    from walletdesk.channels.webchat.install import install as install_webchat

    runtime.channels.register(IntegrationWebhookAdapter(runtime.settings))
    install_email(runtime)
    install_webchat(runtime)
