"""SPF, DKIM and DMARC verdicts from the Authentication-Results header of a trusted relay.

RFC 8601: anyone can write an Authentication-Results header, so only those carrying the
authserv-id of our own border relay count (configured in WALLETDESK_TRUSTED_AUTHSERV_IDS;
that relay must remove any such header that arrives from outside, as RFC 8601 §5 asks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_METHODS = ("spf", "dkim", "dmarc")
_RESULT = re.compile(r"\s*(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
_MAILFROM = re.compile(r"\bsmtp\.mailfrom\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)
_COMMENT = re.compile(r"\([^()]*\)")
# Of several verdicts for one method (two DKIM signatures), the best one speaks for it.
_RANK = {"pass": 5, "neutral": 3, "none": 2, "policy": 2, "softfail": 1, "temperror": 1}


def best_result(results: Iterable[str]) -> str | None:
    """The verdict that speaks for a method checked several times (RFC 8601 results)."""
    best: str | None = None
    for result in results:
        if best is None or _RANK.get(result, 0) > _RANK.get(best, 0):
            best = result
    return best


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    # The domain SPF vouched for (smtp.mailfrom), for DMARC alignment; not stored.
    spf_domain: str | None = None

    @property
    def checked(self) -> bool:
        return any((self.spf, self.dkim, self.dmarc))

    @property
    def failed(self) -> bool:
        """The sender's domain did not vouch for this message.

        DMARC decides when the relay evaluated it; without DMARC, a hard SPF failure
        that no passing DKIM signature makes up for.
        """
        if self.dmarc is not None:
            return self.dmarc == "fail"
        return self.spf == "fail" and self.dkim != "pass"


def verdict_from_headers(values: Iterable[str], trusted: frozenset[str]) -> AuthVerdict:
    """The verdicts in those Authentication-Results headers whose authserv-id we trust."""
    found: dict[str, str] = {}
    spf_domain: str | None = None
    for value in values:
        text = _COMMENT.sub(" ", value)
        authserv_id = text.split(";", 1)[0].strip().split()
        if not authserv_id or authserv_id[0].lower() not in trusted:
            continue
        for clause in text.split(";")[1:]:
            match = _RESULT.match(clause)
            if match is None:
                continue
            method, result = match.group(1).lower(), match.group(2).lower()
            if method in found and best_result([found[method], result]) != result:
                continue
            found[method] = result
            if method == "spf":
                mailfrom = _MAILFROM.search(clause)
                spf_domain = _domain_of(mailfrom.group(1)) if mailfrom else None
    return AuthVerdict(**{method: found.get(method) for method in _METHODS}, spf_domain=spf_domain)


def _domain_of(mailfrom: str) -> str | None:
    """smtp.mailfrom is a bare domain or an address (RFC 8601 §2.7.2)."""
    domain = mailfrom.rpartition("@")[2].strip().rstrip(".").lower()
    return domain or None
