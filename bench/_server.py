"""A `walletdesk serve` the benchmark starts, waits for, measures and always stops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from types import TracebackType

import httpx
from _support import BenchError

READY_TIMEOUT_S = 90.0

# Every server started and not yet stopped, so an exit path that skips `stop` still kills it.
_running: set[int] = set()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`walletdesk serve --workers W` in its own process group, logging to a file."""

    def __init__(
        self,
        *,
        database_url: str,
        data_dir: Path,
        workers: int,
        port: int = 0,
        redis_url: str = "",
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.workers = workers
        self.port = port or free_port()
        self.redis_url = redis_url
        self.log_path = data_dir / f"server-{self.port}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        env = dict(os.environ)
        env.update(
            WALLETDESK_DATABASE_URL=self.database_url,
            WALLETDESK_DATA_DIR=str(self.data_dir),
            WALLETDESK_EMBEDDED_WORKER="false",
            WALLETDESK_REDIS_URL=self.redis_url,
            WALLETDESK_SECRET_KEY=secrets.token_urlsafe(32),
        )
        command = [
            sys.executable,
            "-c",
            "from walletdesk.cli import main; main()",
            "serve",
            "--workers",
            str(self.workers),
            "--port",
            str(self.port),
        ]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            # A session of its own: Ctrl-C in the terminal reaches only us, and stop() can
            # take down uvicorn's supervisor and its workers together by process group.
            self.process = await asyncio.create_subprocess_exec(
                *command,
                env=env,
                cwd=self.data_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        _running.add(self.process.pid)
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise BenchError(f"the server exited at start:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"{self.url}/readyz")
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.2)
        await self.stop()
        raise BenchError(
            f"the server was not ready after {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def first_error(self, lines: int = 12) -> str:
        """The end of the first error the server logged (its exception), or ''."""
        try:
            log = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        start = next((i for i, line in enumerate(log) if "ERROR" in line), None)
        if start is None:
            return ""
        block = [log[start]]
        for line in log[start + 1 :]:
            if line.startswith(("INFO", "WARNING", "ERROR")) or " INFO " in line:
                break
            block.append(line)
        return "\n".join([block[0], *block[1:][-lines:]])

    def status_counts(self) -> Counter[str]:
        """Lines the server logged by level, to spot errors it kept to itself."""
        counts: Counter[str] = Counter()
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                for level in ("ERROR", "Traceback"):
                    if level in line:
                        counts[level] += 1
        return counts

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        _kill_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            _kill_group(process.pid, signal.SIGKILL)
            await process.wait()
        _running.discard(process.pid)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_leftover_servers() -> None:
    """Last resort at interpreter exit (an exception escaped before `stop` could be awaited)."""
    for pgid in list(_running):
        _kill_group(pgid, signal.SIGKILL)
        _running.discard(pgid)


class PySpy:
    """py-spy sampling the server and its workers while a phase runs; writes folded stacks."""

    def __init__(self, binary: str, pid: int, out: Path, rate: int = 100) -> None:
        self.command = [
            binary,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",
            "--nolineno",
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(out),
        ]
        self.out = out
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> PySpy:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with self.out.with_suffix(".log").open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        _running.add(self.process.pid)
        await asyncio.sleep(1.0)  # let it attach before the phase starts
        return self

    async def __aexit__(self, *exc: object) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        # SIGINT makes py-spy stop sampling and write its output.
        _kill_group(process.pid, signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            _kill_group(process.pid, signal.SIGKILL)
            await process.wait()
        _running.discard(process.pid)


_PROCESS_FRAME = re.compile(r'process \d+:"[^"]*";?')
_LAYERS = (
    ("asyncpg (driver, C protocol)", ("asyncpg/",)),
    ("sqlalchemy", ("sqlalchemy/",)),
    ("fastapi/starlette/pydantic", ("fastapi/", "starlette/", "pydantic", "anyio/")),
    ("uvicorn/httptools", ("uvicorn/", "httptools", "h11/")),
    ("asyncio loop", ("asyncio/", "selectors.py", "threading.py")),
    ("walletdesk", ("walletdesk/",)),
    ("logging", ("logging/",)),
)


def summarise_folded(path: Path, top: int = 20) -> str:
    """Where the server spent its busy samples: by layer, by own time, by walletdesk function."""
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        log = path.with_suffix(".log")
        return f"(no profile at {path}; py-spy said: {log.read_text(errors='replace')[-500:]!r})"
    for line in lines:
        stack, _, count_text = _PROCESS_FRAME.sub("", line).rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        layers[_layer(frames[-1])] += count
        for frame in {f for f in frames if "walletdesk/" in f}:
            ours[frame] += count
    if not total:
        return "(the profile holds no samples)"
    out = [f"{total:,} samples of busy (non-idle) server threads; own time by layer:"]
    out += [f"  {c / total:6.1%}  {name}" for name, c in layers.most_common()]
    out.append(f"top {top} functions by own time (C extensions count toward their caller):")
    out += [f"  {c / total:6.1%}  {f}" for f, c in own.most_common(top)]
    out.append(f"top {top} walletdesk functions including callees:")
    out += [f"  {c / total:6.1%}  {f}" for f, c in ours.most_common(top)]
    return "\n".join(out)


def _layer(frame: str) -> str:
    for name, markers in _LAYERS:
        if any(marker in frame for marker in markers):
            return name
    return "other"


def _short(frame: str) -> str:
    """`func (path/to/site-packages/pkg/mod.py:12)` → `func (pkg/mod.py:12)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name
