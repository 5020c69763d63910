"""Who vouches for a received email: a trusted relay's Authentication-Results, our own
DKIM and DMARC check (WALLETDESK_EMAIL_VERIFY_DKIM), or both.

Our check runs off the event loop: in a thread, or for a big message in a helper
process, because canonicalising megabytes of body in dkimpy's regular expressions holds
the GIL long enough to stall every other connection of this process. It never raises
and never takes longer than its DNS time plus a CPU allowance: whatever goes wrong, the
verdict says "temperror" and the email is stored all the same.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

from walletdesk.channels.email.authresults import AuthVerdict, best_result
from walletdesk.channels.email.dkimcheck import check_signatures
from walletdesk.channels.email.dmarc import evaluate
from walletdesk.channels.email.dnstxt import DnsConfig, TxtLookup

if TYPE_CHECKING:
    from walletdesk.channels.email.settings import EmailSettings

log = logging.getLogger(__name__)

# Up to here a message is checked in a thread; past it the GIL held while dkimpy
# canonicalises the body stalls the event loop by 15–35 ms per MiB (a helper process: ~2).
IN_THREAD_MAX_BYTES = 1024 * 1024
# What a 25 MiB message costs in CPU on top of its DNS time, with room for a busy machine.
CPU_ALLOWANCE_SECONDS = 30.0
THREADS = 4

_pools_lock = threading.Lock()
_threads: ThreadPoolExecutor | None = None
_process: ProcessPoolExecutor | None = None


@dataclass(frozen=True, slots=True)
class CheckRequest:
    raw: bytes
    sender_domain: str | None
    relay: AuthVerdict
    dns: DnsConfig


def wants_own_check(mode: str, relay: AuthVerdict) -> bool:
    """Whether to run our check; in mode auto, only if no trusted relay judged DKIM or DMARC."""
    if mode == "never":
        return False
    return mode == "always" or (relay.dkim is None and relay.dmarc is None)


def sender_domain(address: str) -> str | None:
    """The domain as DNS and DKIM's d= spell it (IDNA A-labels), None if it has none."""
    _, at, domain = address.rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    if not at or not domain:
        return None
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def check(request: CheckRequest) -> AuthVerdict:
    """The blocking check; runs in a worker thread or the helper process."""
    lookup = TxtLookup(request.dns)
    signatures = check_signatures(request.raw, lookup)
    relay = request.relay
    dmarc = evaluate(
        request.sender_domain, signatures, lookup, spf=relay.spf, spf_domain=relay.spf_domain
    )
    return AuthVerdict(
        spf=relay.spf,
        dkim=best_result(s.result for s in signatures) or "none",
        dmarc=dmarc,
        spf_domain=relay.spf_domain,
    )


async def authenticate(
    settings: EmailSettings, raw: bytes, address: str, relay: AuthVerdict
) -> AuthVerdict:
    """The verdict to store for this email; `relay` is what trusted relays said of it."""
    if not wants_own_check(settings.email_verify_dkim, relay):
        return relay
    request = CheckRequest(
        raw=raw,
        sender_domain=sender_domain(address),
        relay=relay,
        dns=DnsConfig(settings.dns_servers, settings.email_dns_timeout_seconds),
    )
    big = len(raw) > IN_THREAD_MAX_BYTES
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(settings.email_dns_timeout_seconds + CPU_ALLOWANCE_SECONDS):
            return await loop.run_in_executor(_executor(big), check, request)
    except BrokenProcessPool:
        _drop_process_pool()
        log.warning("the DKIM helper process died; verdict temperror")
    except Exception as exc:
        log.warning("DKIM/DMARC check failed (%s: %s); verdict temperror", type(exc).__name__, exc)
    return AuthVerdict(
        spf=relay.spf, dkim="temperror", dmarc="temperror", spf_domain=relay.spf_domain
    )


def _executor(big: bool) -> Executor:
    global _threads, _process
    with _pools_lock:
        if not big:
            if _threads is None:
                # Its own threads: a resolver that hangs must not use up the default
                # executor, which parses mail and talks to IMAP.
                _threads = ThreadPoolExecutor(THREADS, thread_name_prefix="walletdesk-dkim")
            return _threads
        if _process is None:
            # spawn, not fork: this process runs threads (the event loop's helpers).
            _process = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return _process


def _drop_process_pool() -> None:
    global _process
    with _pools_lock:
        if _process is not None:
            _process.shutdown(wait=False, cancel_futures=True)
            _process = None
