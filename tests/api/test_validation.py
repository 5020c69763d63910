"""Bad input gets a 422 that names the field, never a 500, and changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.helpers import API, create_ticket, ticket_body
from tests.conftest import AgentLogin

TOO_LONG = "长" * 20_001


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


CREATE_CASES: list[tuple[str, object, str]] = [
    ("bad email", ticket_body(customer={"email": "zhang.san@"}), "customer.email"),
    ("bad email type", ticket_body(customer={"email": 42}), "customer.email"),
    ("unknown category", ticket_body(category="lottery"), "category"),
    ("unknown priority", ticket_body(priority="asap"), "priority"),
    ("unknown locale", ticket_body(locale="fr"), "locale"),
    ("empty body", ticket_body(body=""), "body"),
    ("blank body", ticket_body(body=" \n\t "), "body"),
    ("oversized body", ticket_body(body=TOO_LONG), "body"),
    ("empty subject", ticket_body(subject=""), "subject"),
    ("oversized subject", ticket_body(subject="s" * 301), "subject"),
    ("missing customer", _without(ticket_body(), "customer"), "customer"),
    ("missing body", _without(ticket_body(), "body"), "body"),
    ("customer without email or phone", ticket_body(customer={"name": "张三"}), "customer"),
    ("unknown field", ticket_body(surprise=1), "surprise"),
    ("unknown customer field", ticket_body(customer={"email": "a@b.cn", "x": 1}), "customer.x"),
    ("subject not a string", ticket_body(subject=123), "subject"),
    # PostgreSQL's text cannot hold NUL; UTF-8 cannot hold a lone surrogate.
    ("NUL in body", ticket_body(body="转账\x00失败"), "body"),
    (
        "NUL in customer name",
        ticket_body(customer={"email": "a@b.cn", "name": "张\x00"}),
        "customer.name",
    ),
    ("body not a string", ticket_body(body=["a"]), "body"),
    ("customer not an object", ticket_body(customer="a@example.com"), "customer"),
    ("bad phone", ticket_body(customer={"phone": "12"}), "customer.phone"),
    ("phone not a phone", ticket_body(customer={"phone": "call me maybe"}), "customer.phone"),
    ("not an object", [ticket_body()], "body"),
    ("a bare string", "hello", "body"),
    ("null", None, "body"),
]


@pytest.mark.parametrize(
    ("body", "field"),
    [(body, field) for _, body, field in CREATE_CASES],
    ids=[c[0] for c in CREATE_CASES],
)
async def test_malformed_ticket_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, l1_agent: AgentLogin, body: object, field: str
) -> None:
    answer = await client.post(f"{API}/tickets", headers=l1_agent.headers, json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert field in [f["field"] for f in problem["fields"]], problem
    assert all(f["message"] for f in problem["fields"])
    assert problem["error"].startswith(problem["fields"][0]["field"])


async def test_a_lone_surrogate_is_422_naming_the_field(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    # JSON may spell one ("\\ud800"); UTF-8, and so the database, cannot hold it.
    raw = json.dumps(ticket_body(subject="到账\ud800"))  # ASCII-escaped, as JSON allows
    answer = await client.post(
        f"{API}/tickets",
        headers={**l1_agent.headers, "content-type": "application/json"},
        content=raw,
    )
    assert answer.status_code == 422, answer.text
    assert [f["field"] for f in answer.json()["fields"]] == ["subject"]


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"subject": "x",}', b"\xff\xfe", b"subject=x", b"", b"[1, 2"],
)
async def test_malformed_json_is_422_not_500(
    client: httpx.AsyncClient, l1_agent: AgentLogin, raw: bytes
) -> None:
    headers = {**l1_agent.headers, "Content-Type": "application/json"}
    answer = await client.post(f"{API}/tickets", headers=headers, content=raw)
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"][0]["field"] == "body"


async def test_malformed_updates_replies_and_escalations_are_422(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    number = (await create_ticket(client, l1_agent))["number"]
    cases: list[tuple[str, str, object, str]] = [
        ("PATCH", "", {"status": "bogus"}, "status"),
        ("PATCH", "", {"status": None}, "status"),
        ("PATCH", "", {"priority": 3}, "priority"),
        ("PATCH", "", {"category": "lottery"}, "category"),
        ("PATCH", "", {"assignee_id": "me"}, "assignee_id"),
        ("PATCH", "", {"assignee_id": 2**40}, "assignee_id"),
        ("PATCH", "", {"assignee_id": 99_999_999}, "assignee"),
        ("PATCH", "", {"tags": "vip"}, "tags"),
        ("PATCH", "", {"tags": [f"t{n}" for n in range(21)]}, "tags"),
        ("PATCH", "", {"tags": ["x" * 51]}, "tags.0"),
        ("PATCH", "", {"tags": ["   "]}, "tags"),
        ("PATCH", "", {"subject": "no such field"}, "subject"),
        ("POST", "/messages", {"body": ""}, "body"),
        ("POST", "/messages", {"body": TOO_LONG}, "body"),
        ("POST", "/messages", {}, "body"),
        ("POST", "/messages", {"body": "x", "internal": [1]}, "internal"),
        ("POST", "/messages", {"body": "x", "status": "done"}, "status"),
        ("POST", "/messages", {"body": "x", "html": "<b>x</b>"}, "html"),
        ("POST", "/escalate", {"reason": ""}, "reason"),
        ("POST", "/escalate", {"reason": "   "}, "reason"),
        ("POST", "/escalate", {}, "reason"),
        ("POST", "/escalate", {"reason": "x" * 2001}, "reason"),
    ]
    for method, suffix, body, field in cases:
        answer = await client.request(
            method, f"{API}/tickets/{number}{suffix}", headers=l1_agent.headers, json=body
        )
        assert answer.status_code == 422, (method, suffix, body, answer.text)
        assert field in [f["field"] for f in answer.json()["fields"]], (body, answer.json())
    ticket = (await client.get(f"{API}/tickets/{number}", headers=l1_agent.headers)).json()
    assert (ticket["status"], ticket["priority"], ticket["tier"], ticket["tags"]) == (
        "new",
        "normal",
        1,
        [],
    )
    assert len(ticket["messages"]) == 1


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "active-ish"}, "status"),
        ({"tier": 4}, "tier"),
        ({"tier": "one"}, "tier"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"assignee": "someone"}, "assignee"),
        ({"assignee": "9" * 30}, "assignee"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": _cursor("yesterday|5")}, "cursor"),
        ({"cursor": _cursor("2026-01-01T00:00:00|5")}, "cursor"),
        ({"cursor": _cursor("2026-01-01T00:00:00+00:00|" + "9" * 30)}, "cursor"),
        ({"cursor": _cursor("2026-01-01T00:00:00+00:00|x|y")}, "cursor"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_malformed_list_queries_are_422(
    client: httpx.AsyncClient, l1_agent: AgentLogin, params: dict[str, object], field: str
) -> None:
    answer = await client.get(f"{API}/tickets", headers=l1_agent.headers, params=params)
    assert answer.status_code == 422, answer.text
    assert field in [f["field"] for f in answer.json()["fields"]], answer.json()


@pytest.mark.parametrize("contact_id", ["abc", "-1", "0", str(2**31), "9" * 30])
async def test_impossible_contact_ids_are_refused_not_crashed(
    client: httpx.AsyncClient, l1_agent: AgentLogin, contact_id: str
) -> None:
    answer = await client.get(f"{API}/contacts/{contact_id}", headers=l1_agent.headers)
    assert answer.status_code in (404, 422), answer.text
    assert answer.json()["error"]


async def test_a_too_long_idempotency_key_is_422(
    client: httpx.AsyncClient, l1_agent: AgentLogin
) -> None:
    headers = {**l1_agent.headers, "Idempotency-Key": "k" * 201}
    answer = await client.post(f"{API}/tickets", headers=headers, json=ticket_body())
    assert answer.status_code == 422
    assert answer.json()["fields"][0]["field"] == "idempotency-key"


# Values that have broken JSON APIs before: wrong types, huge numbers, odd text.
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "new", "closed", "open", "high", "fees", "zh-CN", "a@b.cn"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


def _ticket_like(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(fields), ODD_VALUES, max_size=len(fields))


CUSTOMERS = st.one_of(
    ODD_VALUES,
    st.fixed_dictionaries(
        {},
        optional={
            "email": st.one_of(ODD_VALUES, st.emails()),
            "phone": st.one_of(ODD_VALUES, st.from_regex(r"\+?[0-9 \-()]{0,20}", fullmatch=True)),
            "name": ODD_VALUES,
        },
    ),
)
CREATE_BODIES = st.one_of(
    ODD_VALUES,
    st.fixed_dictionaries(
        {"customer": CUSTOMERS},
        optional={
            "subject": ODD_VALUES,
            "body": ODD_VALUES,
            "category": ODD_VALUES,
            "priority": ODD_VALUES,
            "locale": ODD_VALUES,
            "extra": ODD_VALUES,
        },
    ),
)
UPDATE_BODIES = _ticket_like(["status", "priority", "category", "assignee_id", "tags", "note"])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=CREATE_BODIES, update=UPDATE_BODIES)
async def test_no_body_makes_the_api_fail(
    client: httpx.AsyncClient, l1_agent: AgentLogin, body: Any, update: dict[str, Any]
) -> None:
    created = await client.post(f"{API}/tickets", headers=l1_agent.headers, json=body)
    assert created.status_code in (201, 422), created.text
    if created.status_code == 422:
        assert created.json()["fields"]
        return
    number = created.json()["number"]
    patched = await client.patch(f"{API}/tickets/{number}", headers=l1_agent.headers, json=update)
    assert patched.status_code in (200, 422), patched.text
    listed = await client.get(
        f"{API}/tickets", headers=l1_agent.headers, params={"q": str(body.get("subject"))[:200]}
    )
    assert listed.status_code == 200, listed.text
