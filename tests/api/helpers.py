"""Small builders for API tests: a ticket opened over the API, a unique subject to search by."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import AgentLogin, unique

API = "/api/v1"


def ticket_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "转账没到账",
        "body": "我昨天转了500元，对方没收到",
        "customer": {"email": f"{unique('customer')}@example.com"},
        "category": "transfer_refund",
    }
    body.update(overrides)
    return body


async def create_ticket(
    client: httpx.AsyncClient, login: AgentLogin, **overrides: Any
) -> dict[str, Any]:
    answer = await client.post(
        f"{API}/tickets", headers=login.headers, json=ticket_body(**overrides)
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def subject_tag() -> str:
    """A word no other test puts in a subject, to find this test's tickets with `q`."""
    return unique("zq").replace("-", "x")
