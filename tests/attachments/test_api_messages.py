"""Attachments over the REST API: listed on each message, and sent with a reply (multipart)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.attachments.test_attachments import tiny_png
from tests.conftest import AgentLogin, unique
from walletdesk.core.attachments.service import MAX_ATTACHMENTS_PER_MESSAGE
from walletdesk.core.channels import Attachment, InboundMessage
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.ingest import ingest
from walletdesk.runtime import Runtime

API = "/api/v1"


async def _ticket_with_files(runtime: Runtime) -> str:
    result = await ingest(
        runtime.db,
        InboundMessage(
            channel="email",
            external_id=unique("api-att-"),
            text="截图见附件",
            sender=SenderIdentity("email", f"{unique('c')}@example.com"),
            attachments=(
                Attachment("screen.png", "image/png", tiny_png()),
                Attachment("logo.png", "image/png", tiny_png(), inline=True, content_id="<l@x>"),
            ),
        ),
        open_new=True,
        files=runtime.files,
    )
    return result.ticket_number


async def test_messages_list_their_attachments(
    runtime: Runtime, client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    number = await _ticket_with_files(runtime)
    detail = (await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)).json()
    [message] = detail["messages"]
    screen, logo = message["attachments"]
    assert {k: v for k, v in screen.items() if k not in ("id", "url")} == {
        "filename": "screen.png",
        "content_type": "image/png",
        "size": len(tiny_png()),
        "inline": False,
    }
    assert (logo["filename"], logo["inline"]) == ("logo.png", True)
    assert screen["url"] == f"/api/v1/attachments/{screen['id']}"
    fetched = await client.get(screen["url"], headers=l1_agent.headers)
    assert fetched.status_code == 200 and fetched.content == tiny_png()


async def test_a_reply_with_files_as_multipart_and_json_still_works(
    runtime: Runtime, client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    number = await _ticket_with_files(runtime)
    url = f"{API}/tickets/{number}/messages"
    posted = await client.post(
        url,
        headers=l1_agent.headers,
        data={"body": "凭证见附件", "status": "pending"},
        files=[
            ("files", ("凭证.png", tiny_png(), "image/png")),
            ("files", ("notes.txt", "说明".encode(), "text/plain")),
        ],
    )
    assert posted.status_code == 201, posted.text
    reply = posted.json()
    assert (reply["body_text"], reply["internal"], reply["delivery_status"]) == (
        "凭证见附件",
        False,
        "pending",
    )
    assert [(a["filename"], a["content_type"]) for a in reply["attachments"]] == [
        ("凭证.png", "image/png"),
        ("notes.txt", "text/plain"),
    ]
    note = await client.post(
        url,
        headers=l1_agent.headers,
        data={"body": "内部", "internal": "true"},
        files=[("files", ("a.txt", b"a", "text/plain"))],
    )
    assert note.status_code == 201 and note.json()["internal"] is True
    plain = await client.post(url, headers=l1_agent.headers, json={"body": "只是文字"})
    assert plain.status_code == 201 and plain.json()["attachments"] == []

    detail = (await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)).json()
    assert detail["status"] == "pending"
    assert [len(m["attachments"]) for m in detail["messages"]] == [2, 2, 1, 0]


async def test_refused_uploads_store_nothing(
    runtime: Runtime, client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    number = await _ticket_with_files(runtime)
    url = f"{API}/tickets/{number}/messages"
    cases: list[tuple[dict[str, Any], list[Any], str]] = [
        ({"body": "x"}, [("files", ("a.png", b"<html>x</html>", "image/png"))], "files"),
        ({"body": "x"}, [("files", ("empty.txt", b"", "text/plain"))], "files"),
        (
            {"body": "x"},
            [
                ("files", (f"{n}.txt", b"x", "text/plain"))
                for n in range(MAX_ATTACHMENTS_PER_MESSAGE + 1)
            ],
            "files",
        ),
        ({}, [("files", ("a.txt", b"a", "text/plain"))], "body"),
        ({"body": "x", "status": "done"}, [("files", ("a.txt", b"a", "text/plain"))], "status"),
        ({"body": "x", "html": "<b>"}, [("files", ("a.txt", b"a", "text/plain"))], "html"),
    ]
    for data, files, field in cases:
        answer = await client.post(url, headers=l1_agent.headers, data=data, files=files)
        assert answer.status_code == 422, (data, answer.text)
        assert field in [f["field"] for f in answer.json()["fields"]], answer.json()
    unauthenticated = await client.post(
        url, data={"body": "x"}, files=[("files", ("a.txt", b"a", "text/plain"))]
    )
    assert unauthenticated.status_code == 401
    detail = (await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)).json()
    assert len(detail["messages"]) == 1


async def test_the_document_describes_both_bodies(client: httpx.AsyncClient) -> None:
    spec = (await client.get(f"{API}/openapi.json")).json()
    content = spec["paths"]["/api/v1/tickets/{number}/messages"]["post"]["requestBody"]["content"]
    assert content["application/json"]["schema"]["required"] == ["body"]
    files = content["multipart/form-data"]["schema"]["properties"]["files"]
    assert files["items"] == {"type": "string", "format": "binary"}
    attachment = spec["components"]["schemas"]["AttachmentOut"]
    assert set(attachment["properties"]) == {
        "id",
        "filename",
        "content_type",
        "size",
        "inline",
        "url",
    }
