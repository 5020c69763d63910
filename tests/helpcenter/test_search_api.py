"""The public search, suggestion, feedback and deflection API, including bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import AgentLogin, make_agent, unique
from tests.helpcenter.conftest import make_article
from walletdesk.app import create_app
from walletdesk.helpcenter.ratelimit import RateLimiter
from walletdesk.runtime import Runtime


def word() -> str:
    """A made-up word only one test's article contains (letters only: it must not stem)."""
    letters = "".join(chr(ord("a") + int(d)) for d in unique("").replace("-", ""))
    return f"zq{letters}x"


async def test_search_ranks_and_shapes_results(runtime: Runtime, client: httpx.AsyncClient) -> None:
    marker = word()
    title = await make_article(runtime.db, title=f"How to {marker} your wallet",
                               body="Nothing else here.")  # fmt: skip
    body = await make_article(runtime.db, body=f"Somewhere in the body: {marker}.")
    await make_article(runtime.db, title=f"Draft {marker}", status="draft")
    response = await client.get(
        "/api/v1/helpcenter/search", params={"q": marker, "locale": "en", "limit": 5}
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["locale"] == "en"
    slugs = [r["slug"] for r in data["results"]]
    assert slugs == [title.slug, body.slug]  # the title counts more; drafts are not public
    first = data["results"][0]
    assert set(first) == {"slug", "title", "locale", "score", "snippet", "url"}
    assert first["url"] == f"/help/en/articles/{title.slug}"
    assert first["score"] >= data["results"][1]["score"] > 0
    assert f"<mark>{marker}</mark>" in data["results"][1]["snippet"]


async def test_locale_is_guessed_from_the_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/helpcenter/search", params={"q": "账户冻结"})
    assert response.status_code == 200 and response.json()["locale"] == "zh-CN"


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 422, "q: Field required"),
        ({"q": ""}, 422, "q: must not be empty"),
        ({"q": "   "}, 422, "q: must not be empty"),
        ({"q": "x" * 5000}, 422, "q: must be at most 500 characters"),
        ({"q": "hello", "locale": "fr"}, 422, "locale:"),
        ({"q": "hello", "limit": 0}, 422, "limit:"),
        ({"q": "hello", "limit": "lots"}, 422, "limit:"),
    ],
)
async def test_bad_search_input_is_a_clear_422(
    client: httpx.AsyncClient, params: dict[str, object], status: int, message: str
) -> None:
    response = await client.get("/api/v1/helpcenter/search", params=params)
    assert response.status_code == status
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "query", ["🙂🙂💸", "!!!???", '"', "*", '"a" NEAR/2 "b" OR c*', "' OR 1=1; --", "\x00\x01"]
)
async def test_odd_queries_are_plain_text(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get("/api/v1/helpcenter/search", params={"q": query, "locale": "en"})
    assert response.status_code == 200, response.text
    if not any(ch.isalnum() for ch in query):
        assert response.json()["results"] == []


async def test_suggestions_and_deflection_rate(
    runtime: Runtime, client: httpx.AsyncClient, supervisor: AgentLogin
) -> None:
    marker = word()
    article = await make_article(runtime.db, title=f"The {marker} answer")
    suggested = await client.get(
        "/api/v1/helpcenter/suggest", params={"q": f"hi, I need the {marker} thing", "limit": 3}
    )
    assert suggested.status_code == 200, suggested.text
    data = suggested.json()
    assert data["results"][0]["slug"] == article.slug
    sid = data["suggestion_id"]
    channel = "webchat"
    before = await client.get("/api/v1/helpcenter/deflection-report", headers=supervisor.headers)
    for outcome in ("shown", "opened", "resolved"):
        posted = await client.post(
            "/api/v1/helpcenter/deflections",
            json={"suggestion_id": sid, "outcome": outcome, "channel": channel,
                  "locale": "en", "slug": article.slug},
        )  # fmt: skip
        assert posted.status_code == 201, posted.text
    other = await client.get("/api/v1/helpcenter/suggest", params={"q": marker})
    await client.post(
        "/api/v1/helpcenter/deflections",
        json={"suggestion_id": other.json()["suggestion_id"], "outcome": "shown",
              "channel": channel, "locale": "en"},
    )  # fmt: skip
    after = await client.get("/api/v1/helpcenter/deflection-report", headers=supervisor.headers)
    assert after.status_code == 200

    def webchat(report: httpx.Response) -> dict[str, int]:
        rows = [c for c in report.json()["channels"] if c["channel"] == channel]
        return rows[0] if rows else {"suggested": 0, "resolved": 0}

    assert webchat(after)["suggested"] - webchat(before)["suggested"] == 2
    assert webchat(after)["resolved"] - webchat(before)["resolved"] == 1
    assert 0 < after.json()["rate"] <= 1


async def test_deflection_input_is_checked(runtime: Runtime, client: httpx.AsyncClient) -> None:
    bad = await client.post(
        "/api/v1/helpcenter/deflections",
        json={"suggestion_id": "x", "outcome": "loved-it", "channel": "pigeon", "locale": "en"},
    )
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["fields"]} == {"suggestion_id", "outcome", "channel"}
    unknown = await client.post(
        "/api/v1/helpcenter/deflections",
        json={"suggestion_id": "abcdefgh12", "outcome": "resolved", "channel": "email",
              "locale": "en", "slug": "no-such-article"},
    )  # fmt: skip
    assert unknown.status_code == 404


