"""The deflection report: questions, not events, are counted; only shown questions count; a
customer who contacts support anyway was not deflected; the period bounds the events. And
"this solved it" on an article page reached from a suggestion counts for that suggestion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from tests.conftest import AgentLogin
from tests.helpcenter.conftest import make_article
from tests.helpcenter.test_public_pages import csrf_token
from walletdesk.db import Database, utcnow
from walletdesk.helpcenter import queries, reader_signals
from walletdesk.helpcenter.models import DeflectionEvent
from walletdesk.helpcenter.schemas import DeflectionIn, DeflectionReport
from walletdesk.runtime import Runtime


def sid() -> str:
    return uuid.uuid4().hex


async def report_events(
    db: Database, events: list[tuple[str, str, str, str | None]], *, at: datetime | None = None
) -> None:
    """(suggestion id, outcome, channel, slug) each, through the service (or at a given time)."""
    async with db.transaction() as session:
        for suggestion_id, outcome, channel, slug in events:
            data = DeflectionIn.model_validate(
                {
                    "suggestion_id": suggestion_id,
                    "outcome": outcome,
                    "channel": channel,
                    "locale": "en",
                    "slug": slug,
                }
            )
            if at is None:
                await reader_signals.record_deflection(session, data)
            else:
                article_id = None
                if slug:
                    article, _ = await queries.get_article(session, "en", slug)
                    article_id = article.id
                session.add(
                    DeflectionEvent(
                        suggestion_id=suggestion_id,
                        outcome=outcome,
                        channel=channel,
                        locale="en",
                        article_id=article_id,
                        created_at=at,
                    )
                )


async def report_since(
    db: Database, since: datetime, until: datetime | None = None
) -> DeflectionReport:
    async with db.transaction() as session:
        return await queries.deflection_report(session, since, until)


async def test_report_counts_each_question_once(runtime: Runtime) -> None:
    a = (await make_article(runtime.db, title="Frozen account")).slug
    b = (await make_article(runtime.db, title="Withdrawal delayed")).slug
    start = utcnow()
    q1, q2, q3, q4, q5, q6 = (sid() for _ in range(6))
    await report_events(
        runtime.db,
        [
            # Opened A and said it solved the question: deflected.
            (q1, "shown", "webchat", None),
            (q1, "opened", "webchat", a),
            (q1, "resolved", "webchat", a),
            # Opened A, then started the chat anyway.
            (q2, "shown", "webchat", None),
            (q2, "opened", "webchat", a),
            (q2, "not_resolved", "webchat", None),
            # Reported twice (a retried request): still one question, one deflection.
            (q3, "shown", "webchat", None),
            (q3, "shown", "webchat", None),
            (q3, "resolved", "webchat", b),
            (q3, "resolved", "webchat", b),
            # Never reported shown: a made-up id counts for nothing.
            (q4, "resolved", "webchat", a),
            # Said B solved it but wrote to support afterwards: not deflected.
            (q5, "shown", "email", None),
            (q5, "resolved", "email", b),
            (q5, "not_resolved", "email", None),
            # Shown, nothing more heard.
            (q6, "shown", "email", None),
        ],
    )
    report = await report_since(runtime.db, start)
    channels = {c.channel: c for c in report.channels}
    assert set(channels) == {"webchat", "email"}
    web, mail = channels["webchat"], channels["email"]
    assert (web.suggested, web.opened, web.resolved, web.not_resolved) == (3, 2, 2, 1)
    assert web.rate == round(2 / 3, 4)
    assert (mail.suggested, mail.opened, mail.resolved, mail.not_resolved) == (2, 0, 0, 1)
    assert mail.rate == 0.0
    assert (report.suggested, report.opened, report.resolved, report.not_resolved) == (5, 2, 2, 2)
    assert report.rate == 0.4
    assert report.since == start and report.until > start
    # A solved q1 once and was opened by q1 and q2; B solved q3 (q5 contacted support).
    assert [(x.slug, x.opened, x.resolved) for x in report.articles] == [(a, 2, 1), (b, 0, 1)]
    assert report.articles[0].title == "Frozen account"


async def test_report_covers_only_its_period(runtime: Runtime) -> None:
    slug = (await make_article(runtime.db)).slug
    # A stretch of the past no other test writes into.
    base = datetime(2001, 3, 1, tzinfo=UTC)
    inside, late = sid(), sid()
    await report_events(
        runtime.db,
        [(inside, "shown", "phone", None), (inside, "resolved", "phone", slug)],
        at=base + timedelta(days=1),
    )
    await report_events(runtime.db, [(late, "shown", "phone", None)], at=base + timedelta(days=7))
    week = await report_since(runtime.db, base, base + timedelta(days=7))  # until is exclusive
    assert [(c.channel, c.suggested, c.resolved, c.rate) for c in week.channels] == [
        ("phone", 1, 1, 1.0)
    ]
    assert [a.slug for a in week.articles] == [slug]
    fortnight = await report_since(runtime.db, base, base + timedelta(days=14))
    assert (fortnight.suggested, fortnight.resolved, fortnight.rate) == (2, 1, 0.5)
    before = await report_since(runtime.db, base - timedelta(days=7), base)
    assert (before.channels, before.articles, before.rate) == ([], [], 0.0)


async def test_api_report_has_the_new_figures(
    runtime: Runtime, client: httpx.AsyncClient, supervisor: AgentLogin
) -> None:
    slug = (await make_article(runtime.db)).slug
    question = sid()
    await report_events(
        runtime.db,
        [
            (question, "shown", "webchat", None),
            (question, "opened", "webchat", slug),
            (question, "resolved", "webchat", slug),
        ],
    )
    got = await client.get(
        "/api/v1/helpcenter/deflection-report", params={"days": 1}, headers=supervisor.headers
    )
    assert got.status_code == 200, got.text
    data = got.json()
    assert set(data) == {
        "since",
        "until",
        "channels",
        "suggested",
        "opened",
        "resolved",
        "not_resolved",
        "rate",
        "articles",
    }
    web = next(c for c in data["channels"] if c["channel"] == "webchat")
    assert set(web) == {"channel", "suggested", "opened", "resolved", "not_resolved", "rate"}
    mine = [a for a in data["articles"] if a["slug"] == slug]
    assert mine == [{"slug": slug, "locale": "en", "title": mine[0]["title"], "opened": 1,
                     "resolved": 1}]  # fmt: skip
    bad = await client.get(
        "/api/v1/helpcenter/deflection-report", params={"days": 0}, headers=supervisor.headers
    )
    assert bad.status_code == 422


async def _answer_on_page(
    client: httpx.AsyncClient, url: str, helpful: str, s: str
) -> httpx.Response:
    page = await client.get(url, params={"s": s})
    assert page.status_code == 200
    return await client.post(
        f"{url}/feedback", data={"helpful": helpful, "csrf_token": csrf_token(page.text), "s": s}
    )


async def test_solved_on_the_article_page_counts_for_the_suggestion(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    slug = (await make_article(runtime.db)).slug
    url = f"/help/en/articles/{slug}"
    start = utcnow()
    shown = sid()
    await report_events(runtime.db, [(shown, "shown", "webchat", None)])

    page = await client.get(url, params={"s": shown})
    assert f'name="s" value="{shown}"' in page.text
    assert "Did this article solve your problem?" in page.text
    assert "Yes, this solved it" in page.text
    plain = await client.get(url)
    assert 'name="s"' not in plain.text and "Was this article helpful?" in plain.text
    hostile = await client.get(url, params={"s": '"><script>alert(1)</script>'})
    assert 'name="s"' not in hostile.text and "<script>alert" not in hostile.text

    sent = await _answer_on_page(client, url, "yes", shown)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{url}?feedback=thanks#feedback"
    report = await report_since(runtime.db, start)
    assert [(c.channel, c.suggested, c.resolved) for c in report.channels] == [("webchat", 1, 1)]
    assert [(a.slug, a.resolved) for a in report.articles] == [(slug, 1)]

    # "Not yet" is only feedback; an id no channel showed, or a malformed one, counts nothing.
    for helpful, s in (("no", sid()), ("yes", sid()), ("yes", "bad id!")):
        if helpful == "no":
            await report_events(runtime.db, [(s, "shown", "email", None)])
        answered = await _answer_on_page(client, url, helpful, s)
        assert answered.status_code == 303
    after = await report_since(runtime.db, start)
    assert [(c.channel, c.suggested, c.resolved) for c in after.channels] == [
        ("email", 1, 0),
        ("webchat", 1, 1),
    ]
    async with runtime.db.transaction() as session:
        article, _ = await queries.get_article(session, "en", slug)
    assert (article.helpful_count, article.unhelpful_count) == (3, 1)


async def _opened_events(db: Database, suggestion_id: str) -> list[tuple[str, int | None]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(DeflectionEvent.channel, DeflectionEvent.article_id).where(
                DeflectionEvent.suggestion_id == suggestion_id,
                DeflectionEvent.outcome == "opened",
            )
        )
        return [(channel, article_id) for channel, article_id in rows]


async def test_opening_a_suggested_article_by_its_link_counts_as_opened(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """The email acknowledgement's links carry ?s= and nothing else reports the click."""
    first = await make_article(runtime.db, title="Card declined")
    second = await make_article(runtime.db, title="Card expired")
    start = utcnow()
    mailed = sid()
    await report_events(runtime.db, [(mailed, "shown", "email", None)])

    for _ in range(2):  # a reload is still one opening
        page = await client.get(f"/help/en/articles/{first.slug}", params={"s": mailed})
        assert page.status_code == 200
    await client.get(f"/help/en/articles/{second.slug}", params={"s": mailed})
    async with runtime.db.transaction() as session:
        ids = {
            (await queries.get_article(session, "en", a.slug))[0].id: a.slug
            for a in (first, second)
        }
    opened = await _opened_events(runtime.db, mailed)
    assert sorted(ids[article_id] for _, article_id in opened) == sorted([first.slug, second.slug])
    assert {channel for channel, _ in opened} == {"email"}

    # An id no channel showed, or a malformed one, records nothing.
    unknown = sid()
    await client.get(f"/help/en/articles/{first.slug}", params={"s": unknown})
    await client.get(f"/help/en/articles/{first.slug}", params={"s": "bad id!"})
    assert await _opened_events(runtime.db, unknown) == []

    report = await report_since(runtime.db, start)
    assert [(c.channel, c.suggested, c.opened, c.resolved) for c in report.channels] == [
        ("email", 1, 1, 0)
    ]
    # Solved from the same page: the article list shows it opened and solved by one question.
    sent = await _answer_on_page(client, f"/help/en/articles/{first.slug}", "yes", mailed)
    assert sent.status_code == 303
    after = await report_since(runtime.db, start)
    assert [(c.channel, c.opened, c.resolved) for c in after.channels] == [("email", 1, 1)]
    assert [(a.slug, a.opened, a.resolved) for a in after.articles] == [(first.slug, 1, 1)]
