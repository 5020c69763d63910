"""The `walletdesk` command, run as a real process: one clear line and exit 1 for every mistake."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, unique
from walletdesk.app import create_app
from walletdesk.settings import Settings

WALLETDESK = Path(sys.executable).parent / "walletdesk"
PATIENCE = 120.0


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    def assert_one_error_line(self, *words: str) -> str:
        assert self.code == 1, self
        assert self.err_lines and len(self.err_lines) == 1, self.err
        line = self.err_lines[0]
        assert line.startswith("error: ")
        assert "Traceback" not in self.err + self.out
        for word in words:
            assert word.lower() in line.lower(), line
        return line


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cli:
    """`walletdesk …` in its own process, with a data dir and database of the test's own."""

    def __init__(self, data_dir: Path, database_url: str = "") -> None:
        self.data_dir = data_dir
        self.database_url = database_url

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WALLETDESK_")}
        env["WALLETDESK_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["WALLETDESK_DATABASE_URL"] = self.database_url
        env.update(overrides)
        return env

    async def __call__(self, *args: str, stdin: str = "", **env: str) -> Run:
        process = await asyncio.create_subprocess_exec(
            str(WALLETDESK),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env(**env),
            cwd=self.data_dir.parent,  # no stray .env file is read
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), PATIENCE)
        assert process.returncode is not None
        return Run(process.returncode, out.decode(), err.decode())

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            embedded_worker=False,
            _env_file=None,  # type: ignore[call-arg]
        )


@pytest.fixture
def cli(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Cli:
    """SQLite: the default file in a fresh data dir. PostgreSQL: the test database."""
    url = "" if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    return Cli(tmp_path / "data", url)


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


async def _agent(cli: Cli, email: str, *extra: str, password: str = PASSWORD) -> Run:
    return await cli(
        "agent",
        "create",
        "--email",
        email,
        "--name",
        "王小明",
        "--password-stdin",
        *extra,
        stdin=password + "\n",
    )


async def test_migrate_agents_and_a_token_that_works(cli: Cli) -> None:
    migrated = await cli("migrate")
    assert (migrated.code, migrated.err_lines) == (0, []), migrated
    assert migrated.out.strip() == "database is up to date"
    if not cli.database_url:
        assert (cli.data_dir / "walletdesk.db").is_file()
    again = await cli("migrate")
    assert again.code == 0, again

    email = f"{unique('cli')}@walletdesk.test"
    created = await _agent(cli, email, "--role", "supervisor", "--tier", "2", "--locale", "en")
    assert created.code == 0, created
    assert created.err_lines == []
    assert f"created supervisor {email} (L2)" in created.out

    duplicate = await _agent(cli, email.upper())
    duplicate.assert_one_error_line("already exists", email)

    token_run = await cli("token", "create", "--agent", email.upper(), "--name", "wallet app")
    assert token_run.code == 0, token_run
    lines = token_run.out.strip().splitlines()
    token = lines[-1]
    assert token.startswith("wdk_") and " " not in token and len(token) > 40
    assert email in "\n".join(lines[:-1]) and token not in "\n".join(lines[:-1])

    app = create_app(cli.settings())
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            good = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
            bad = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}x"})
    finally:
        await app.state.runtime.close()
    assert good.status_code == 200, good.text
    assert bad.status_code == 401


async def test_bad_agent_details_are_one_line_and_exit_1(sqlite_cli: Cli) -> None:
    assert (await sqlite_cli("migrate")).code == 0
    cases: list[tuple[str, list[str], str, list[str]]] = [
        ("ok@walletdesk.test", ["--role", "boss"], PASSWORD, ["role", "agent, supervisor, admin"]),
        ("ok@walletdesk.test", ["--tier", "4"], PASSWORD, ["tier"]),
        ("ok@walletdesk.test", [], "short", ["password", "10"]),
        ("ok@walletdesk.test", [], "", ["password"]),
        ("not-an-email", [], PASSWORD, ["email"]),
    ]
    for email, extra, password, words in cases:
        run = await _agent(sqlite_cli, email, *extra, password=password)
        run.assert_one_error_line(*words)
    nobody = await sqlite_cli("token", "create", "--agent", "ok@walletdesk.test")
    nobody.assert_one_error_line("ok@walletdesk.test")
    assert nobody.out.strip() == ""


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("not a url", ["WALLETDESK_DATABASE_URL"]),
        ("mysql://root@127.0.0.1/walletdesk", ["WALLETDESK_DATABASE_URL"]),
        ("postgresql://postgres@127.0.0.1/walletdesk", ["WALLETDESK_DATABASE_URL"]),
        ("postgresql+asyncpg://postgres@127.0.0.1:{port}/walletdesk", ["reach the database"]),
        ("sqlite+aiosqlite:////nonexistent/dir/walletdesk.db", ["database"]),
    ],
)
async def test_a_bad_database_url_is_one_line(tmp_path: Path, url: str, words: list[str]) -> None:
    cli = Cli(tmp_path / "data", url.format(port=closed_port()))
    commands = [("migrate",)]
    if "port" in url or "not a url" in url:
        email = f"{unique('nodb')}@walletdesk.test"
        commands += [("agent", "create", "--email", email, "--name", "x", "--password-stdin")]
        commands += [("token", "create", "--agent", email)]
    for command in commands:
        run = await cli(*command, stdin=PASSWORD + "\n")
        run.assert_one_error_line(*words)


async def test_a_placeholder_secret_key_is_refused_in_one_line(sqlite_cli: Cli) -> None:
    run = await sqlite_cli("migrate", WALLETDESK_SECRET_KEY="changeme")
    run.assert_one_error_line("WALLETDESK_SECRET_KEY")