async def test_deflection_report_is_for_supervisors(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    agent = await make_agent(runtime.db, "agent")
    assert (await client.get("/api/v1/helpcenter/deflection-report")).status_code == 401
    denied = await client.get("/api/v1/helpcenter/deflection-report", headers=agent.headers)
    assert denied.status_code == 403


async def test_feedback_is_recorded(runtime: Runtime, client: httpx.AsyncClient) -> None:
    article = await make_article(runtime.db)
    for helpful in (True, True, False):
        response = await client.post(
            "/api/v1/helpcenter/feedback",
            json={"slug": article.slug, "locale": "en", "helpful": helpful, "comment": "ok"},
        )
        assert response.status_code == 201, response.text
    admin = await make_agent(runtime.db, "admin")
    got = await client.get(f"/api/v1/helpcenter/articles/en/{article.slug}", headers=admin.headers)
    assert (got.json()["helpful_count"], got.json()["unhelpful_count"]) == (2, 1)
    missing = await client.post(
        "/api/v1/helpcenter/feedback", json={"slug": "nope", "locale": "en", "helpful": True}
    )
    assert missing.status_code == 404


async def test_public_endpoints_are_rate_limited_per_address(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    now = [1000.0]
    app.state.helpcenter_limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        statuses = [
            (await client.get("/api/v1/helpcenter/search", params={"q": "limit"})).status_code
            for _ in range(5)
        ]
        limited = await client.get("/help/en/search", params={"q": "limit"})
        now[0] += 1.0  # a second later, one more request is allowed
        refilled = await client.get("/api/v1/helpcenter/search", params={"q": "limit"})
        again = await client.get("/api/v1/helpcenter/search", params={"q": "limit"})
    assert statuses == [200, 200, 200, 429, 429]
    assert limited.status_code == 429
    assert "Too many searches" in limited.text
    assert (refilled.status_code, again.status_code) == (200, 429)
    assert again.headers["Retry-After"] == "1"
    assert "too many requests" in again.json()["error"]


async def test_status_tells_the_index_version_and_both_semantic_stages(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await make_article(runtime.db, title=f"Status {unique('st')}")
    response = await client.get("/api/v1/helpcenter/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] >= 1 and body["articles"].get("en", 0) >= 1
    # The tests run with WALLETDESK_HELPCENTER_SEMANTIC=0 (tests/helpcenter/conftest.py).
    assert (body["semantic"], body["english"]) == ("off", "off")
