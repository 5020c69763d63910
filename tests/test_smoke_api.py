from __future__ import annotations

import httpx

from tests.conftest import AgentLogin


async def test_create_read_reply_escalate(client: httpx.AsyncClient, l1_agent: AgentLogin) -> None:
    created = await client.post(
        "/api/v1/tickets",
        headers=l1_agent.headers,
        json={
            "subject": "转账没到账",
            "body": "我昨天转了500元，对方没收到",
            "customer": {"email": "Zhang.San@Example.com", "phone": "13800138000"},
            "category": "transfer_refund",
        },
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    got = await client.get(f"/api/v1/tickets/{number}", headers=l1_agent.headers)
    assert got.status_code == 200
    assert got.json()["messages"][0]["body_text"] == "我昨天转了500元，对方没收到"
    reply = await client.post(
        f"/api/v1/tickets/{number}/messages",
        headers=l1_agent.headers,
        json={"body": "我们正在核查", "internal": False},
    )
    assert reply.status_code == 201, reply.text
    esc = await client.post(
        f"/api/v1/tickets/{number}/escalate",
        headers=l1_agent.headers,
        json={"reason": "needs ledger check"},
    )
    assert esc.status_code == 200, esc.text
    assert esc.json()["tier"] == 2
