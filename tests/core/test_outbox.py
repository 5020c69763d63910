"""The outbox: replies reach a real HTTP webhook once, retried with backoff, leases and workers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from tests.conftest import AgentLogin, make_agent, make_ticket
from walletdesk.channels.api.adapter import SIGNATURE_HEADER, IntegrationWebhookAdapter
from walletdesk.core.channels import ChannelRegistry
from walletdesk.core.outbox import service as outbox
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.core.outbox.worker import OutboxWorker
from walletdesk.core.tickets import queries
from walletdesk.core.tickets import service as tickets
from walletdesk.core.tickets.models import DeliveryStatus, Message
from walletdesk.core.tickets.tasks import DeliverMessage
from walletdesk.db import Database
from walletdesk.settings import Settings

SECRET = "webhook-secret-for-tests-0123456789"
# Retries wait a few milliseconds, so a test drives them with run_once calls.
TINY_BACKOFF = 0.002
MAX_ROUNDS = 500


@dataclass
class Delivery:
    key: str
    body: dict[str, object]
    signature_ok: bool
    status: int


@dataclass
class Webhook:
    """A real HTTP server standing in for the integration: answers per Idempotency-Key."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    # key → the statuses to answer, in turn; afterwards (and for unknown keys) 200.
    script: dict[str, list[int]] = field(default_factory=dict)
    # key → an event the server waits on before answering that key's first request.
    hold: dict[str, threading.Event] = field(default_factory=dict)
    received: dict[str, threading.Event] = field(default_factory=dict)
    # key → the X-Message-Id to answer with (default: one of its own per key).
    platform_ids: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str, body: dict[str, object], signature_ok: bool) -> int:
        with self.lock:
            statuses = self.script.get(key, [])
            status = statuses.pop(0) if statuses else 200
            self.deliveries.append(Delivery(key, body, signature_ok, status))
            first = sum(d.key == key for d in self.deliveries) == 1
            gate = self.hold.get(key) if first else None
            arrived = self.received.get(key)
        if arrived:
            arrived.set()
        if gate:
            gate.wait(timeout=30)
        return status

    def count(self, key: str) -> int:
        with self.lock:
            return sum(d.key == key for d in self.deliveries)


def _handler(webhook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            stamp = self.headers.get("X-WalletDesk-Timestamp", "")
            expected = (
                "sha256="
                + hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
            )
            status = webhook.answer(
                self.headers.get("Idempotency-Key", ""),
                json.loads(raw),
                hmac.compare_digest(expected, self.headers.get(SIGNATURE_HEADER, "")),
            )
            self.send_response(status)
            if status == 200:
                key = self.headers["Idempotency-Key"]
                self.send_header("X-Message-Id", webhook.platform_ids.get(key, f"platform-{key}"))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
    server.daemon_threads = True
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/walletdesk/replies"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    for gate in hook.hold.values():
        gate.set()
    server.shutdown()
    server.server_close()
    thread.join()


def _worker(db: Database, url: str, **options: object) -> OutboxWorker:
    settings = Settings(
        integration_webhook_url=url,
        integration_webhook_secret=SECRET,
        _env_file=None,  # type: ignore[call-arg]
    )
    channels = ChannelRegistry()
    channels.register(IntegrationWebhookAdapter(settings))
    handler = DeliverMessage(db, channels)
    options.setdefault("backoff_base", TINY_BACKOFF)
    return OutboxWorker(db, {tickets.DELIVER_MESSAGE: handler}, **options)  # type: ignore[arg-type]


async def _reply(db: Database, agent: AgentLogin, count: int = 1) -> list[int]:
    """A ticket an integration opened, and `count` public replies to it; their message ids."""
    opened = await make_ticket(db, channel="api")
    ids = []
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, agent.actor, opened.ticket_number)
        for n in range(count):
            message = await tickets.post_agent_message(
                session, agent.actor, ticket, body=f"回复 {n}：我们正在核查", internal=False
            )
            ids.append(message.id)
    return ids


def _key(message_id: int) -> str:
    return f"message:{message_id}"


async def _job(db: Database, message_id: int) -> OutboxJob:
    async with db.transaction() as session:
        job = await session.scalar(
            select(OutboxJob).where(OutboxJob.idempotency_key == _key(message_id))
        )
        assert job is not None
        return job


async def _message(db: Database, message_id: int) -> Message:
    async with db.transaction() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message


async def _run_until(worker: OutboxWorker, done: Callable[[], Awaitable[bool]]) -> None:
    """Call run_once until `done()` says so; a retry is due a few milliseconds later."""
    for _ in range(MAX_ROUNDS):
        await worker.run_once()
        if await done():
            return
        await asyncio.sleep(TINY_BACKOFF)
    raise AssertionError("the outbox did not settle")


async def _settled(db: Database, message_id: int) -> bool:
    return (await _job(db, message_id)).status in (OutboxStatus.DONE, OutboxStatus.DEAD)


