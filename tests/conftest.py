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
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from walletdesk.app import create_app
from walletdesk.core.actors import SYSTEM, Actor
from walletdesk.core.agents.models import Agent
from walletdesk.core.agents.service import actor_for, create_agent, create_api_token
from walletdesk.core.attachments.storage import LocalFileStore
from walletdesk.core.events import InProcessEventBus
from walletdesk.db import Database
from walletdesk.migrate import upgrade_async
from walletdesk.runtime import Runtime
from walletdesk.settings import Settings

PG_URL = os.environ.get("WALLETDESK_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("WALLETDESK_TEST_REDIS_URL", "")
ON_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct horse battery"

_unique = itertools.count(1)


def unique(prefix: str = "x") -> str:
    return f"{prefix}{os.getpid()}-{next(_unique)}"


def require_service(url: str, variable: str) -> str:
    if url:
        return url
    if ON_CI:
        pytest.fail(f"{variable} is not set: CI must test against the real service")
    pytest.skip(f"{variable} not set; this test needs the real service")


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
async def runtime(db_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime on one backend with an in-process bus, as `walletdesk serve` would build it."""
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
    yield rt
    await rt.close()


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
