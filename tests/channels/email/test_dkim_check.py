"""Our own DKIM and DMARC check, against keys and policies on the loopback DNS server."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.channels.email.conftest import make_settings
from tests.channels.email.dnszone import (
    SERVFAIL,
    SILENT,
    SigningKey,
    ed25519_key,
    loopback_dns,
    rsa_key,
    sign,
)
from tests.channels.email.mail import text_email
from tests.conftest import unique
from walletdesk.channels.email.authresults import AuthVerdict, verdict_from_headers
from walletdesk.channels.email.dkimcheck import MAX_SIGNATURES
from walletdesk.channels.email.dmarc import organizational_domain
from walletdesk.channels.email.dnstxt import DnsConfig
from walletdesk.channels.email.senderauth import (
    CheckRequest,
    check,
    sender_domain,
    wants_own_check,
)
from walletdesk.channels.email.settings import parse_dns_servers

REJECT = "v=DMARC1; p=reject; rua=mailto:dmarc@example.invalid"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return rsa_key()


def new_domain() -> str:
    return f"{unique('d')}.com.cn"


def email_from(domain: str, body: str = "请帮我查一下这笔转账") -> bytes:
    return text_email(
        sender=f"li.si@{domain}",
        message_id=f"<{unique('m')}@{domain}>",
        subject="转账没到",
        body=body,
    )


def verdict_of(
    raw: bytes,
    domain: str,
    *,
    relay: AuthVerdict | None = None,
    timeout: float = 5.0,
) -> AuthVerdict:
    dns = DnsConfig(parse_dns_servers(loopback_dns().servers), timeout)
    return check(CheckRequest(raw, domain, relay or AuthVerdict(), dns))


def publish(domain: str, key: SigningKey, selector: str = "s1", policy: str = REJECT) -> None:
    loopback_dns().publish(f"{selector}._domainkey.{domain}", key.record)
    if policy:
        loopback_dns().publish(f"_dmarc.{domain}", policy)


def test_a_signature_that_verifies_passes_and_aligns(key: SigningKey) -> None:
    domain = new_domain()
    publish(domain, key)
    verdict = verdict_of(sign(email_from(domain), key, domain), domain)
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == (None, "pass", "pass")
    assert not verdict.failed


def test_an_ed25519_signature_passes() -> None:
    domain, ed = new_domain(), ed25519_key()
    publish(domain, ed, selector="ed")
    verdict = verdict_of(sign(email_from(domain), ed, domain, selector="ed"), domain)
    assert (verdict.dkim, verdict.dmarc) == ("pass", "pass")


@pytest.mark.parametrize("canonicalization", [b"relaxed", b"simple"])
def test_a_body_changed_after_signing_fails(key: SigningKey, canonicalization: bytes) -> None:
    domain = new_domain()
    publish(domain, key)
    signed = sign(
        email_from(domain, body="请把余额转到尾号 1234 的卡"),
        key,
        domain,
        canonicalize=(canonicalization, canonicalization),
    )
    original = email_from(domain, body="请把余额转到尾号 1234 的卡").split(b"\r\n\r\n", 1)[1]
    forged = email_from(domain, body="请把余额转到尾号 9876 的卡").split(b"\r\n\r\n", 1)[1]
    tampered = signed.replace(original, forged)
    assert tampered != signed
    verdict = verdict_of(tampered, domain)
    assert (verdict.dkim, verdict.dmarc) == ("fail", "fail")
    assert verdict.failed


def test_a_changed_signed_header_fails(key: SigningKey) -> None:
    domain = new_domain()
    publish(domain, key)
    signed = sign(email_from(domain), key, domain)
    verdict = verdict_of(signed.replace(b"Subject: ", b"Subject: URGENT ", 1), domain)
    assert (verdict.dkim, verdict.dmarc) == ("fail", "fail")


def test_no_signature_is_none_and_dmarc_follows_the_policy() -> None:
    unsigned = new_domain()
    verdict = verdict_of(email_from(unsigned), unsigned)
    assert (verdict.dkim, verdict.dmarc) == ("none", "none")  # no policy published
    assert not verdict.failed

    protected = new_domain()
    loopback_dns().publish(f"_dmarc.{protected}", REJECT)
    verdict = verdict_of(email_from(protected), protected)
    assert (verdict.dkim, verdict.dmarc) == ("none", "fail")
    assert verdict.failed


def test_a_key_nobody_published_is_a_permanent_error(key: SigningKey) -> None:
    domain = new_domain()
    loopback_dns().publish(f"_dmarc.{domain}", REJECT)
    verdict = verdict_of(sign(email_from(domain), key, domain), domain)
    assert (verdict.dkim, verdict.dmarc) == ("permerror", "fail")


@pytest.mark.parametrize("how", [SERVFAIL, SILENT])
def test_dns_failing_is_a_temporary_error_not_a_failure(key: SigningKey, how: str) -> None:
    domain = new_domain()
    publish(domain, key)
    loopback_dns().break_name(f"s1._domainkey.{domain}", how)
    verdict = verdict_of(sign(email_from(domain), key, domain), domain, timeout=0.5)
    assert (verdict.dkim, verdict.dmarc) == ("temperror", "temperror")
    assert not verdict.failed


def test_the_dmarc_lookup_failing_is_a_temporary_error(key: SigningKey) -> None:
    domain = new_domain()
    publish(domain, key, policy="")
    loopback_dns().break_name(f"_dmarc.{domain}", SERVFAIL)
    verdict = verdict_of(sign(email_from(domain), key, domain), domain)
    assert (verdict.dkim, verdict.dmarc) == ("pass", "temperror")


def test_alignment_is_relaxed_by_organizational_domain_unless_strict(key: SigningKey) -> None:
    parent = new_domain()
    publish(parent, key)  # the policy lives at the organizational domain only
    child = f"mail.{parent}"
    verdict = verdict_of(sign(email_from(child), key, parent), child)
    assert (verdict.dkim, verdict.dmarc) == ("pass", "pass")

    strict = new_domain()
    publish(strict, key, policy="v=DMARC1; p=quarantine; adkim=s")
    sub = f"mail.{strict}"
    verdict = verdict_of(sign(email_from(sub), key, strict), sub)
    assert (verdict.dkim, verdict.dmarc) == ("pass", "fail")


def test_a_signature_of_another_domain_does_not_vouch(key: SigningKey) -> None:
    """a.com.cn and b.com.cn share the public suffix com.cn, not an organization."""
    victim, attacker = new_domain(), new_domain()
    loopback_dns().publish(f"_dmarc.{victim}", REJECT)
    publish(attacker, key)
    verdict = verdict_of(sign(email_from(victim), key, attacker), victim)
    assert (verdict.dkim, verdict.dmarc) == ("pass", "fail")
    assert verdict.failed
    assert organizational_domain(f"x.{victim}") == victim
    assert organizational_domain("com.cn") == "com.cn"


def test_the_best_of_several_signatures_counts(key: SigningKey) -> None:
    domain, other = new_domain(), new_domain()
    publish(domain, key)
    signed = sign(email_from(domain), key, domain)
    # A second signature on top whose key was never published.
    resigned = sign(signed, key, other, selector="gone")
    verdict = verdict_of(resigned, domain)
    assert (verdict.dkim, verdict.dmarc) == ("pass", "pass")


def test_no_more_than_a_few_signatures_are_looked_up(key: SigningKey) -> None:
    domain = new_domain()
    publish(domain, key)
    raw = email_from(domain)
    for n in range(MAX_SIGNATURES + 3):
        raw = sign(raw, key, domain, selector=f"junk{n}")
    verdict_of(raw, domain)
    asked = [loopback_dns().asked(f"junk{n}._domainkey.{domain}") for n in range(12)]
    assert sum(asked) == MAX_SIGNATURES


def test_a_trusted_relays_spf_pass_aligns_too() -> None:
    domain = new_domain()
    loopback_dns().publish(f"_dmarc.{domain}", REJECT)
    relay = verdict_from_headers(
        [f"mx.walletdesk.test; spf=pass smtp.mailfrom=bounce@mail.{domain}"],
        frozenset({"mx.walletdesk.test"}),
    )
    assert (relay.spf, relay.spf_domain) == ("pass", f"mail.{domain}")
    verdict = verdict_of(email_from(domain), domain, relay=relay)
    assert (verdict.spf, verdict.dkim, verdict.dmarc) == ("pass", "none", "pass")


def test_unreadable_input_never_raises() -> None:
    domain = new_domain()
    loopback_dns().publish(f"_dmarc.{domain}", REJECT)
    garbage = b"DKIM-Signature: v=1; a=rsa-sha256; d=\xff\xfe; b=!!\r\nFrom x\r\n\r\nbody"
    verdict = verdict_of(garbage, domain)
    assert verdict.dkim == "permerror"
    assert verdict_of(b"", domain).dkim == "none"
    broken = email_from(domain).replace(b"From:", b"DKIM-Signature: v=1; d=\r\nFrom:", 1)
    assert verdict_of(broken, domain).dkim == "permerror"


def test_modes_and_domains() -> None:
    relay_judged = AuthVerdict(spf="pass", dkim="pass", dmarc="pass")
    relay_spf_only = AuthVerdict(spf="pass")
    assert not wants_own_check("auto", relay_judged)
    assert wants_own_check("auto", relay_spf_only)
    assert wants_own_check("always", relay_judged)
    assert not wants_own_check("never", AuthVerdict())
    assert sender_domain("Li.Si@Example.COM.cn") == "example.com.cn"
    assert sender_domain("用户@例子.中国") == "xn--fsqu00a.xn--fiqs8s"
    assert sender_domain("nobody") is None


def test_settings_of_the_check_are_validated() -> None:
    settings = make_settings(25, email_verify_dkim=" Always ", email_dns_servers="")
    assert settings.email_verify_dkim == "always"
    assert settings.dns_servers == ()
    assert parse_dns_servers("10.0.0.53, [2001:db8::53]:5353,127.0.0.1:5300") == (
        ("10.0.0.53", 53),
        ("2001:db8::53", 5353),
        ("127.0.0.1", 5300),
    )
    for bad, says in [
        ({"email_verify_dkim": "sometimes"}, "'auto', 'always' or 'never'"),
        ({"email_dns_servers": "dns.google"}, "give a resolver's IP address"),
        ({"email_dns_servers": "127.0.0.1:99999"}, "port must be a number"),
        ({"email_dns_timeout_seconds": 0}, "greater than 0"),
    ]:
        with pytest.raises(ValidationError, match=says):
            make_settings(25, **bad)
