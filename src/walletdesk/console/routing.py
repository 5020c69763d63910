"""What every console route shares: error pages instead of JSON, the session cookie, headers.

The app's error handlers answer in JSON for the API; console routes use ConsoleRoute,
which turns the same domain errors into translated HTML pages (403, 404, 400), a missing
sign-in into a redirect to the login page, and a bad CSRF token into a 403 page.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from walletdesk.console import labels
from walletdesk.console.i18n import N_, Lang
from walletdesk.console.render import render, request_lang
from walletdesk.console.session import CsrfRejected, NotSignedIn, UnstorableForm, store_session
from walletdesk.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

_TITLES = {
    400: N_("This request could not be handled"),
    403: N_("You cannot open this"),
    404: N_("Not found"),
    422: N_("Please check what you entered"),
}


class PageError(Exception):
    """An error page with a message already in the agent's language."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def describe(exc: DomainError, lang: Lang) -> str:
    """A core error for a person: the field named in their language, core's explanation after."""
    if isinstance(exc, InvalidInput):
        return f"{lang.label(labels.FIELD, exc.field)}: {exc.message}"
    return str(exc)


def local_path(target: str | None, default: str = "/console/") -> str:
    """Only console paths on this site: `next=` must not become an open redirect."""
    if (
        target
        and target.startswith("/console")
        and not any(bad in target for bad in ("//", "\\", "\n", "\r"))
    ):
        return target
    return default


def error_page(request: Request, status_code: int, message: str) -> Response:
    lang = request_lang(request)
    title = lang.gettext(_TITLES.get(status_code, _TITLES[400]))
    return render(
        request, "error.html", status_code=status_code, title=title, message=message, lang=lang
    )


def _handle(request: Request, exc: Exception) -> Response:
    lang = request_lang(request)
    if isinstance(exc, NotSignedIn):
        if request.method == "GET":
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/console/login?next={quote(back)}", status_code=303)
        return RedirectResponse("/console/login", status_code=303)
    if isinstance(exc, CsrfRejected):
        message = lang.gettext(
            "This form did not come from your current console session (it may be old, or "
            "sent from another site). Nothing was changed. Go back, reload the page and "
            "try again."
        )
        return error_page(request, 403, message)
    if isinstance(exc, UnstorableForm):
        message = lang.gettext(
            "The form holds a character that cannot be saved (a NUL character). Nothing was "
            "changed. Go back, remove it and try again."
        )
        return error_page(request, 400, message)
    if isinstance(exc, PageError):
        return error_page(request, exc.status_code, exc.message)
    if isinstance(exc, PermissionDenied):
        return error_page(request, 403, describe(exc, lang))
    if isinstance(exc, NotFound):
        return error_page(request, 404, describe(exc, lang))
    if isinstance(exc, DomainError):
        return error_page(request, 400, describe(exc, lang))
    if isinstance(exc, RequestValidationError):
        return error_page(request, 400, lang.gettext("The address or form is not valid."))
    raise exc


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except (
                NotSignedIn,
                CsrfRejected,
                UnstorableForm,
                PageError,
                DomainError,
                RequestValidationError,
            ) as exc:
                response = _handle(request, exc)
            finally:
                # A refused upload (bad CSRF token, say) must not leave its spooled files open.
                await request.close()
            store_session(request, response)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return console_handler
