"""Test fixtures: real SQLite and PostgreSQL, real Redis, the real app over ASGI.

Each backend's schema is migrated once per run. Tests do not share expectations about
table contents: builders make unique data (emails, names) and tests look at their own.
PostgreSQL and Redis tests skip, with the reason shown, unless WALLETDESK_TEST_DATABASE_URL
and WALLETDESK_TEST_REDIS_URL are set; under CI=true they fail instead of skipping.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from walletdesk.app import create_app
from walletdesk.core.actors import SYSTEM, Actor
from walletdesk.core.agents.models import Agent
from walletdesk.core.agents.service import actor_for, create_agent, create_api_token
from walletdesk.core.attachments.storage import LocalFileStore
from walletdesk.core.channels import InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.events import InProcessEventBus
from walletdesk.core.ingest import IngestResult, ingest
from walletdesk.core.outbox.models import OutboxJob, OutboxStatus
from walletdesk.db import Database
from walletdesk.migrate import upgrade_async
from walletdesk.runtime import Runtime
from walletdesk.settings import Settings

# Servers that tests start (in-process or as subprocesses) must not all grab the default SMTP
# port; the email tests start their listener with their own settings.
os.environ.setdefault("WALLETDESK_SMTP_LISTEN", "")

PG_URL = os.environ.get("WALLETDESK_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("WALLETDESK_TEST_REDIS_URL", "")
ON_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery"

_unique = itertools.count(1)
_phones = itertools.count(1)


def unique(prefix: str = "x") -> str:
    return f"{prefix}{os.getpid()}-{next(_unique)}"


def unique_phone() -> str:
    """A mainland mobile number no other test of this run uses: 139 PPPP NNNN."""
    return f"139{os.getpid() % 10_000:04d}{next(_phones) % 10_000:04d}"


def require_service(url: str, variable: str) -> str:
    if url:
        return url
    if ON_CI:
        pytest.fail(f"{variable} is not set: CI must test against the real service")
    pytest.skip(f"{variable} not set; this test needs the real service")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; tests using it are marked `redis` at collection."""
    return require_service(REDIS_URL, "WALLETDESK_TEST_REDIS_URL")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Runs before `-m` deselects, so `-m "not postgres and not redis"` leaves out every test
    # that needs a service, whether it asks for it directly or through `backend`.
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "redis_url" in names:
            item.add_marker(pytest.mark.redis)
        if "postgres_url" in names:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
async def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("db") / "walletdesk.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    return url


@pytest.fixture(scope="session")
async def postgres_url() -> str:
    url = require_service(PG_URL, "WALLETDESK_TEST_DATABASE_URL")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade_async(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Runs a test once per database; `-m "not postgres"` selects the SQLite half."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest) -> str:
    name = "postgres_url" if backend == "postgres" else "sqlite_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
async def runtime(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Runtime]:
    """A runtime on one backend with an in-process bus, as `walletdesk serve` would build it.

    The database outlives the test, its outbox jobs do not: the test starts with none
    waiting, and what it leaves waiting is retired when it ends (see `_retire_waiting_jobs`).
    """
    from walletdesk.channels import install_channels

    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        secret_key="t" * 32,
        embedded_worker=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    bus = InProcessEventBus()
    rt = Runtime(
        settings=settings,
        db=Database(db_url, bus=bus),
        bus=bus,
        files=LocalFileStore(tmp_path / "attachments"),
    )
    install_channels(rt)
    newest = await _retire_leftover_jobs(rt.db)
    yield rt
    await _retire_waiting_jobs(rt.db, newest, request.node.nodeid)
    await rt.close()


_WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING)


async def _retire_leftover_jobs(db: Database) -> int:
    """Retires any outbox job still waiting (each test retires its own when it ends, so
    these are only a late server's); returns the newest job's id.

    A job left due (an acknowledgement nobody sent, a reply whose relay was gone) would go
    out through a later test's worker, to that test's relay or webhook, or take the place
    of that test's own job in a claim.
    """
    await _retire_waiting_jobs(db, 0, "an earlier test")
    async with db.transaction() as session:
        newest = await session.scalar(select(func.coalesce(func.max(OutboxJob.id), 0)))
    return int(newest or 0)


async def _retire_waiting_jobs(db: Database, after: int, test: str) -> None:
    """Gives up the jobs a test left waiting, naming the test, so no later worker sends them."""
    async with db.transaction() as session:
        await session.execute(
            update(OutboxJob)
            .where(OutboxJob.id > after, OutboxJob.status.in_(_WAITING))
            .values(
                status=OutboxStatus.DEAD,
                lease_until=None,
                last_error=f"left waiting when {test} ended"[:2000],
            )
        )


@pytest.fixture
def db(runtime: Runtime) -> Database:
    return runtime.db


@dataclass
class AgentLogin:
    agent: Agent
    actor: Actor
    token: str
    password: str = PASSWORD

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_agent(
    db: Database, role: str = "agent", tier: int = 1, locale: str = "en"
) -> AgentLogin:
    async with db.transaction() as session:
        agent = await create_agent(
            session,
            SYSTEM,
            email=f"{unique('agent')}@walletdesk.test",
            name=unique("Agent "),
            role=role,
            tier=tier,
            password=PASSWORD,
            locale=locale,
        )
        _, token = await create_api_token(session, SYSTEM, agent, "tests")
    return AgentLogin(agent, actor_for(agent, "api"), token)


def customer_email() -> SenderIdentity:
    return SenderIdentity("email", f"{unique('customer')}@example.com")


async def make_ticket(
    db: Database,
    *,
    sender: SenderIdentity | None = None,
    text: str = "我的转账还没到账",
    subject: str = "",
    channel: str = "api",
    thread_key: str | None = None,
    external_id: str | None = None,
) -> IngestResult:
    """A customer message through ingest(): opens a ticket unless it names or continues one."""
    inbound = InboundMessage(
        channel=channel,
        external_id=external_id or unique("ext"),
        sender=sender or customer_email(),
        text=text,
        subject=subject,
        thread_key=thread_key,
    )
    return await ingest(db, inbound)


@pytest.fixture
async def l1_agent(db: Database) -> AgentLogin:
    return await make_agent(db, "agent", 1)


@pytest.fixture
async def supervisor(db: Database) -> AgentLogin:
    return await make_agent(db, "supervisor", 1)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def test_output_dir() -> Iterator[Path]:
    """Screenshots and other artefacts for reviewers; not committed."""
    path = Path(__file__).resolve().parent.parent / "test-output"
    path.mkdir(exist_ok=True)
    yield path
