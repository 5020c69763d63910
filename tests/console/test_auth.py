from __future__ import annotations

import httpx
import pyotp
from sqlalchemy import update

from tests.conftest import make_agent
from tests.console.conftest import csrf_in, post_form, sign_in
from walletdesk.core.actors import SYSTEM
from walletdesk.core.agents.models import Agent
from walletdesk.core.agents.service import enable_totp, get_agent_by_email
from walletdesk.core.audit.service import list_events
from walletdesk.db import Database

FAILED_EN = "The email, password or code is not right, or the account is disabled."


async def _login_form(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/console/login?lang=en")
    return await client.post(
        "/console/login?lang=en",
        data={"csrf": csrf_in(page.text), "email": email, "password": password, "next": ""},
    )


async def test_sign_in_sets_a_protected_session_cookie(
    client: httpx.AsyncClient, db: Database
) -> None:
    login = await make_agent(db)
    await sign_in(client, login)
    cookie = next(c for c in client.cookies.jar if c.name == "wd_console")  # the signed session
    assert cookie.path == "/console"
    assert cookie.has_nonstandard_attr("HttpOnly")
    inbox = await client.get("/console/")
    assert login.agent.name in inbox.text
    assert "default-src 'self'" in inbox.headers["content-security-policy"]
    async with db.transaction() as session:
        agent = await get_agent_by_email(session, login.agent.email)
        events = await list_events(session, SYSTEM, target_kind="agent", target_id=agent.id)
    assert agent.last_login_at is not None
    assert "agent.signed_in" in [e.action for e in events]


async def test_every_failure_shows_the_same_message(
    client: httpx.AsyncClient, db: Database
) -> None:
    login = await make_agent(db)
    inactive = await make_agent(db)
    async with db.transaction() as session:
        # No deactivation service exists yet; the test sets the flag itself.
        await session.execute(
            update(Agent).where(Agent.id == inactive.agent.id).values(is_active=False)
        )
    wrong_password = await _login_form(client, login.agent.email, "not the password")
    unknown_email = await _login_form(client, "nobody@walletdesk.test", login.password)
    disabled = await _login_form(client, inactive.agent.email, inactive.password)
    for response in (wrong_password, unknown_email, disabled):
        assert response.status_code == 401
        assert FAILED_EN in response.text
    assert (await client.get("/console/")).status_code == 303


async def test_pages_need_a_session_and_come_back_after_sign_in(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.get("/console/audit?ticket=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/audit%3Fticket%3D1"
    login = await make_agent(db, "supervisor")
    page = await client.get(response.headers["location"])
    signed = await client.post(
        "/console/login",
        data={
            "csrf": csrf_in(page.text),
            "email": login.agent.email,
            "password": login.password,
            "next": "/console/audit?ticket=1",
        },
    )
    assert signed.headers["location"] == "/console/audit?ticket=1"


async def test_next_cannot_leave_the_console(client: httpx.AsyncClient, db: Database) -> None:
    login = await make_agent(db)
    page = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={
            "csrf": csrf_in(page.text),
            "email": login.agent.email,
            "password": login.password,
            "next": "//evil.example/console",
        },
    )
    assert response.headers["location"] == "/console/"


async def test_totp_is_asked_for_and_checked(client: httpx.AsyncClient, db: Database) -> None:
    login = await make_agent(db)
    secret = pyotp.random_base32()
    async with db.transaction() as session:
        await enable_totp(session, login.actor, login.agent.id, secret, pyotp.TOTP(secret).now())
    first = await _login_form(client, login.agent.email, login.password)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/console/login/code")
    # The password alone is not a session.
    assert (await client.get("/console/")).status_code == 303
    code_page = await client.get(first.headers["location"])
    csrf = csrf_in(code_page.text)
    wrong = await post_form(client, "/console/login/code?lang=en", csrf, code="000000", next="")
    assert wrong.status_code == 401
    assert FAILED_EN in wrong.text
    right = await post_form(
        client, "/console/login/code", csrf, code=pyotp.TOTP(secret).now(), next="/console/"
    )
    assert right.status_code == 303
    assert (await client.get("/console/")).status_code == 200


async def test_a_bumped_session_epoch_or_deactivation_signs_out(
    client: httpx.AsyncClient, db: Database
) -> None:
    login = await make_agent(db)
    await sign_in(client, login)
    async with db.transaction() as session:
        await session.execute(
            update(Agent)
            .where(Agent.id == login.agent.id)
            .values(session_epoch=Agent.session_epoch + 1)
        )
    assert (await client.get("/console/")).status_code == 303


async def test_sign_out(client: httpx.AsyncClient, db: Database) -> None:
    login = await make_agent(db)
    csrf = await sign_in(client, login)
    response = await post_form(client, "/console/logout", csrf)
    assert response.status_code == 303
    assert (await client.get("/console/")).status_code == 303
    page = await client.get(response.headers["location"])
    assert "You are signed out." in page.text


async def test_sign_in_attempts_are_limited(client: httpx.AsyncClient, db: Database) -> None:
    login = await make_agent(db)
    limit = 10  # settings.login_rate_per_minute
    for _ in range(limit):
        assert (await _login_form(client, login.agent.email, "wrong password!")).status_code == 401
    blocked = await _login_form(client, login.agent.email, login.password)
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.text
    assert (await client.get("/console/")).status_code == 303
