"""Console sessions: a signed cookie, its CSRF token, and the signed-in agent.

The cookie holds the agent id, the agent's session epoch and a CSRF token, signed with the
install's secret key (itsdangerous), never the agent's data itself. Every request re-reads
the agent, so deactivating an agent or bumping their session epoch signs them out at once.
A session lasts SESSION_HOURS from sign-in: a working day.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData

from walletdesk.console import reads
from walletdesk.core.actors import Actor
from walletdesk.core.agents.models import Agent
from walletdesk.core.agents.service import actor_for
from walletdesk.core.errors import InvalidInput
from walletdesk.core.text import unstorable_reason
from walletdesk.runtime import Runtime

COOKIE = "wd_console"
COOKIE_PATH = "/console"
SESSION_HOURS = 12
# How long the TOTP step may follow the password step.
PENDING_SECONDS = 300
CSRF_FIELD = "csrf"


class NotSignedIn(Exception):
    """The page needs a signed-in agent: the console answers with the login page."""


class CsrfRejected(Exception):
    """A form came without this session's token: answered 403, nothing changed."""


class UnstorableForm(InvalidInput):
    """A form field holds text no database column can take (a NUL): answered 400.

    Browsers never send one from what a person types; checked once here rather than in
    every form, since PostgreSQL would otherwise refuse it mid-transaction. An InvalidInput,
    so that routes answering JSON report it like their other refusals.
    """


@dataclass
class ConsoleSession:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    agent_id: int | None = None
    epoch: int | None = None
    # An agent who gave the right password and still owes a TOTP code.
    pending_agent_id: int | None = None
    pending_since: int | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)
    modified: bool = False

    def dump(self) -> dict[str, Any]:
        data: dict[str, Any] = {"c": self.csrf}
        if self.agent_id is not None:
            data |= {"a": self.agent_id, "e": self.epoch}
        if self.pending_agent_id is not None:
            data |= {"p": self.pending_agent_id, "pt": self.pending_since}
        if self.flashes:
            data["f"] = self.flashes
        return data

    @classmethod
    def load(cls, data: dict[str, Any]) -> ConsoleSession:
        return cls(
            csrf=str(data["c"]),
            agent_id=_int_or_none(data.get("a")),
            epoch=_int_or_none(data.get("e")),
            pending_agent_id=_int_or_none(data.get("p")),
            pending_since=_int_or_none(data.get("pt")),
            flashes=[(str(kind), str(text)) for kind, text in data.get("f", [])],
        )

    def flash(self, text: str, kind: str = "ok") -> None:
        self.flashes.append((kind, text))
        self.modified = True

    def pop_flashes(self) -> list[tuple[str, str]]:
        flashes, self.flashes = self.flashes, []
        if flashes:
            self.modified = True
        return flashes

    def sign_in(self, agent: Agent) -> None:
        """A fresh session (new CSRF token) so nothing planted before sign-in carries over."""
        self.csrf = secrets.token_urlsafe(24)
        self.agent_id, self.epoch = agent.id, agent.session_epoch
        self.pending_agent_id = self.pending_since = None
        self.modified = True

    def await_totp(self, agent: Agent) -> None:
        self.pending_agent_id, self.pending_since = agent.id, int(time.time())
        self.modified = True

    def pending_valid(self) -> bool:
        return (
            self.pending_agent_id is not None
            and self.pending_since is not None
            and 0 <= time.time() - self.pending_since <= PENDING_SECONDS
        )

    def sign_out(self) -> None:
        self.csrf = secrets.token_urlsafe(24)
        self.agent_id = self.epoch = self.pending_agent_id = self.pending_since = None
        self.modified = True


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _serializer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        runtime.settings.resolved_secret_key(), salt="walletdesk.console.session"
    )


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def console_session(request: Request) -> ConsoleSession:
    """This request's session, read once from the cookie; a fresh one if absent or forged."""
    cached = getattr(request.state, "console_session", None)
    if isinstance(cached, ConsoleSession):
        return cached
    session = None
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer(get_runtime(request)).loads(raw, max_age=SESSION_HOURS * 3600)
            session = ConsoleSession.load(data)
        except (BadSignature, KeyError, TypeError, ValueError):
            session = None
    if session is None:
        session = ConsoleSession(modified=True)
    request.state.console_session = session
    return session


def store_session(request: Request, response: Response) -> None:
    """Write the cookie back when the request changed the session."""
    session = getattr(request.state, "console_session", None)
    if not isinstance(session, ConsoleSession) or not session.modified:
        return
    runtime = get_runtime(request)
    response.set_cookie(
        COOKIE,
        _serializer(runtime).dumps(session.dump()),
        max_age=SESSION_HOURS * 3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.secure_cookies,
    )


@dataclass(frozen=True, slots=True)
class ConsoleAgent:
    """The signed-in agent as this request saw them."""

    id: int
    email: str
    name: str
    role: str
    tier: int
    locale: str
    presence: str
    has_totp: bool
    actor: Actor

    @property
    def sees_all_queues(self) -> bool:
        return self.actor.sees_all_queues

    @property
    def is_admin(self) -> bool:
        return self.actor.is_admin


def snapshot(agent: Agent) -> ConsoleAgent:
    return ConsoleAgent(
        id=agent.id,
        email=agent.email,
        name=agent.name,
        role=agent.role,
        tier=agent.tier,
        locale=agent.locale,
        presence=agent.presence,
        has_totp=bool(agent.totp_secret),
        actor=actor_for(agent),
    )


async def signed_in_agent(request: Request) -> ConsoleAgent | None:
    """The agent of a valid session: still active, and their epoch unchanged since sign-in."""
    session = console_session(request)
    if session.agent_id is None:
        return None
    async with get_runtime(request).db.transaction() as db_session:
        agent = await reads.load_agent(db_session, session.agent_id)
        current = snapshot(agent) if agent else None
        valid = agent is not None and agent.is_active and agent.session_epoch == session.epoch
    if not valid:
        session.sign_out()
        return None
    request.state.console_agent = current
    return current


async def current_agent(request: Request) -> ConsoleAgent:
    agent = await signed_in_agent(request)
    if agent is None:
        raise NotSignedIn
    return agent


async def posted_form(request: Request) -> FormData:
    """The request's form, once its CSRF token is checked against the session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = console_session(request).csrf
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected
    for name, value in form.multi_items():
        if isinstance(value, str) and (reason := unstorable_reason(value)):
            raise UnstorableForm(name[:40], f"the text {reason}")
    return form


CurrentAgent = Annotated[ConsoleAgent, Depends(current_agent)]
PostedForm = Annotated[FormData, Depends(posted_form)]
Session = Annotated[ConsoleSession, Depends(console_session)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def form_text(form: FormData, name: str) -> str:
    """A text field (missing or a file upload → empty), line endings as the browser sent them."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
