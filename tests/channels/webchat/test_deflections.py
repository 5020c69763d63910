"""The widget's deflection reports over HTTP: the site's origins only, answers the page can
read (CORS, errors too), the channel fixed to webchat, bad input explained, and the help
center's per-address limit."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.channels.webchat.conftest import ORIGIN, ChatServer, SiteInfo
from tests.helpcenter.conftest import make_article
from walletdesk.db import utcnow
from walletdesk.helpcenter import queries
from walletdesk.helpcenter.ratelimit import RateLimiter

URL = "/webchat/api/deflections"


def report(**changes: Any) -> dict[str, Any]:
    return {"suggestion_id": uuid.uuid4().hex, "outcome": "shown", "locale": "en"} | changes


async def test_widget_reports_are_recorded_for_webchat(chat: ChatServer, site: SiteInfo) -> None:
    article = await make_article(chat.runtime.db, title="Top-up failed at night")
    start = utcnow()
    question = report()
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        preflight = await http.options(
            URL,
            params={"site": site.key},
            headers={
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "Content-Type" in preflight.headers["access-control-allow-headers"]
        for outcome, slug in (
            ("shown", None),
            ("opened", article.slug),
            ("resolved", article.slug),
        ):
            sent = await http.post(
                URL, params={"site": site.key}, json=question | {"outcome": outcome, "slug": slug}
            )
            assert sent.status_code == 201, sent.text
            assert sent.headers["access-control-allow-origin"] == ORIGIN
            assert sent.json() == {"status": "recorded"}
    async with chat.runtime.db.transaction() as session:
        found = await queries.deflection_report(session, start)
    assert [(c.channel, c.suggested, c.opened, c.resolved) for c in found.channels] == [
        ("webchat", 1, 1, 1)
    ]
    assert [(a.slug, a.resolved) for a in found.articles] == [(article.slug, 1)]


async def test_other_origins_and_sites_are_refused(chat: ChatServer, site: SiteInfo) -> None:
    async with httpx.AsyncClient(base_url=chat.url) as http:
        foreign = await http.post(
            URL, params={"site": site.key}, json=report(), headers={"Origin": "http://evil.test"}
        )
        assert foreign.status_code == 403
        unknown = await http.post(
            URL, params={"site": "ws_nope"}, json=report(), headers={"Origin": ORIGIN}
        )
        assert unknown.status_code == 404
        assert unknown.headers["access-control-allow-origin"] == ORIGIN


async def test_bad_reports_are_explained(chat: ChatServer, site: SiteInfo) -> None:
    cases: list[tuple[bytes, int, str]] = [
        (b"not json", 422, "body"),
        (json.dumps(report(outcome="loved-it")).encode(), 422, "outcome"),
        (json.dumps(report(suggestion_id="x")).encode(), 422, "suggestion_id"),
        (json.dumps(report(locale="fr")).encode(), 422, "locale"),
        # The channel is the one the report arrives on; the page does not choose it.
        (json.dumps(report(channel="email")).encode(), 422, "channel"),
        (json.dumps(report(outcome="resolved", slug="no-such-article")).encode(), 404, ""),
        (json.dumps(report(slug="x" * 3000)).encode(), 422, "body"),
        # A slug is a slug: text PostgreSQL cannot store (a NUL) never reaches it.
        (json.dumps(report(outcome="opened", slug="a\u0000b")).encode(), 422, "slug"),
        (json.dumps(report(outcome="opened", slug="Not_A_Slug")).encode(), 422, "slug"),
    ]
    async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
        for body, status, field in cases:
            answer = await http.post(
                URL,
                params={"site": site.key},
                content=body,
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == status, (body[:60], answer.text)
            assert answer.headers["access-control-allow-origin"] == ORIGIN
            assert answer.json()["error"]
            if field:
                assert [f["field"] for f in answer.json()["fields"]] == [field]


async def test_reports_share_the_help_centers_limit(chat: ChatServer, site: SiteInfo) -> None:
    chat.app.state.helpcenter_limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: 5.0)
    try:
        async with httpx.AsyncClient(base_url=chat.url, headers={"Origin": ORIGIN}) as http:
            searched = await http.get("/api/v1/helpcenter/search", params={"q": "top up"})
            first = await http.post(URL, params={"site": site.key}, json=report())
            limited = await http.post(URL, params={"site": site.key}, json=report())
    finally:
        del chat.app.state.helpcenter_limiter
    assert (searched.status_code, first.status_code, limited.status_code) == (200, 201, 429)
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["access-control-allow-origin"] == ORIGIN
    assert "too many" in limited.json()["error"]
