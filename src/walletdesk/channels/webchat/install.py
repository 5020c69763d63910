"""Plugging live chat into a node: the channel adapter and its outbox job."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walletdesk.runtime import Runtime


def install(runtime: Runtime) -> None:
    from walletdesk.channels.webchat.adapter import WebchatAdapter
    from walletdesk.channels.webchat.transcript import TRANSCRIPT_JOB, SendTranscript

    runtime.channels.register(WebchatAdapter(runtime))
    runtime.job_handlers[TRANSCRIPT_JOB] = SendTranscript(runtime)