async def test_a_reply_survives_two_server_errors_and_is_delivered_once(
    db: Database, l1_agent: AgentLogin, webhook: Webhook
) -> None:
    [message_id] = await _reply(db, l1_agent)
    webhook.script[_key(message_id)] = [500, 500]
    job = await _job(db, message_id)
    assert (job.status, job.attempts) == (OutboxStatus.PENDING, 0)
    assert (await _message(db, message_id)).delivery_status == DeliveryStatus.PENDING

    worker = _worker(db, webhook.url)
    await _run_until(worker, lambda: _job_attempted(db, message_id, 1))
    failed_once = await _message(db, message_id)
    assert failed_once.delivery_status == DeliveryStatus.PENDING
    assert failed_once.delivery_error == "integration webhook answered 500"
    assert failed_once.delivery_reason == "deferred"

    await _run_until(worker, lambda: _settled(db, message_id))
    job = await _job(db, message_id)
    assert (job.status, job.attempts, job.last_error) == (OutboxStatus.DONE, 3, None)
    message = await _message(db, message_id)
    assert (message.delivery_status, message.delivery_error) == (DeliveryStatus.SENT, None)
    assert message.delivery_reason is None  # delivered: the earlier failure is no longer news
    assert message.external_id == f"platform-{_key(message_id)}"

    mine = [d for d in webhook.deliveries if d.key == _key(message_id)]
    # Three posts under one Idempotency-Key, two refused: the platform took it exactly once.
    assert [(d.key, d.status) for d in mine] == [(_key(message_id), s) for s in (500, 500, 200)]
    assert all(d.signature_ok for d in mine)
    assert mine[-1].body["text"] == "回复 0：我们正在核查"
    assert mine[-1].body["message_id"] == message_id

    # Nothing is left to do for this reply: more runs never send it again.
    for _ in range(3):
        await worker.run_once()
    assert webhook.count(_key(message_id)) == 3


async def _job_attempted(db: Database, message_id: int, attempts: int) -> bool:
    job = await _job(db, message_id)
    return job.attempts >= attempts and job.status != OutboxStatus.SENDING


@pytest.mark.parametrize("answer", [400, 404, 422])
async def test_a_refused_reply_is_dead_at_once_and_shown_failed(
    db: Database, l1_agent: AgentLogin, webhook: Webhook, answer: int
) -> None:
    [message_id] = await _reply(db, l1_agent)
    webhook.script[_key(message_id)] = [answer]
    await _run_until(_worker(db, webhook.url), lambda: _settled(db, message_id))
    job = await _job(db, message_id)
    assert (job.status, job.attempts) == (OutboxStatus.DEAD, 1)
    message = await _message(db, message_id)
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.delivery_error == f"integration webhook refused: {answer}"
    assert message.delivery_reason == "refused"
    assert webhook.count(_key(message_id)) == 1


async def test_without_a_webhook_url_a_reply_fails_with_the_reason(
    db: Database, l1_agent: AgentLogin
) -> None:
    [message_id] = await _reply(db, l1_agent)
    await _run_until(_worker(db, ""), lambda: _settled(db, message_id))
    assert (await _job(db, message_id)).status == OutboxStatus.DEAD
    message = await _message(db, message_id)
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.delivery_error is not None
    assert "WALLETDESK_INTEGRATION_WEBHOOK_URL" in message.delivery_error
    assert message.delivery_reason == "not_configured"


async def test_a_reply_that_keeps_failing_dies_after_its_last_attempt(
    db: Database, l1_agent: AgentLogin, webhook: Webhook
) -> None:
    [message_id] = await _reply(db, l1_agent)
    job = await _job(db, message_id)
    webhook.script[_key(message_id)] = [503] * (job.max_attempts + 5)
    await _run_until(_worker(db, webhook.url), lambda: _settled(db, message_id))
    job = await _job(db, message_id)
    assert (job.status, job.attempts) == (OutboxStatus.DEAD, job.max_attempts)
    assert webhook.count(_key(message_id)) == job.max_attempts
    message = await _message(db, message_id)
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.delivery_error == "integration webhook answered 503"


async def test_a_platform_reusing_its_message_id_does_not_make_us_send_again(
    db: Database, l1_agent: AgentLogin, webhook: Webhook
) -> None:
    # Some integrations answer every post with the same id (a thread id, or "ok").
    first, second = await _reply(db, l1_agent, count=2)
    same = f"thread-{first}"
    webhook.platform_ids.update({_key(first): same, _key(second): same})
    worker = _worker(db, webhook.url)
    await _run_until(worker, lambda: _both_settled(db, first, second))
    for message_id in (first, second):
        job = await _job(db, message_id)
        assert (job.status, job.attempts) == (OutboxStatus.DONE, 1)
        assert (await _message(db, message_id)).delivery_status == DeliveryStatus.SENT
        assert webhook.count(_key(message_id)) == 1
    ids = [(await _message(db, m)).external_id for m in (first, second)]
    assert ids.count(same) == 1


