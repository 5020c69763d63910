"""Every error leaves the API as JSON with a clear message; bad input is never a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from walletdesk.core.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from walletdesk.db import DatabaseBusy

log = logging.getLogger(__name__)


class Unauthorized(DomainError):
    pass


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """The body of every error response: one readable line, and the fields at fault."""

    error: str
    fields: list[FieldProblem] = []


# Routers declare these so the OpenAPI document describes the errors the API really sends.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No API token, or an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "Outside the agent's queues"},
    404: {"model": ErrorOut, "description": "Nothing with that number or id"},
    422: {"model": ErrorOut, "description": "Bad input; `fields` names each field at fault"},
}


_STATUS = {
    Unauthorized: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
}


def status_for(exc: DomainError) -> int:
    for kind, status in _STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


def _field_name(loc: tuple[object, ...]) -> str:
    # ("body", "customer", "email") → "customer.email"; ("query", "tier") → "tier".
    parts = (
        [str(part) for part in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie")
        else [str(part) for part in loc]
    )
    return ".".join(parts) or "body"


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = status_for(exc)
    content: dict[str, object] = {"error": str(exc)}
    if isinstance(exc, InvalidInput):
        content = {
            "error": f"{exc.field}: {exc.message}",
            "fields": [{"field": exc.field, "message": exc.message}],
        }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(content, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for error in exc.errors():
        field = _field_name(tuple(error.get("loc", ())))
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            field, message = "body", "is not valid JSON"
        fields.append({"field": field, "message": message})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return JSONResponse({"error": summary, "fields": fields}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


# PostgreSQL's "character not in repertoire" and "untranslatable character": a NUL or a
# lone surrogate that an input boundary let through. Boundaries check (core/text.py); this
# keeps a missed one a client error instead of a 500.
_UNSTORABLE_TEXT = {"22021", "22P05"}


def _unstorable_text(exc: BaseException) -> bool:
    # The driver's error wraps PostgreSQL's (sqlstate) or the encoder's: walk the chain.
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, UnicodeEncodeError):
            return True
        if getattr(seen, "sqlstate", None) in _UNSTORABLE_TEXT:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    if _unstorable_text(exc):
        log.warning("unstorable text refused on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "the request holds a character that cannot be stored (NUL or invalid)"},
            status_code=422,
        )
    # A database restart or a busy SQLite writer: nothing the client did wrong, and worth
    # retrying in a moment. Other database errors are our bugs and stay 500s.
    if isinstance(exc, DBAPIError) and not (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    ):
        return await _unexpected(request, exc)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"error": "the database is unavailable for a moment; try again"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error; it has been logged"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DatabaseBusy, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(UnicodeEncodeError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
