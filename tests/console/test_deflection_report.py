"""The console's deflection report: supervisors and admins only, in both languages, with the
figures of the help center's own report and the articles that solved questions."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

import httpx
import pytest

from tests.conftest import make_agent
from tests.console.conftest import sign_in
from tests.helpcenter.conftest import make_article
from walletdesk.db import Database, utcnow
from walletdesk.helpcenter import queries, reader_signals
from walletdesk.helpcenter.schemas import DeflectionIn

PAGE = "/console/help/deflection"


async def deflected_question(db: Database, slug: str, channel: str = "webchat") -> None:
    """A question shown suggestions, whose customer opened `slug` and said it solved it."""
    question = uuid.uuid4().hex
    async with db.transaction() as session:
        for outcome in ("shown", "opened", "resolved"):
            await reader_signals.record_deflection(
                session,
                DeflectionIn(
                    suggestion_id=question,
                    outcome=outcome,  # type: ignore[arg-type]
                    channel=channel,  # type: ignore[arg-type]
                    locale="en",
                    slug=None if outcome == "shown" else slug,
                ),
            )


def figure(page: str, name: str) -> int:
    match = re.search(rf'data-total="{name}">(\d+)<', page)
    assert match, f"no {name} total on the page"
    return int(match.group(1))


async def test_supervisor_sees_the_report(client: httpx.AsyncClient, db: Database) -> None:
    title = 'Unfreeze <script>alert("x")</script> an account'
    article = await make_article(db, title=title)
    await deflected_question(db, article.slug)
    supervisor = await make_agent(db, "supervisor", locale="en")
    await sign_in(client, supervisor)

    listing = await client.get("/console/help/articles")
    assert f'href="{PAGE}"' in listing.text and "Deflection report" in listing.text

    page = await client.get(PAGE)
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Deflection</h1>" in text
    assert '<option value="30" selected>Last 30 days</option>' in text
    # The same figures as the help center's report for the same 30 days.
    async with db.transaction() as session:
        expected = await queries.deflection_report(session, utcnow() - timedelta(days=30))
    for name in ("suggested", "opened", "resolved", "not_resolved"):
        assert figure(text, name) == getattr(expected, name)
    assert figure(text, "resolved") >= 1
    assert 'data-channel="webchat"' in text and "Web chat" in text
    row = text.split(f'data-article="en/{article.slug}"')[1].split("</tr>")[0]
    assert f'href="/console/help/articles/en/{article.slug}"' in row
    assert html.escape(title, quote=False) in row.replace("&#34;", '"')
    assert "<script>alert" not in text
    assert re.search(r"<td[^>]*>1</td>\s*<td[^>]*>1</td>", row), row

    week = await client.get(PAGE, params={"days": "7"})
    assert '<option value="7" selected>Last 7 days</option>' in week.text


async def test_chinese_report_and_empty_period(client: httpx.AsyncClient, db: Database) -> None:
    admin = await make_agent(db, "admin", locale="zh-CN")
    await sign_in(client, admin)
    page = await client.get(PAGE, params={"days": "365"})
    assert page.status_code == 200
    assert "<h1>自助解决</h1>" in page.text
    assert "自助解决率" in page.text and "最近 365 天" in page.text
    assert re.search(r"<strong data-rate>\d+(\.\d)?%</strong>", page.text)


@pytest.mark.parametrize("days", ["0", "31", "abc", "-7", "3650"])
async def test_unknown_period_is_a_clear_400(
    client: httpx.AsyncClient, db: Database, days: str
) -> None:
    supervisor = await make_agent(db, "supervisor", locale="en")
    await sign_in(client, supervisor)
    refused = await client.get(PAGE, params={"days": days})
    assert refused.status_code == 400
    assert "The address or form is not valid." in refused.text


async def test_agents_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    assert (await client.get(PAGE)).status_code == 303  # not signed in: to the login page
    agent = await make_agent(db, "agent", tier=3, locale="zh-CN")
    await sign_in(client, agent)
    refused = await client.get(PAGE)
    assert refused.status_code == 403
    assert "只有主管和管理员可以查看自助解决报告" in refused.text
    assert "data-total" not in refused.text
