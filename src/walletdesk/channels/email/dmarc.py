"""DMARC (RFC 7489) for our own check: does the sender's domain vouch for the email?

It does ("pass") when a DKIM signature that verified, or a trusted relay's SPF pass, is
aligned with the domain of the sender's address; it does not ("fail") when that domain
publishes a DMARC policy and nothing aligned passed; "none" when it publishes none.
SPF we cannot check ourselves (behind a relay we never see the sending server), so
without a relay's SPF result a domain that relies on SPF alone shows "fail" here.

Relaxed alignment compares organizational domains, taken from the Public Suffix List:
"mail.example.com.cn" and "example.com.cn" align, "a.com.cn" and "b.com.cn" do not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from publicsuffixlist import PublicSuffixList

from walletdesk.channels.email.dkimcheck import SignatureResult
from walletdesk.channels.email.dnstxt import DnsTempError, TxtLookup

_VERSION = re.compile(rb"\s*v\s*=\s*DMARC1\s*(;|$)")


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped inside the package: no download


def organizational_domain(domain: str) -> str:
    return _suffixes().privatesuffix(domain) or domain


def aligned(domain: str, sender_domain: str, mode: str) -> bool:
    if mode == "s":
        return domain == sender_domain
    return organizational_domain(domain) == organizational_domain(sender_domain)


@dataclass(frozen=True, slots=True)
class DmarcPolicy:
    adkim: str = "r"  # r(elaxed) or s(trict)
    aspf: str = "r"


def parse_policy(record: bytes) -> DmarcPolicy | None:
    """The alignment modes of a DMARC record; None if it is not one (v=DMARC1 first)."""
    if not _VERSION.match(record):
        return None
    tags: dict[str, str] = {}
    for part in record.decode("utf-8", "replace").split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), value.strip().lower())
    return DmarcPolicy(
        adkim="s" if tags.get("adkim") == "s" else "r",
        aspf="s" if tags.get("aspf") == "s" else "r",
    )


def find_policy(sender_domain: str, lookup: TxtLookup) -> DmarcPolicy | None:
    """The policy at _dmarc.<domain>, else at its organizational domain (RFC 7489 §6.6.3)."""
    for domain in dict.fromkeys([sender_domain, organizational_domain(sender_domain)]):
        records = lookup.records(f"_dmarc.{domain}.") or []
        policies = [p for p in map(parse_policy, records) if p is not None]
        if len(policies) == 1:
            return policies[0]
        if policies:
            return None  # several DMARC records: the RFC says apply none
    return None


def evaluate(
    sender_domain: str | None,
    signatures: Sequence[SignatureResult],
    lookup: TxtLookup,
    *,
    spf: str | None = None,
    spf_domain: str | None = None,
) -> str:
    """pass, fail, none or temperror."""
    if not sender_domain:
        return "none"
    try:
        policy = find_policy(sender_domain, lookup)
    except DnsTempError:
        return "temperror"
    if policy is None:
        return "none"
    if spf == "pass" and spf_domain and aligned(spf_domain, sender_domain, policy.aspf):
        return "pass"
    ours = [s for s in signatures if s.domain and aligned(s.domain, sender_domain, policy.adkim)]
    if any(s.result == "pass" for s in ours):
        return "pass"
    spf_unknown = spf == "temperror" and (
        spf_domain is None or aligned(spf_domain, sender_domain, policy.aspf)
    )
    if spf_unknown or any(s.result == "temperror" for s in ours):
        return "temperror"
    return "fail"
