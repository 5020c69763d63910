"""The tickets REST API: create, read, update, reply, escalate, list, paginate, idempotency."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.helpers import API, create_ticket, subject_tag, ticket_body
from tests.conftest import AgentLogin, make_agent, unique, unique_phone
from walletdesk.core.tickets.models import Status
from walletdesk.runtime import Runtime


async def test_create_read_update_reply_escalate(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    phone = unique_phone()
    created = await create_ticket(
        client,
        l1_agent,
        customer={"email": "Zhang.San@Example.com", "phone": phone, "name": "张三"},
        priority="high",
        locale="zh-CN",
    )
    number = created["number"]
    assert number.isdigit() and 10 <= len(number) <= 12
    assert (created["status"], created["tier"], created["priority"]) == ("new", 1, "high")
    assert (created["category"], created["channel"], created["locale"]) == (
        "transfer_refund",
        "api",
        "zh-CN",
    )
    assert [m["body_text"] for m in created["messages"]] == ["我昨天转了500元，对方没收到"]
    assert created["messages"][0]["author_kind"] == "customer"

    got = await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)
    assert got.status_code == 200
    assert got.json()["id"] == created["id"] and got.json()["subject"] == "转账没到账"

    contact = await client.get(f"{API}/contacts/{created['contact_id']}", headers=l1_agent.headers)
    assert contact.status_code == 200
    identities = {(i["kind"], i["value"]) for i in contact.json()["identities"]}
    assert identities == {("email", "zhang.san@example.com"), ("phone", f"+86{phone}")}
    assert contact.json()["name"] == "张三"
    assert [t["number"] for t in contact.json()["tickets"]] == [number]

    patched = await client.patch(
        f"{API}/tickets/{number}",
        headers=l1_agent.headers,
        json={
            "status": "pending",
            "priority": "urgent",
            "category": "payment_failed",
            "assignee_id": l1_agent.agent.id,
            "tags": ["退款", " Refund  Delay ", "退款"],
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["status"], body["priority"], body["category"]) == (
        "pending",
        "urgent",
        "payment_failed",
    )
    assert body["assignee_id"] == l1_agent.agent.id
    assert body["tags"] == sorted(["refund delay", "退款"])

    unassigned = await client.patch(
        f"{API}/tickets/{number}", headers=l1_agent.headers, json={"assignee_id": None}
    )
    assert unassigned.status_code == 200 and unassigned.json()["assignee_id"] is None
    assert unassigned.json()["tags"] == body["tags"]

    reply = await client.post(
        f"{API}/tickets/{number}/messages",
        headers=l1_agent.headers,
        json={"body": "我们正在核查", "status": "open"},
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["author_kind"] == "agent" and reply.json()["internal"] is False
    assert reply.json()["delivery_status"] == "pending"
    note = await client.post(
        f"{API}/tickets/{number}/messages",
        headers=l1_agent.headers,
        json={"body": "客户很着急", "internal": True},
    )
    assert note.status_code == 201 and note.json()["delivery_status"] is None

    after_reply = (await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)).json()
    assert after_reply["status"] == "open"
    assert after_reply["first_response_at"] is not None
    assert [m["body_text"] for m in after_reply["messages"]][1:] == ["我们正在核查", "客户很着急"]

    escalated = await client.post(
        f"{API}/tickets/{number}/escalate",
        headers=l1_agent.headers,
        json={"reason": "needs ledger check"},
    )
    assert escalated.status_code == 200, escalated.text
    assert (escalated.json()["tier"], escalated.json()["assignee_id"]) == (2, None)
    # It left the L1 agent's queue: they are told where it went.
    gone = await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)
    assert gone.status_code == 403 and "L2" in gone.json()["error"]


async def test_a_phone_only_customer_can_open_a_ticket(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    phone = unique_phone()
    created = await create_ticket(
        client, l1_agent, customer={"phone": f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"}
    )
    contact = await client.get(f"{API}/contacts/{created['contact_id']}", headers=l1_agent.headers)
    assert [(i["kind"], i["value"]) for i in contact.json()["identities"]] == [
        ("phone", f"+86{phone}")
    ]


async def test_the_same_idempotency_key_returns_the_same_ticket(
    client: httpx.AsyncClient, l1_agent: AgentLogin, supervisor: AgentLogin
) -> None:
    tag = subject_tag()
    key = unique("idem")
    headers = {**l1_agent.headers, "Idempotency-Key": key}
    first = await client.post(f"{API}/tickets", headers=headers, json=ticket_body(subject=tag))
    again = await client.post(f"{API}/tickets", headers=headers, json=ticket_body(subject=tag))
    assert first.status_code == again.status_code == 201
    assert again.json()["number"] == first.json()["number"]
    assert len(again.json()["messages"]) == 1

    racing_key = unique("idem")
    racing = {**l1_agent.headers, "Idempotency-Key": racing_key}
    answers = await asyncio.gather(
        *(
            client.post(f"{API}/tickets", headers=racing, json=ticket_body(subject=tag))
            for _ in range(3)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["number"] for a in answers}) == 1

    # A key belongs to the integration that sent it: another token's same key is its own ticket.
    other = await client.post(
        f"{API}/tickets",
        headers={**supervisor.headers, "Idempotency-Key": key},
        json=ticket_body(subject=tag),
    )
    assert other.status_code == 201 and other.json()["number"] != first.json()["number"]
    without_key = await create_ticket(client, l1_agent, subject=tag)
    assert without_key["number"] != first.json()["number"]

    listed = await client.get(f"{API}/tickets", headers=supervisor.headers, params={"q": tag})
    assert len(listed.json()["tickets"]) == 4


async def test_list_filters(client: httpx.AsyncClient, runtime: Runtime) -> None:
    lead = await make_agent(runtime.db, "supervisor", 1)
    worker = await make_agent(runtime.db, "agent", 1)
    tag = subject_tag()
    tickets = [await create_ticket(client, lead, subject=f"{tag} #{n}") for n in range(4)]
    numbers = [t["number"] for t in tickets]
    await client.patch(
        f"{API}/tickets/{numbers[0]}", headers=lead.headers, json={"status": "solved"}
    )
    await client.patch(
        f"{API}/tickets/{numbers[1]}", headers=lead.headers, json={"assignee_id": worker.agent.id}
    )
    await client.post(
        f"{API}/tickets/{numbers[2]}/escalate", headers=lead.headers, json={"reason": "x"}
    )

    async def listed(login: AgentLogin = lead, **params: object) -> list[str]:
        answer = await client.get(
            f"{API}/tickets", headers=login.headers, params={"q": tag, **params}
        )
        assert answer.status_code == 200, answer.text
        return [t["number"] for t in answer.json()["tickets"]]

    assert sorted(await listed()) == sorted(numbers)
    assert await listed(status="solved") == [numbers[0]]
    assert sorted(await listed(status="new")) == sorted([numbers[2], numbers[3]])
    assert await listed(status="open") == [numbers[1]]
    assert await listed(tier=2) == [numbers[2]]
    assert sorted(await listed(tier=1)) == sorted([numbers[0], numbers[1], numbers[3]])
    assert await listed(assignee=str(worker.agent.id)) == [numbers[1]]
    assert await listed(worker, assignee="me") == [numbers[1]]
    assert numbers[1] not in await listed(assignee="none")
    assert await listed(channel="email") == []
    assert sorted(await listed(channel="api")) == sorted(numbers)
    # An L1 agent's list holds only the L1 queues.
    assert sorted(await listed(worker)) == sorted([numbers[0], numbers[1], numbers[3]])
    # q is a ticket number when it is one, however it is typed.
    spaced = f"{numbers[3][:4]} {numbers[3][4:]}"
    answer = await client.get(f"{API}/tickets", headers=lead.headers, params={"q": spaced})
    assert [t["number"] for t in answer.json()["tickets"]] == [numbers[3]]


async def test_searching_a_subject_with_digits_and_dashes(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    tag = subject_tag()
    created = await create_ticket(client, l1_agent, subject=f"{tag} 账单 2024-01 扣费两次")
    for q in ["2024-01", f"{tag} 账单 2024-01", "扣费两次"]:
        answer = await client.get(
            f"{API}/tickets", headers=l1_agent.headers, params={"q": q, "limit": 200}
        )
        assert answer.status_code == 200
        assert created["number"] in [t["number"] for t in answer.json()["tickets"]], q


async def test_cursor_pagination_walks_every_ticket_once_newest_first(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    tag = subject_tag()
    made = [
        (await create_ticket(client, l1_agent, subject=f"{tag} {n}"))["number"] for n in range(7)
    ]
    # Touch an old one: it moves to the front (most recent activity first).
    await client.patch(
        f"{API}/tickets/{made[0]}", headers=l1_agent.headers, json={"priority": "low"}
    )
    pages: list[list[str]] = []
    cursor = None
    for _ in range(10):
        params: dict[str, object] = {"q": tag, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        answer = await client.get(f"{API}/tickets", headers=l1_agent.headers, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append([t["number"] for t in page["tickets"]])
        stamps = [t["updated_at"] for t in page["tickets"]]
        assert stamps == sorted(stamps, reverse=True)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    walked = [n for page in pages for n in page]
    assert walked[0] == made[0]
    assert sorted(walked) == sorted(made)
    assert walked[1:] == list(reversed(made[1:]))


async def test_a_status_change_is_refused_when_the_lifecycle_forbids_it(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    number = (await create_ticket(client, l1_agent))["number"]
    closed = await client.patch(
        f"{API}/tickets/{number}", headers=l1_agent.headers, json={"status": "closed"}
    )
    assert closed.status_code == 200
    for status in Status:
        if status == Status.CLOSED:
            continue
        answer = await client.patch(
            f"{API}/tickets/{number}", headers=l1_agent.headers, json={"status": status}
        )
        assert answer.status_code == 422
        assert answer.json()["fields"] == [
            {"field": "status", "message": f"a ticket cannot go from closed to {status}"}
        ]
    reply = await client.post(
        f"{API}/tickets/{number}/messages", headers=l1_agent.headers, json={"body": "hi"}
    )
    assert reply.status_code == 422 and reply.json()["fields"][0]["field"] == "status"
    still = await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)
    assert still.json()["status"] == "closed" and len(still.json()["messages"]) == 1
