"""What a wallet page loads for live chat: the widget's files, a demo host page, the socket.

Only the files listed in `_FILES` are served, cached briefly and readable cross-origin; the
socket's own checks (site, origin, address) are in customer_ws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from walletdesk.channels.webchat.customer_ws import customer_socket
from walletdesk.channels.webchat.hubs import started_hub
from walletdesk.channels.webchat.templates import render_page

STATIC = Path(__file__).parent / "static"
# Served files, by public name: nothing outside this list is reachable.
_FILES = {
    "widget.js": "text/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "agent-panel.js": "text/javascript; charset=utf-8",
    "agent-panel.css": "text/css; charset=utf-8",
}

router = APIRouter()


@router.get("/widget.js", include_in_schema=False)
async def widget_script() -> Response:
    return _static("widget.js")


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str) -> Response:
    if name not in _FILES:
        return JSONResponse({"error": f"no file {name[:60]}"}, status_code=404)
    return _static(name)


def _static(name: str) -> Response:
    return FileResponse(
        STATIC / name,
        media_type=_FILES[name],
        headers={
            "Cache-Control": "public, max-age=300",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/demo", include_in_schema=False, response_class=HTMLResponse)
async def demo_page(
    request: Request, site: Annotated[str, Query(max_length=40)] = "", locale: str = "zh-CN"
) -> HTMLResponse:
    """A host page with the snippet, to try a site's widget (its origin must be allowed)."""
    return render_page(
        "demo_host.html",
        site=site,
        locale="en" if locale == "en" else "zh-CN",
        base=str(request.base_url).rstrip("/"),
    )


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    """The customer's chat (protocol: docs/webchat-protocol.md)."""
    await customer_socket(websocket, await started_hub(websocket.app))
