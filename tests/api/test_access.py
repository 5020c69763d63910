"""Who may call the API: 401 without a valid token, 403 outside one's tier, 404 for nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.api.helpers import API, create_ticket
from tests.conftest import AgentLogin, make_agent
from walletdesk.core.agents.credentials import new_api_token
from walletdesk.core.tickets.numbers import number_for_sequence
from walletdesk.runtime import Runtime

# Well-formed, but a test database never counts this far.
UNKNOWN = number_for_sequence(123_456_789)

ENDPOINTS = [
    ("GET", "/tickets", None),
    ("POST", "/tickets", {"subject": "s", "body": "b", "customer": {"email": "a@example.com"}}),
    ("GET", "/tickets/{number}", None),
    ("PATCH", "/tickets/{number}", {"priority": "high"}),
    ("POST", "/tickets/{number}/messages", {"body": "hello"}),
    ("POST", "/tickets/{number}/escalate", {"reason": "why"}),
    ("GET", "/contacts/1", None),
]


AUTHORIZATIONS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer wdk_not-a-real-token",
    f"Bearer {new_api_token()}",
    "Basic dXNlcjpwYXNz",
    "Token abc",
    "bearer",
]


async def test_no_valid_token_is_401_everywhere(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    number = (await create_ticket(client, l1_agent))["number"]
    for authorization in AUTHORIZATIONS:
        headers = {} if authorization is None else {"Authorization": authorization}
        for method, path, body in ENDPOINTS:
            answer = await client.request(
                method, API + path.format(number=number), headers=headers, json=body
            )
            assert answer.status_code == 401, (authorization, method, path, answer.text)
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            assert "token" in answer.json()["error"].lower()
    # The right token on the same requests works.
    assert (await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)).is_success


async def test_an_agent_outside_the_tickets_tier_gets_403(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    l1 = await make_agent(runtime.db, "agent", 1)
    l2 = await make_agent(runtime.db, "agent", 2)
    supervisor = await make_agent(runtime.db, "supervisor", 1)
    number = (await create_ticket(client, l1))["number"]
    escalated = await client.post(
        f"{API}/tickets/{number}/escalate", headers=l1.headers, json={"reason": "ledger"}
    )
    assert escalated.status_code == 200

    calls = [
        ("GET", f"/tickets/{number}", None),
        ("PATCH", f"/tickets/{number}", {"priority": "high"}),
        ("POST", f"/tickets/{number}/messages", {"body": "hello"}),
        ("POST", f"/tickets/{number}/messages", {"body": "note", "internal": True}),
        ("POST", f"/tickets/{number}/escalate", {"reason": "why"}),
    ]
    for method, path, body in calls:
        answer = await client.request(method, API + path, headers=l1.headers, json=body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "L2" in answer.json()["error"]
    listed = await client.get(f"{API}/tickets", headers=l1.headers, params={"tier": 2})
    assert listed.status_code == 403 and "L2" in listed.json()["error"]

    # Nothing changed on the way: the L2 agent and the supervisor see the ticket as it was.
    for login in (l2, supervisor):
        seen = await client.get(f"{API}/tickets/{number}", headers=login.headers)
        assert seen.status_code == 200
        assert (seen.json()["priority"], len(seen.json()["messages"])) == ("normal", 2)
    own_tier = await client.get(f"{API}/tickets", headers=l2.headers, params={"tier": 2})
    assert own_tier.status_code == 200
    every_tier = await client.get(f"{API}/tickets", headers=supervisor.headers, params={"tier": 3})
    assert every_tier.status_code == 200

    # The contact is shared, their tickets outside the agent's queues are left out.
    contact_id = seen.json()["contact_id"]
    contact = await client.get(f"{API}/contacts/{contact_id}", headers=l1.headers)
    assert contact.status_code == 200 and contact.json()["tickets"] == []


async def test_an_agent_cannot_hand_a_ticket_to_another_tier(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    l1 = await make_agent(runtime.db, "agent", 1)
    l2 = await make_agent(runtime.db, "agent", 2)
    number = (await create_ticket(client, l1))["number"]
    answer = await client.patch(
        f"{API}/tickets/{number}", headers=l1.headers, json={"assignee_id": l2.agent.id}
    )
    assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "assignee"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/tickets/{unknown}", None),
        ("GET", "/tickets/0000000000", None),
        ("GET", "/tickets/not-a-number", None),
        ("PATCH", "/tickets/{unknown}", {"priority": "high"}),
        ("POST", "/tickets/{unknown}/messages", {"body": "hello"}),
        ("POST", "/tickets/{unknown}/escalate", {"reason": "why"}),
        ("GET", "/contacts/2147483000", None),
        ("GET", "/nothing-here", None),
    ],
)
async def test_unknown_things_are_404(
    client: httpx.AsyncClient,
    l1_agent: AgentLogin,
    method: str,
    path: str,
    body: object,
) -> None:
    url = API + path.format(unknown=UNKNOWN)
    answer = await client.request(method, url, headers=l1_agent.headers, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]
