"""TXT look-ups for DKIM keys and DMARC policies: blocking (run them off the event loop),
cached, and all of one email's look-ups sharing one deadline.

A name that does not exist, or has no TXT record, is an answer (None). A resolver that
fails, refuses or stays silent is not: `DnsTempError`, which the checks report as
"temperror" rather than guessing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

# Positive and negative answers alike, for as long as their TTL says.
CACHE_ENTRIES = 4096
# Large DKIM keys (RSA 4096) do not fit the 512 bytes of plain DNS; EDNS avoids a TCP retry.
EDNS_PAYLOAD = 1232

_resolvers: dict[tuple[tuple[str, int], ...], dns.resolver.Resolver] = {}
_resolvers_lock = threading.Lock()


class DnsTempError(Exception):
    """No answer this time (timeout, SERVFAIL, no resolver): a later try may succeed."""


@dataclass(frozen=True, slots=True)
class DnsConfig:
    """Where and how long to ask; plain data, so it can travel to a helper process."""

    servers: tuple[tuple[str, int], ...] = ()  # empty: the system's (/etc/resolv.conf)
    timeout: float = 5.0


def _resolver(servers: tuple[tuple[str, int], ...]) -> dns.resolver.Resolver:
    """One resolver per server list and process, so its cache serves every email."""
    with _resolvers_lock:
        resolver = _resolvers.get(servers)
        if resolver is None:
            try:
                resolver = dns.resolver.Resolver(configure=not servers)
            except dns.exception.DNSException as exc:  # no /etc/resolv.conf, say
                raise DnsTempError(f"no DNS resolver configured: {exc}") from None
            if servers:
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(host, port) for host, port in servers
                ]
            resolver.use_edns(0, 0, EDNS_PAYLOAD)
            resolver.cache = dns.resolver.LRUCache(CACHE_ENTRIES)
            _resolvers[servers] = resolver
        return resolver


class TxtLookup:
    """The look-ups of one email. Each gets what is left of the email's time."""

    def __init__(self, config: DnsConfig) -> None:
        self.config = config
        self.deadline = time.monotonic() + config.timeout

    def records(self, name: str) -> list[bytes] | None:
        """The TXT records at `name` (each one's strings joined), None if there are none."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DnsTempError(f"{name}: out of time for DNS")
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException:
            return None  # not a name that can exist (a label over 63 bytes, say)
        resolver = _resolver(self.config.servers)
        try:
            answer = resolver.resolve(
                qname,
                "TXT",
                lifetime=remaining,
                search=False,
                raise_on_no_answer=False,
            )
        except dns.resolver.NXDOMAIN:
            return None
        except dns.exception.DNSException as exc:
            raise DnsTempError(f"{name}: {type(exc).__name__}: {exc}"[:300]) from None
        if answer.rrset is None:
            return None
        return [b"".join(rdata.strings) for rdata in answer.rrset]

    def first_record(self, name: bytes, timeout: float = 0) -> bytes | None:
        """dkimpy's `dnsfunc`: the first TXT record, or None. (Its timeout is ours.)"""
        try:
            text = name.decode("ascii")
        except UnicodeDecodeError:
            return None
        found = self.records(text)
        return found[0] if found else None
