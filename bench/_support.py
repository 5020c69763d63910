"""Shared by the benchmarks: latency summaries, machine notes, database setup, CPU meters."""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1/walletdesk_bench"


class BenchError(Exception):
    """A setup problem the user can fix (database down, bad flag): printed as one line."""


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


@dataclass(frozen=True, slots=True)
class Latencies:
    """Milliseconds of a set of timed operations."""

    values_ms: Sequence[float]

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (q in 0..100): the value at or below which q % of samples lie."""
        if not self.values_ms:
            return math.nan
        ordered = sorted(self.values_ms)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def max(self) -> float:
        return max(self.values_ms) if self.values_ms else math.nan


def machine_notes() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}: {os.cpu_count()} × {cpu}, "
        f"Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    min_widths: Sequence[int] = (),
) -> str:
    """A plain fixed-width table, numbers right-aligned; `min_widths` aligns rows printed apart."""
    text_rows = [[_cell(value) for value in row] for row in rows]
    padded = [*min_widths, *[0] * len(headers)][: len(headers)]
    widths = [max(len(h), w) for h, w in zip(headers, padded, strict=True)]
    for row in text_rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in text_rows:
        lines.append(
            "  ".join(
                c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)
            )
        )
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).lstrip("-").isdigit() or text == "-"


# --- CPU meters: who burnt the two cores during a phase ------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (0 if it is gone), from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw.rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man proc).
    return (int(fields[11]) + int(fields[12])) / _TICKS


def group_pids(pgid: int) -> list[int]:
    """Every live process in a process group (the server and its uvicorn workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (user+system+irq+steal)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def cpu_of(pids: Iterable[int]) -> dict[int, float]:
    return {pid: process_cpu_seconds(pid) for pid in pids}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots; processes that appeared count from zero."""
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def pg_connect_error(url: str, exc: BaseException) -> str:
    """One line saying why PostgreSQL could not be used, with what to do about it."""
    reason = str(getattr(exc, "orig", exc)).splitlines()[0] if str(exc) else type(exc).__name__
    database = url.rsplit("/", 1)[-1].split("?")[0]
    if "does not exist" in reason and database in reason:
        return (
            f"PostgreSQL database {database!r} does not exist ({reason}); create it with "
            f"`createdb -h 127.0.0.1 -U postgres {database}` or pass --pg-url"
        )
    return f"cannot reach PostgreSQL at {url}: {reason} (start it, or pass --pg-url)"


def asyncpg_dsn(url: str) -> str:
    """The libpq-style DSN asyncpg takes, from a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def check_postgres(url: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise BenchError(pg_connect_error(url, exc)) from None
    await conn.close()


async def recreate_pg_schema(url: str) -> None:
    """An empty schema migrated to head: DROP SCHEMA public CASCADE, then the real migrations."""
    import asyncpg

    from walletdesk.migrate import upgrade_async

    await check_postgres(url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    await upgrade_async(url)


async def pg_backend_pids(url: str) -> list[int]:
    """Server processes connected to this URL's database (the app's pool), ours excluded."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [int(row["pid"]) for row in rows]
