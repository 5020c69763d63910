"""A DNS server on loopback for the email tests: the DKIM keys and DMARC policies we publish.

Every email test points WALLETDESK_EMAIL_DNS_SERVERS here (make_settings does), so no test
asks the internet. A name it does not know is NXDOMAIN; a name can also be made to answer
SERVFAIL or nothing at all, as a broken resolver would.
"""

from __future__ import annotations

import atexit
import base64
import socketserver
import threading
from dataclasses import dataclass, field
from typing import Any

import dkim
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

SERVFAIL = "servfail"
SILENT = "silent"


@dataclass
class Zone:
    records: dict[str, list[bytes]] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, data: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        name = query.question[0].name.to_text().lower() if query.question else ""
        with self.lock:
            self.queries.append(name)
            behaviour = self.broken.get(name)
            records = self.records.get(name)
        if behaviour == SILENT:
            return None
        if behaviour == SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif query.question[0].rdtype == dns.rdatatype.TXT:
            texts = [
                " ".join(_quoted(r[i : i + 255]) for i in range(0, len(r), 255)) for r in records
            ]
            response.answer.append(
                dns.rrset.from_text_list(name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, texts)
            )
        return response.to_wire()


def _quoted(chunk: bytes) -> str:
    return '"' + chunk.decode("ascii").replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.zone.answer(data)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _Server(socketserver.ThreadingUDPServer):
    daemon_threads = True

    def __init__(self, zone: Zone) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.zone = zone


@dataclass
class LoopbackDns:
    zone: Zone
    port: int

    @property
    def servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def publish(self, name: str, *records: str | bytes) -> None:
        key = name.lower().rstrip(".") + "."
        with self.zone.lock:
            self.zone.records[key] = [r.encode() if isinstance(r, str) else r for r in records]

    def break_name(self, name: str, how: str) -> None:
        with self.zone.lock:
            self.zone.broken[name.lower().rstrip(".") + "."] = how

    def asked(self, name: str) -> int:
        key = name.lower().rstrip(".") + "."
        with self.zone.lock:
            return self.zone.queries.count(key)


_started: LoopbackDns | None = None
_start_lock = threading.Lock()


def loopback_dns() -> LoopbackDns:
    """The process's test DNS server, started on first use."""
    global _started
    with _start_lock:
        if _started is None:
            zone = Zone()
            server = _Server(zone)
            threading.Thread(target=server.serve_forever, name="test-dns", daemon=True).start()

            def stop() -> None:
                server.shutdown()
                server.server_close()

            atexit.register(stop)
            _started = LoopbackDns(zone, int(server.server_address[1]))
        return _started


@dataclass(frozen=True)
class SigningKey:
    """A DKIM key pair: the private half for dkimpy.sign, the DNS record for the public one."""

    private: bytes
    record: str
    algorithm: bytes


def rsa_key(bits: int = 2048) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()
    return SigningKey(private, record, b"rsa-sha256")


def ed25519_key() -> SigningKey:
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    record = "v=DKIM1; k=ed25519; p=" + base64.b64encode(public).decode()
    return SigningKey(base64.b64encode(seed), record, b"ed25519-sha256")


def sign(raw: bytes, key: SigningKey, domain: str, selector: str = "s1", **options: Any) -> bytes:
    """`raw` with a DKIM-Signature of `domain` on top, as the sender's server adds it."""
    header = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        key.private,
        signature_algorithm=key.algorithm,
        include_headers=[b"from", b"to", b"subject", b"message-id", b"date"],
        **options,
    )
    return bytes(header) + raw
