"""A real IMAP server for the tests: Debian's dovecot, run from a throwaway config on loopback."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.channels.email.tlscerts import TlsFiles
from tests.conftest import ON_CI

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "support"
PASSWORD = "imap-test-password"


@dataclass(frozen=True, slots=True)
class Dovecot:
    port: int
    root: Path
    # Serving only implicit TLS (imaps) on `port`, with a certificate the test CA signed.
    tls: bool = False
    pid: int = 0  # of the master, which leads the process group of all its processes

    @property
    def url(self) -> str:
        scheme = "imaps" if self.tls else "imap"
        return f"{scheme}://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"


def available() -> bool:
    return os.path.exists(DOVECOT)


def require() -> None:
    """Skip a test without Dovecot here; on CI, where .ci/run installs it, fail instead."""
    if available():
        return
    if ON_CI:
        pytest.fail("dovecot is not installed: .ci/run must `apt-get install -y dovecot-imapd`")
    pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(root: Path, port: int, tls: TlsFiles | None = None) -> str:
    if os.geteuid() == 0:
        # Dovecot will not deliver mail as root; its own unprivileged users run the rest.
        mail_uid, mail_gid = 65534, 65534
        users = "default_login_user = dovenull\ndefault_internal_user = dovecot\n"
    else:
        mail_uid, mail_gid = os.getuid(), os.getgid()
        me = getpass.getuser()
        users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
    if tls is None:
        ssl_settings, imap_port, imaps_port = "ssl = no", port, 0
    else:
        ssl_settings = f"ssl = required\nssl_cert = <{tls.cert_file}\nssl_key = <{tls.key_file}"
        imap_port, imaps_port = 0, port
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


@contextmanager
def running_dovecot(tls: TlsFiles | None = None) -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="walletdesk-dovecot-"))
    root.chmod(0o755)  # its unprivileged processes must reach their sockets in here
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    if os.geteuid() == 0:
        os.chown(root / "mail", 65534, 65534)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = _free_port()
    config = root / "dovecot.conf"
    config.write_text(_config(root, port, tls))
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_for(port, process, root)
        yield Dovecot(port, root, tls=tls is not None, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def stalled(server: Dovecot) -> Iterator[None]:
    """Dovecot frozen (SIGSTOP to all its processes), as a hung or overloaded server is: the
    kernel still accepts connections on its port, and then nothing is ever said on them."""
    os.killpg(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(server.pid, signal.SIGCONT)


def _wait_for(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    for _ in range(200):
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited: {stderr}\n{log}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("dovecot did not start listening")
