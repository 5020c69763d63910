"""A stopping node does not wait on an IMAP server that stopped answering: a real Dovecot,
frozen mid-poll, under the poller in this process and under the real `serve` process."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.channels.email import dovecot
from tests.channels.email.conftest import make_settings, new_address, new_message_id
from tests.channels.email.mail import text_email
from tests.channels.email.relay import tls_files
from tests.channels.email.tlscerts import TlsFiles
from walletdesk.channels.email.adapter import EmailAdapter
from walletdesk.channels.email.imap import ImapPoller
from walletdesk.channels.email.models import EmailMailbox
from walletdesk.runtime import Runtime

READY_SECONDS = 60.0
# uvicorn's own shutdown takes well under a second here; the poller used to hold the process
# for its socket timeout (60 s) after the event loop had finished.
STOP_SECONDS = 5.0
MESSAGES = 150


__all__ = ["tls_files"]  # a fixture, used by name


@pytest.fixture
def imap_server() -> Iterator[dovecot.Dovecot]:
    dovecot.require()  # one of its own: the test freezes it
    with dovecot.running_dovecot() as server:
        yield server


@pytest.fixture(params=["imap", "imaps"])
def any_imap_server(
    request: pytest.FixtureRequest, tls_files: TlsFiles
) -> Iterator[dovecot.Dovecot]:
    dovecot.require()
    with dovecot.running_dovecot(tls=tls_files if request.param == "imaps" else None) as server:
        yield server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _output(log: Path) -> str:
    return log.read_text(errors="replace")


async def _start_serve(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from walletdesk.cli import main; main()",
            "serve",
            "--port",
            str(port),
            env=env,
            cwd=log.parent,  # no stray .env file is read
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    async with httpx.AsyncClient(timeout=2) as client:
        async with asyncio.timeout(READY_SECONDS):
            while True:
                assert process.returncode is None, _output(log)
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"http://127.0.0.1:{port}/readyz")
                    if response.status_code == 200:
                        return process
                await asyncio.sleep(0.2)


def _fill_mailbox(server: dovecot.Dovecot, count: int, ca_file: Path | None = None) -> None:
    if server.tls:
        context = ssl.create_default_context(cafile=str(ca_file))
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=context)
    else:
        conn = imaplib.IMAP4("127.0.0.1", server.port)
    try:
        conn.login(dovecot.USER, dovecot.PASSWORD)
        for _ in range(count):
            raw = text_email(sender=new_address(), message_id=new_message_id())
            assert conn.append("INBOX", None, None, raw)[0] == "OK"
    finally:
        conn.logout()


async def _mailbox_state(runtime: Runtime, server: dovecot.Dovecot) -> EmailMailbox | None:
    async with runtime.db.transaction() as session:
        return await session.scalar(
            select(EmailMailbox).where(
                EmailMailbox.mailbox == server.url.replace(f":{dovecot.PASSWORD}", "")
            )
        )


async def _one_message_done(runtime: Runtime, server: dovecot.Dovecot) -> None:
    async with asyncio.timeout(READY_SECONDS):
        while True:
            state = await _mailbox_state(runtime, server)
            if state is not None and state.last_uid >= 1:
                return
            await asyncio.sleep(0.02)


async def _step_threads_gone() -> bool:
    for _ in range(int(STOP_SECONDS / 0.05)):
        if not any(thread.name == "imap-step" for thread in threading.enumerate()):
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_stopped_poll_cuts_the_hung_connection_at_once(
    runtime: Runtime, any_imap_server: dovecot.Dovecot, tls_files: TlsFiles
) -> None:
    server = any_imap_server
    await asyncio.to_thread(_fill_mailbox, server, MESSAGES, tls_files.ca_file)
    settings = make_settings(
        1,
        imap_url=server.url,
        imap_ca_file=str(tls_files.ca_file) if server.tls else "",
        ack_enabled=False,
    )
    runtime.channels.register(EmailAdapter(runtime, settings))
    poll = asyncio.create_task(ImapPoller(runtime, settings).poll_once())
    await _one_message_done(runtime, server)
    with dovecot.stalled(server):
        await asyncio.sleep(0.5)  # the poller's next IMAP command is waiting for an answer
        assert not poll.done()
        poll.cancel()
        await asyncio.wait({poll}, timeout=STOP_SECONDS)
        stopped = poll.done()
        # The step's own thread is over too: the cut woke the read it was blocked in.
        threads_gone = await _step_threads_gone()
    assert stopped and poll.cancelled()
    assert threads_gone
    state = await _mailbox_state(runtime, server)
    assert state is not None and state.claimed_by is None
    assert 1 <= state.last_uid < MESSAGES


# What is under test is the poller's threads, not the database: one backend is enough.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_serve_stops_promptly_while_the_imap_server_hangs(
    runtime: Runtime, imap_server: dovecot.Dovecot, tmp_path: Path
) -> None:
    # Enough mail that the first poll is still reading it when the server freezes.
    await asyncio.to_thread(_fill_mailbox, imap_server, MESSAGES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLETDESK_")}
    env.update(
        WALLETDESK_DATA_DIR=str(tmp_path),
        WALLETDESK_DATABASE_URL=runtime.settings.database_url,
        WALLETDESK_SECRET_KEY=secrets.token_urlsafe(32),
        WALLETDESK_SMTP_LISTEN="",
        WALLETDESK_IMAP_URL=imap_server.url,  # polled by serve's embedded worker
        WALLETDESK_ACK_ENABLED="false",
        WALLETDESK_EMAIL_VERIFY_DKIM="never",  # no DNS lookups from the test machine
    )
    port, log = _free_port(), tmp_path / "serve.log"
    process = await _start_serve(env, port, log)
    try:
        # Logged in and reading: the poller's next IMAP command will get no answer.
        await _one_message_done(runtime, imap_server)
        with dovecot.stalled(imap_server):
            await asyncio.sleep(0.5)
            assert process.returncode is None, _output(log)
            os.kill(process.pid, signal.SIGTERM)
            started = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_SECONDS)
            took = time.monotonic() - started
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            pytest.fail(f"serve still ran {STOP_SECONDS} s after SIGTERM:\n{_output(log)}")

    output = _output(log)
    # uvicorn stops gracefully, then dies of the signal it caught, as a parent expects.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert took < STOP_SECONDS
    assert "Traceback" not in output, output
    state = await _mailbox_state(runtime, imap_server)
    # The poll it broke off gave the mailbox back: the next node need not wait out the lease.
    assert state is not None and state.claimed_by is None, output
    assert 1 <= state.last_uid < MESSAGES, output
