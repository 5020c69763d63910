"""The agent's own settings: language, presence and two-step sign-in (TOTP)."""

from __future__ import annotations

import pyotp
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from walletdesk.channels.webchat import service as webchat
from walletdesk.console import labels
from walletdesk.console.i18n import lang_for
from walletdesk.console.render import render, request_lang
from walletdesk.console.routing import ConsoleRoute, PageError, local_path
from walletdesk.console.session import (
    ConsoleAgent,
    CurrentAgent,
    PostedForm,
    RuntimeDep,
    Session,
    form_text,
)
from walletdesk.core.agents import service as agents
from walletdesk.core.agents.credentials import new_totp_secret
from walletdesk.core.errors import InvalidInput
from walletdesk.runtime import Runtime

router = APIRouter(prefix="/console/me", route_class=ConsoleRoute)

ISSUER = "WalletDesk"
# Time to scan the code and type the first one.
ENROL_SECONDS = 600


def _signer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        runtime.settings.resolved_secret_key(), salt="walletdesk.console.totp-enrol"
    )


def _me_page(
    request: Request, me: ConsoleAgent, runtime: Runtime, *, secret: str, status_code: int = 200
) -> Response:
    """The settings page; `secret` is the key offered for enrolment (empty once TOTP is on)."""
    return render(
        request,
        "me.html",
        status_code=status_code,
        page_url="/console/me",
        secret=secret,
        signed_secret=_signer(runtime).dumps({"s": secret, "a": me.id}) if secret else "",
        otpauth_uri=(
            pyotp.TOTP(secret).provisioning_uri(name=me.email, issuer_name=ISSUER) if secret else ""
        ),
        languages=list(labels.LANGUAGE),
        nav="me",
    )


@router.get("")
async def me_page(request: Request, me: CurrentAgent, runtime: RuntimeDep) -> Response:
    return _me_page(request, me, runtime, secret="" if me.has_totp else new_totp_secret())


@router.post("/locale")
async def change_locale(
    me: CurrentAgent, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    locale = form_text(form, "locale")
    lang = lang_for(locale)
    if locale not in labels.LANGUAGE:
        raise PageError(400, lang.gettext("The address or form is not valid."))
    async with runtime.db.transaction() as db_session:
        await agents.set_locale(db_session, me.actor, me.id, locale)
    session.flash(
        lang.gettext(
            "The console now speaks %(language)s.", language=lang.label(labels.LANGUAGE, locale)
        )
    )
    return RedirectResponse(local_path(form_text(form, "back"), "/console/me"), status_code=303)


@router.post("/presence")
async def change_presence(
    request: Request, me: CurrentAgent, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    lang = request_lang(request)
    presence = form_text(form, "presence")
    if presence not in labels.PRESENCE:
        raise PageError(400, lang.gettext("The address or form is not valid."))
    async with runtime.db.transaction() as db_session:
        # As the chat panel's own presence switch does: every node's chat hub hears it, so
        # widgets' availability and new-chat alerts follow at once.
        await webchat.change_presence(db_session, me.id, me.tier, presence)
    session.flash(
        lang.gettext("You are now %(presence)s.", presence=lang.label(labels.PRESENCE, presence))
    )
    return RedirectResponse(local_path(form_text(form, "back"), "/console/me"), status_code=303)


@router.post("/totp")
async def enable_totp(
    request: Request, me: CurrentAgent, form: PostedForm, session: Session, runtime: RuntimeDep
) -> Response:
    lang = request_lang(request)
    if me.has_totp:
        raise PageError(400, lang.gettext("Two-step sign-in is already on."))
    try:
        enrolment = _signer(runtime).loads(form_text(form, "enrolment"), max_age=ENROL_SECONDS)
    except BadSignature:
        session.flash(lang.gettext("The setup expired. Scan the new key below."), "error")
        return RedirectResponse("/console/me", status_code=303)
    secret = str(enrolment.get("s", ""))
    if enrolment.get("a") != me.id or not secret:
        raise PageError(400, lang.gettext("The address or form is not valid."))
    try:
        async with runtime.db.transaction() as db_session:
            await agents.enable_totp(db_session, me.actor, me.id, secret, form_text(form, "code"))
    except InvalidInput:
        message = lang.gettext("That code does not match. Check the time on your phone and retry.")
        session.flash(message, "error")
        return _me_page(request, me, runtime, secret=secret, status_code=422)
    session.flash(lang.gettext("Two-step sign-in is on. You will need a code at every sign-in."))
    return RedirectResponse("/console/me", status_code=303)
