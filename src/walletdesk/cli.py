"""The `walletdesk` command. User mistakes print one clear line and exit 1, never a traceback."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from walletdesk.channels.webchat.cli import webchat_app
from walletdesk.core.errors import DomainError
from walletdesk.helpcenter.cli import kb_app
from walletdesk.settings import Settings, get_settings

app = typer.Typer(
    help="WalletDesk: omnichannel customer service for wallet companies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
agent_app = typer.Typer(help="Manage agents.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(agent_app, name="agent")
app.add_typer(token_app, name="token")
app.add_typer(webchat_app, name="webchat")
app.add_typer(kb_app, name="kb")

T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(1)


def _friendly(exc: BaseException) -> str | None:
    """A one-line explanation for errors caused by the user's input or environment."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

    if isinstance(exc, DomainError):
        return str(exc)
    if isinstance(exc, ArgumentError):
        return f"WALLETDESK_DATABASE_URL is not a database URL ({exc})"
    if isinstance(exc, OperationalError | OSError | ConnectionError):
        return f"cannot reach the database: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
    if isinstance(exc, DBAPIError):
        return f"database error: {str(exc.orig).splitlines()[0]}"
    if isinstance(exc, ModuleNotFoundError) and exc.name in ("psycopg2", "MySQLdb", "pymysql"):
        return "unsupported database URL: use sqlite+aiosqlite:// or postgresql+asyncpg://"
    return None


def run_async(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(func(*args, **kwargs))
        except typer.Exit:
            raise
        except Exception as exc:
            message = _friendly(exc)
            if message is None:
                raise
            raise fail(message) from None

    return wrapper


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "WALLETDESK_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise fail(f"{name}: {first['msg']}") from None


def _database_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = settings.resolved_database_url
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise fail(f"WALLETDESK_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise fail(
            "WALLETDESK_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    if parsed.drivername.startswith("sqlite") and parsed.database:
        folder = Path(parsed.database).parent
        if folder != settings.data_dir and not folder.is_dir():
            raise fail(f"cannot reach the database: the folder {folder} does not exist")
    return url


def do_migrate(settings: Settings) -> None:
    from walletdesk.migrate import upgrade

    url = _database_url(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(url)
    except Exception as exc:
        message = _friendly(exc)
        if message is None:
            raise
        raise fail(message) from None


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = load_settings()
    do_migrate(settings)
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the web console and API (with an outbox worker inside unless disabled)."""
    import uvicorn

    settings = load_settings()
    _database_url(settings)
    if workers > 1 and not settings.redis_url:
        # Each process would have its own in-process event bus: a customer's chat on one
        # and the agent on another would never hear each other.
        raise fail("several --workers share live events through Redis: set WALLETDESK_REDIS_URL")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        "walletdesk.app:create_served_app",
        factory=True,
        **uvicorn_options(settings, host=host, port=port, workers=workers),
    )


def uvicorn_options(settings: Settings, *, host: str, port: int, workers: int) -> dict[str, Any]:
    """What `serve` gives uvicorn besides the app (tests build a uvicorn.Config from it)."""
    return {
        "host": host,
        "port": port,
        "workers": workers,
        "ws_per_message_deflate": False,
        "log_level": "info",
        # The client address every per-address limit counts: the peer's, or, when the peer
        # is a trusted proxy, the one its X-Forwarded-For names.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.trusted_proxies,
    }


@app.command()
def worker() -> None:
    """Run an outbox worker: delivers replies and other outgoing messages, with retries."""
    from walletdesk.core.outbox.worker import OutboxWorker
    from walletdesk.runtime import build_runtime, outbox_handlers

    settings = load_settings()
    _database_url(settings)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    @run_async
    async def _run() -> None:
        runtime = build_runtime(settings)
        try:
            await asyncio.gather(
                OutboxWorker(runtime.db, outbox_handlers(runtime), bus=runtime.bus).run_forever(),
                *(task(runtime) for task in runtime.worker_tasks),
            )
        finally:
            await runtime.close()

    try:
        _run()
    except KeyboardInterrupt:
        typer.echo("worker stopped")


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    seed_only: Annotated[bool, typer.Option(help="Seed the demo data and exit")] = False,
) -> None:
    """Create the database, seed demo agents and tickets, and start the server."""
    from walletdesk.demo import DEMO_PASSWORD, ensure_demo_chat_site, seed_demo

    settings = load_settings()
    do_migrate(settings)
    agents = run_async(seed_demo)(settings)
    here = f"http://{host}:{port}"
    site_key = run_async(ensure_demo_chat_site)(settings, here)
    typer.echo("")
    typer.echo(f"WalletDesk demo console: {here}/console/")
    typer.echo(f"Chat widget on a demo web page: {here}/webchat/demo?site={site_key}")
    typer.echo(f"Demo logins (password {DEMO_PASSWORD}):")
    for email, role, tier in agents:
        typer.echo(f"  {email:32} {role:11} L{tier}")
    typer.echo("")
    if not seed_only:
        serve(host=host, port=port, workers=1)


@agent_app.command("create")
def agent_create(
    email: Annotated[str, typer.Option(help="Login email")],
    name: Annotated[str, typer.Option(help="Display name")],
    role: Annotated[str, typer.Option(help="agent, supervisor or admin")] = "agent",
    tier: Annotated[int, typer.Option(help="Support tier 1-3")] = 1,
    locale: Annotated[str, typer.Option(help="zh-CN or en")] = "zh-CN",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Create an agent who can sign in to the console."""
    from walletdesk.core.actors import SYSTEM
    from walletdesk.core.agents.service import create_agent

    settings = load_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        raise fail("no terminal to ask for a password: use --password-stdin")

    @run_async
    async def _create() -> None:
        from walletdesk.db import Database

        db = Database(_database_url(settings))
        try:
            async with db.transaction() as session:
                agent = await create_agent(
                    session,
                    SYSTEM,
                    email=email,
                    name=name,
                    role=role,
                    tier=tier,
                    password=password,
                    locale=locale,
                )
                typer.echo(f"created {agent.role} {agent.email} (L{agent.tier}), id {agent.id}")
        finally:
            await db.dispose()

    _create()


@token_app.command("create")
def token_create(
    agent: Annotated[str, typer.Option(help="Email of the agent the token acts as")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "api",
) -> None:
    """Create an API token. It is printed once, alone on the last line; only its hash is kept."""
    from walletdesk.core.actors import SYSTEM
    from walletdesk.core.agents.service import create_api_token, get_agent_by_email

    settings = load_settings()

    @run_async
    async def _create() -> str:
        from walletdesk.db import Database

        db = Database(_database_url(settings))
        try:
            async with db.transaction() as session:
                owner = await get_agent_by_email(session, agent)
                _token, secret = await create_api_token(session, SYSTEM, owner, name)
            typer.echo(
                f"API token {name!r} for {owner.email}; store it now, it is not shown again:"
            )
            return secret
        finally:
            await db.dispose()

    typer.echo(_create())


def main() -> None:
    app()