async def _both_settled(db: Database, first: int, second: int) -> bool:
    return await _settled(db, first) and await _settled(db, second)


async def test_an_internal_note_is_never_sent(db: Database, l1_agent: AgentLogin) -> None:
    opened = await make_ticket(db, channel="api")
    async with db.transaction() as session:
        ticket = await queries.get_ticket(session, l1_agent.actor, opened.ticket_number)
        note = await tickets.post_agent_message(
            session, l1_agent.actor, ticket, body="客户情绪激动", internal=True
        )
        assert await outbox.jobs_for_ticket(session, ticket.id) == []
    assert note.delivery_status is None


async def test_a_job_held_under_a_live_lease_is_left_alone(
    db: Database, l1_agent: AgentLogin, webhook: Webhook
) -> None:
    [message_id] = await _reply(db, l1_agent)
    async with db.transaction() as session:
        claimed = await outbox.claim(session, "busy-worker", limit=1_000, lease=timedelta(hours=1))
    assert message_id in {job.payload["message_id"] for job in claimed}
    await _worker(db, webhook.url).run_once()
    job = await _job(db, message_id)
    assert (job.status, job.claimed_by, job.attempts) == (OutboxStatus.SENDING, "busy-worker", 1)
    assert webhook.count(_key(message_id)) == 0


async def test_a_job_whose_lease_ran_out_is_reclaimed_and_the_slow_worker_cannot_undo_it(
    db: Database, l1_agent: AgentLogin, webhook: Webhook
) -> None:
    [message_id] = await _reply(db, l1_agent)
    key = _key(message_id)
    # The first attempt hangs at the platform, then fails; the lease runs out meanwhile.
    webhook.script[key] = [500]
    webhook.hold[key] = threading.Event()
    webhook.received[key] = threading.Event()
    slow = _worker(db, webhook.url, lease=timedelta(0))
    slow_run = asyncio.create_task(slow.run_once())
    for _ in range(MAX_ROUNDS):
        if webhook.received[key].is_set():
            break
        await asyncio.sleep(0.01)
    assert webhook.received[key].is_set()

    rescuer = _worker(db, webhook.url)
    await _run_until(rescuer, lambda: _settled(db, message_id))
    job = await _job(db, message_id)
    assert (job.status, job.attempts, job.claimed_by) == (OutboxStatus.DONE, 2, rescuer.worker_id)

    webhook.hold[key].set()  # the slow worker's attempt now fails, long after its lease
    await slow_run
    job = await _job(db, message_id)
    assert (job.status, job.attempts) == (OutboxStatus.DONE, 2)
    message = await _message(db, message_id)
    assert (message.delivery_status, message.delivery_error) == (DeliveryStatus.SENT, None)
    assert webhook.count(key) == 2
    assert {d.key for d in webhook.deliveries if d.key == key} == {key}


async def test_two_workers_on_postgres_never_take_the_same_job(
    postgres_url: str, webhook: Webhook
) -> None:
    first_db, second_db = Database(postgres_url), Database(postgres_url)
    try:
        agent = await make_agent(first_db)
        message_ids = await _reply(first_db, agent, count=200)
        workers = [
            _worker(first_db, webhook.url, batch_size=7),
            _worker(second_db, webhook.url, batch_size=7),
        ]

        async def drain(worker: OutboxWorker) -> None:
            while await worker.run_once():
                pass

        await asyncio.gather(*(drain(w) for w in workers))

        keys = Counter(d.key for d in webhook.deliveries)
        assert {d.status for d in webhook.deliveries} == {200}
        assert {_key(m): keys[_key(m)] for m in message_ids} == {_key(m): 1 for m in message_ids}
        assert max(keys.values()) == 1
        async with first_db.transaction() as session:
            jobs = (
                await session.scalars(
                    select(OutboxJob).where(
                        OutboxJob.idempotency_key.in_([_key(m) for m in message_ids])
                    )
                )
            ).all()
        assert len(jobs) == 200
        assert {(j.status, j.attempts) for j in jobs} == {(OutboxStatus.DONE, 1)}
        # Both workers did part of the work: the claims really ran side by side.
        assert {j.claimed_by for j in jobs} == {w.worker_id for w in workers}
    finally:
        await first_db.dispose()
        await second_db.dispose()


async def test_a_stop_landing_with_a_wake_up_still_stops_the_worker(db: Database) -> None:
    # A node stops its worker by cancelling it. On Python 3.11, wait_for swallowed a cancel
    # arriving in the same loop turn as the wake-up it waited for, and the worker ran on.
    worker = OutboxWorker(db, {}, poll_interval=60)
    running = asyncio.create_task(worker.run_forever())
    for _ in range(50):  # into its idle wait
        await asyncio.sleep(0.01)
    worker._wake.set()  # what a job published on the bus does
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await running
