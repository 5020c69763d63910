"""Origins, signed identities and flood limits."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from tests.channels.webchat.conftest import (
    ChatServer,
    SiteInfo,
    customer,
    make_site,
    open_customer,
    signed,
)
from walletdesk.channels.webchat.identity import (
    IdentityRejected,
    identity_signature,
    verify_identity,
)
from walletdesk.core.contacts.models import ContactIdentity
from walletdesk.core.tickets.models import Ticket
from walletdesk.db import Database

Serve = Callable[..., Awaitable[ChatServer]]


@pytest.mark.parametrize("origin", ["http://evil.test", "http://wallet.test.evil.test", None])
async def test_a_page_from_another_origin_is_refused(
    chat: ChatServer, site: SiteInfo, origin: str | None
) -> None:
    client = await open_customer(chat, site, origin=origin, send_hello=False)
    error = await client.expect("error")
    assert (error["code"], error["fatal"]) == ("origin_not_allowed", True)
    assert await client.closed() == 4403


async def test_origins_are_compared_as_browsers_send_them(chat: ChatServer, db: Database) -> None:
    site = await make_site(db, origins=("HTTPS://Wallet.Example:8443/",))
    client = await open_customer(chat, site, origin="https://wallet.example:8443")
    assert (await client.expect("welcome"))["status"] == "new"
    await client.close()


async def test_unknown_site_is_refused(chat: ChatServer) -> None:
    ghost = SiteInfo(0, "ws_nosuchsite", "")
    client = await open_customer(chat, ghost, send_hello=False)
    assert (await client.expect("error"))["code"] == "unknown_site"
    assert await client.closed() == 4403


async def test_signed_identity_attaches_the_verified_wallet_user(
    chat: ChatServer, site: SiteInfo, db: Database
) -> None:
    client, welcome = await customer(
        chat, site, identity=signed(site, "u-1001", name="王小明", email="xiaoming@example.com")
    )
    assert welcome["verified"] is True
    await client.send(type="message", id="v1", text="账户被冻结了")
    ack = await client.expect("ack", id="v1")
    async with db.transaction() as session:
        contact_id = await session.scalar(
            select(Ticket.contact_id).where(Ticket.number == ack["ticket"])
        )
        identities = {
            (i.kind, i.value): i.verified
            for i in await session.scalars(
                select(ContactIdentity).where(ContactIdentity.contact_id == contact_id)
            )
        }
    assert identities[("wallet", "u-1001")] is True
    assert identities[("email", "xiaoming@example.com")] is False
    await client.close()


async def test_forged_and_expired_identities_are_rejected(chat: ChatServer, site: SiteInfo) -> None:
    forged = signed(site, "u-1")
    forged["user_id"] = "u-2"  # someone else's id under u-1's signature
    client = await open_customer(chat, site, hello={"identity": forged})
    assert (await client.expect("error"))["code"] == "bad_identity"
    assert await client.closed() == 4401

    expired = signed(site, "u-1", lifetime=-10)
    client = await open_customer(chat, site, hello={"identity": expired})
    assert (await client.expect("error"))["code"] == "identity_expired"
    assert await client.closed() == 4401

    other_site = SiteInfo(site.id, site.key, "another-secret")
    client = await open_customer(chat, site, hello={"identity": signed(other_site, "u-1")})
    assert (await client.expect("error"))["code"] == "bad_identity"
    assert await client.closed() == 4401


async def test_another_users_conversation_is_never_resumed(
    chat: ChatServer, site: SiteInfo
) -> None:
    first, welcome = await customer(chat, site, identity=signed(site, "u-a"))
    await first.send(type="message", id="p1", text="我的私事")
    await first.expect("ack", id="p1")
    await first.close()
    # Same phone, user A logged out and user B logged in: the stored token is A's.
    second, other = await customer(chat, site, identity=signed(site, "u-b"), token=welcome["token"])
    assert other["conversation"] != welcome["conversation"]
    assert other["history"] == []
    anonymous, anon = await customer(chat, site, token=welcome["token"])
    assert anon["conversation"] != welcome["conversation"] and anon["history"] == []
    same, again = await customer(chat, site, identity=signed(site, "u-a"), token=welcome["token"])
    assert again["conversation"] == welcome["conversation"]
    assert [m["text"] for m in again["history"]] == ["我的私事"]
    for client in (second, anonymous, same):
        await client.close()


def test_identity_signature_rules() -> None:
    now = 1_800_000_000.0
    sig = identity_signature("s3cret", "u-1", 1_800_000_600)
    verify_identity("s3cret", "u-1", 1_800_000_600, sig.upper(), max_lifetime=3600, now=now)
    cases = [
        ("s3cret", "u-1", 1_800_000_601, sig, "bad_identity"),  # expiry changed
        ("other", "u-1", 1_800_000_600, sig, "bad_identity"),
        (
            "s3cret",
            "u-1",
            1_799_999_000,
            identity_signature("s3cret", "u-1", 1_799_999_000),
            "identity_expired",
        ),
        (
            "s3cret",
            "u-1",
            1_800_090_000,
            identity_signature("s3cret", "u-1", 1_800_090_000),
            "bad_identity",
        ),  # valid for longer than allowed
        (
            "s3cret",
            "",
            1_800_000_600,
            identity_signature("s3cret", "", 1_800_000_600),
            "bad_identity",
        ),
    ]
    for secret, user, expires, signature, code in cases:
        with pytest.raises(IdentityRejected) as caught:
            verify_identity(secret, user, expires, signature, max_lifetime=3600, now=now)
        assert caught.value.code == code


async def test_message_rate_limit_per_connection(serve_chat: Serve, db: Database) -> None:
    chat = await serve_chat(messages_per_second=0.2, message_burst=2)
    site = await make_site(db)
    client, _ = await customer(chat, site)
    for i in range(3):
        await client.send(type="message", id=f"r{i}", text=f"第{i}条")
    await client.expect("ack", id="r0")
    await client.expect("ack", id="r1")
    limited = await client.expect("error", ref="r2")
    assert limited["code"] == "rate_limited"
    assert limited["retry_after"] > 0 and limited["fatal"] is False
    await client.send(type="ping")
    await client.expect("pong")  # still connected
    await client.close()


async def test_rate_limit_per_ip_across_connections(serve_chat: Serve, db: Database) -> None:
    chat = await serve_chat(ip_messages_per_second=0.2, ip_message_burst=2, ip_max_connections=2)
    site = await make_site(db)
    one, _ = await customer(chat, site)
    two, _ = await customer(chat, site)
    await one.send(type="message", id="a", text="一")
    await two.send(type="message", id="b", text="二")
    await one.expect("ack", id="a")
    await two.expect("ack", id="b")
    await one.send(type="message", id="c", text="三")
    assert (await one.expect("error", ref="c"))["code"] == "rate_limited"

    third = await open_customer(chat, site, send_hello=False)
    assert (await third.expect("error"))["code"] == "too_many_connections"
    assert await third.closed() == 4429
    await one.close()
    await two.close()


def test_token_bucket_refills() -> None:
    from walletdesk.channels.webchat.limits import TokenBucket

    start = time.monotonic()
    bucket = TokenBucket(rate=2.0, burst=2, stamp=start)
    assert bucket.take(start) == 0.0
    assert bucket.take(start) == 0.0
    assert bucket.take(start) == pytest.approx(0.5)
    assert bucket.take(start + 0.5) == 0.0
