"""Reading frames and naming what went wrong: error codes and close codes of the chat protocol.

An error frame is `{"type": "error", "code": ..., "message": ..., "ref": <client id>,
"fatal": <bool>}`; the widget and the agent panel translate `code` for people, `message`
is English for developers. A fatal error is followed by a close with the code below.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket

from walletdesk.channels.webchat.frames import Frame
from walletdesk.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)

# Close codes (4000-4999 are the application's; see docs/webchat-protocol.md).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN = 1013  # the server is shutting down or the client reads too slowly
CLOSE_PROTOCOL = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_FLOODING = 4429


class ProtocolError(Exception):
    """A frame the server refuses; `fatal` ones end the connection."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        ref: str | None = None,
        fatal: bool = False,
        close_code: int = CLOSE_PROTOCOL,
        retry_after: float | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.fatal = fatal
        self.close_code = close_code
        self.retry_after = retry_after
        # The frame's field at fault, so a client can show the error beside its input.
        self.field = field

    def frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "error",
            "code": self.code,
            "message": self.message,
            "fatal": self.fatal,
        }
        if self.ref is not None:
            out["ref"] = self.ref
        if self.retry_after is not None:
            out["retry_after"] = round(self.retry_after, 2)
        if self.field is not None:
            out["field"] = self.field
        return out


def parse_frame(raw: str, registry: dict[str, type[Frame]], *, max_bytes: int) -> Frame:
    """One text frame → its typed model, or a non-fatal ProtocolError saying what is wrong."""
    if len(raw) > max_bytes or len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ProtocolError("too_large", f"a frame may hold at most {max_bytes} bytes")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ProtocolError("bad_json", "the frame is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("bad_frame", 'a frame is a JSON object with a "type" string')
    model = registry.get(data["type"])
    ref = data.get("id") if isinstance(data.get("id"), str) else None
    if model is None:
        raise ProtocolError(
            "unknown_type",
            f"unknown frame type {data['type'][:40]!r}; expected one of {', '.join(registry)}",
            ref=ref,
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "frame"
        raise ProtocolError(
            "bad_field", f"{field}: {first.get('msg', 'invalid')}", ref=ref, field=field
        ) from None


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


def client_ip(websocket: WebSocket) -> str:
    return websocket.client.host if websocket.client else "unknown"


def unavailable(ref: str | None) -> ProtocolError:
    """The database could not be reached in time: nothing was changed, try again."""
    return ProtocolError(
        "unavailable", "the server could not store this now; resend it", ref=ref, retry_after=2.0
    )


# Domain errors that carry the protocol's code, so HTTP answers and socket errors name the
# same `code` and the widget translates one table (docs/webchat-protocol.md, Errors).
class ChatNotFound(NotFound):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ChatForbidden(PermissionDenied):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ChatInvalid(InvalidInput):
    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(field, message)
        self.code = code


def error_code(exc: DomainError) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    for kind, name in (
        (NotFound, "not_found"),
        (PermissionDenied, "forbidden"),
        (InvalidInput, "bad_field"),
        (Conflict, "conflict"),
    ):
        if isinstance(exc, kind):
            return name
    return "refused"


def domain_error(exc: DomainError, ref: str | None = None) -> ProtocolError:
    """A refusal of the domain (not found, forbidden, bad field) as the protocol's error."""
    code = error_code(exc)
    field = exc.field if isinstance(exc, InvalidInput) else None
    return ProtocolError(code, str(exc), ref=ref, field=field)
