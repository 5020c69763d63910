"""Our own DKIM check (RFC 6376) of an email as it arrived, with dkimpy.

Each signature gets an RFC 8601 result: pass; fail (the body or the signed headers
changed since signing); permerror (no key published, unreadable signature or key);
temperror (DNS did not answer). The caller takes the best of them for the email and the
passing signatures' domains for DMARC alignment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dkim

from walletdesk.channels.email.dnstxt import DnsTempError, TxtLookup

# Relays and lists add signatures on top; past a few, each more is a DNS query an
# attacker gets for free.
MAX_SIGNATURES = 6
# RFC 8301: keys under 1024 bits are too weak to vouch for anything.
MIN_RSA_BITS = 1024

log = logging.getLogger(__name__)
# dkimpy logs every failed signature at ERROR; the verdict is stored instead, so its log
# stays quiet unless an operator lowers this logger's level.
_library_log = logging.getLogger(f"{__name__}.dkimpy")
if _library_log.level == logging.NOTSET:
    _library_log.setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class SignatureResult:
    domain: str | None  # the signing domain (d=), lower case; None if unreadable
    result: str


class _KeyLookup:
    """dkimpy's `dnsfunc` for one signature, remembering what the key look-up came to
    (dkimpy turns a missing key and a DNS timeout alike into a plain "invalid")."""

    def __init__(self, lookup: TxtLookup) -> None:
        self.lookup = lookup
        self.missing = False
        self.temporary = False

    def __call__(self, name: bytes, timeout: float = 0) -> bytes | None:
        try:
            found = self.lookup.first_record(name)
        except DnsTempError as exc:
            self.temporary = True
            raise dkim.DnsTimeoutError(str(exc)) from None
        self.missing = found is None
        return found


def check_signatures(raw: bytes, lookup: TxtLookup) -> list[SignatureResult]:
    """One result per DKIM-Signature (the first MAX_SIGNATURES); [] when there is none."""
    try:
        verifier = dkim.DKIM(raw, logger=_library_log, minkey=MIN_RSA_BITS)
    except Exception:
        # dkimpy cannot read the header section: a signature in it cannot be checked.
        return [SignatureResult(None, "permerror")] if _mentions_signature(raw) else []
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    return [_check_one(verifier, index, lookup) for index in range(min(count, MAX_SIGNATURES))]


def _check_one(verifier: dkim.DKIM, index: int, lookup: TxtLookup) -> SignatureResult:
    verifier.domain = None
    key = _KeyLookup(lookup)
    try:
        valid = verifier.verify(index, dnsfunc=key)
    except dkim.ValidationError as exc:
        result = "fail" if "body hash mismatch" in str(exc) else "permerror"
    except Exception as exc:
        # Hostile input must not take the email down with it: the signature is unusable.
        log.debug("DKIM signature %s unreadable: %s: %s", index, type(exc).__name__, exc)
        result = "permerror"
    else:
        if key.temporary:
            result = "temperror"
        elif key.missing:
            result = "permerror"
        else:
            result = "pass" if valid else "fail"
    return SignatureResult(_domain(verifier.domain), result)


def _domain(value: object) -> str | None:
    if not isinstance(value, bytes):
        return None
    try:
        return value.decode("ascii").strip().rstrip(".").lower() or None
    except UnicodeDecodeError:
        return None


def _mentions_signature(raw: bytes) -> bool:
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(b"dkim-signature:") or b"\ndkim-signature:" in head
