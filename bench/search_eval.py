"""Search quality of the help center, measured through the HTTP search API.

    uv run python bench/search_eval.py                  # starts its own server (SQLite)
    uv run python bench/search_eval.py --url http://127.0.0.1:8000 --no-import
    uv run python bench/search_eval.py --skip-banking77 # only the wallet evaluation set

It imports a JSONL corpus (default: the articles shipped with WalletDesk) into the target's
database with `walletdesk kb import`, runs every query of bench/search/eval_queries.jsonl
through GET /api/v1/helpcenter/search, and prints hit@1, hit@3 and MRR per locale; then the
same figures for a plain baseline (BM25 over jieba tokens of the same articles, no synonyms,
no folding, no field boosts, no typo or pinyin handling, no semantic stage), computed here
in-process. Finally the Banking77 benchmark: each of the 77 intents of the training split
becomes an article whose similar questions are its first 10 examples, and every remaining
training example is a query (the test split is not used). Those queries are reported in
two halves as well: the ranking's weights were tuned on the first (even positions within
each intent, see bench/search_tune.py), the second is held out.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _support import fail, machine_notes, table

ROOT = Path(__file__).resolve().parent.parent
EVAL_QUERIES = ROOT / "bench" / "search" / "eval_queries.jsonl"
DEFAULT_CORPUS = ROOT / "src" / "walletdesk" / "helpcenter" / "content" / "default_articles.jsonl"
BANKING77 = ROOT.parent / "shared" / "eval" / "banking77" / "train.csv"
EXAMPLES_PER_INTENT = 10


@dataclass
class Scores:
    """hit@1, hit@3 and mean reciprocal rank (over the top 10) of a set of queries."""

    n: int = 0
    hit1: int = 0
    hit3: int = 0
    rr: float = 0.0
    misses: list[str] = field(default_factory=list)

    def add(self, ranked: Sequence[str], relevant: Iterable[str], query: str = "") -> None:
        wanted = set(relevant)
        rank = next((i for i, slug in enumerate(ranked[:10], 1) if slug in wanted), None)
        self.n += 1
        if rank is not None:
            self.rr += 1 / rank
            self.hit1 += rank == 1
            self.hit3 += rank <= 3
        if rank != 1 and query:
            self.misses.append(f"{query!r} → {list(ranked[:3])} (want {sorted(wanted)})")

    def row(self, label: str) -> list[object]:
        n = max(1, self.n)
        return [label, self.n, f"{self.hit1 / n:.3f}", f"{self.hit3 / n:.3f}", f"{self.rr / n:.3f}"]


# --- the plain baseline -------------------------------------------------------------------


class PlainBM25:
    """BM25 (k1=1.2, b=0.75) over jieba tokens of title + keywords + questions + body."""

    def __init__(self, docs: dict[str, str]) -> None:
        import jieba

        jieba.setLogLevel(60)
        self._cut = jieba.lcut
        self.slugs = list(docs)
        self.tokens = [self._tokens(text) for text in docs.values()]
        self.lengths = [len(t) for t in self.tokens]
        self.avg = sum(self.lengths) / max(1, len(self.lengths))
        self.tf = [Counter(t) for t in self.tokens]
        df: Counter[str] = Counter()
        for counts in self.tf:
            df.update(counts.keys())
        n = len(self.slugs)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def _tokens(self, text: str) -> list[str]:
        return [t for t in self._cut(text) if t.strip() and re.search(r"\w", t)]

    def rank(self, query: str, limit: int = 10) -> list[str]:
        terms = set(self._tokens(query))
        scored = []
        for i, counts in enumerate(self.tf):
            score = 0.0
            for term in terms:
                f = counts.get(term, 0)
                if f:
                    norm = 1.2 * (1 - 0.75 + 0.75 * self.lengths[i] / self.avg)
                    score += self.idf[term] * f * 2.2 / (f + norm)
            if score > 0:
                scored.append((score, i))
        scored.sort(reverse=True)
        return [self.slugs[i] for _, i in scored[:limit]]


def baseline_text(article: dict[str, object]) -> str:
    parts = [article["title"], *article.get("keywords", []), *article.get("questions", [])]  # type: ignore[misc]
    return "\n".join([*map(str, parts), str(article["body"])])


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`walletdesk serve` in a process group of its own, on a fresh SQLite data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "WALLETDESK_DATA_DIR": str(data_dir)}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            ["uv", "run", "walletdesk", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            fail(f"walletdesk {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout.strip()

    def start(self) -> None:
        self.cli("migrate")
        log = self.log.open("wb")
        self.process = subprocess.Popen(
            ["uv", "run", "walletdesk", "serve", "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_ready(self.url, self.process)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def wait_ready(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            fail(f"the server exited with code {process.returncode}; see its log")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    fail(f"no server answered at {url}")


def wait_index(client: httpx.Client, expected: int, semantic: bool) -> dict[str, object]:
    """Wait until the node serves `expected` articles (and its semantic stage, if wanted)."""
    deadline = time.monotonic() + 1800
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        status = client.get("/api/v1/helpcenter/status").json()
        count = sum(dict(status["articles"]).values())  # type: ignore[call-overload]
        if count >= expected and (not semantic or status["semantic"] != "building"):
            return status
        time.sleep(1)
    fail(f"the index did not become ready: {status}")
    return status


def search(client: httpx.Client, query: str, locale: str) -> list[str]:
    for _ in range(5):
        response = client.get(
            "/api/v1/helpcenter/search", params={"q": query, "locale": locale, "limit": 10}
        )
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code == 422:
            return []
        response.raise_for_status()
        return [hit["slug"] for hit in response.json()["results"]]
    fail("the server keeps answering 429: start it with WALLETDESK_HELPCENTER_RATE_PER_MINUTE=0")
    return []


# --- the evaluations ----------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def wallet_eval(client: httpx.Client, corpus: list[dict[str, object]], verbose: bool) -> None:
    queries = read_jsonl(EVAL_QUERIES)
    engine: dict[str, Scores] = defaultdict(Scores)
    plain: dict[str, Scores] = defaultdict(Scores)
    baselines = {
        locale: PlainBM25(
            {str(a["slug"]): baseline_text(a) for a in corpus if a["locale"] == locale}
        )
        for locale in {str(a["locale"]) for a in corpus}
    }
    by_kind: dict[str, Scores] = defaultdict(Scores)
    plain_by_kind: dict[str, Scores] = defaultdict(Scores)
    started = time.perf_counter()
    for q in queries:
        query, locale, relevant = str(q["query"]), str(q["locale"]), list(q["relevant"])  # type: ignore[call-overload]
        ranked = search(client, query, locale)
        engine[locale].add(ranked, relevant, query)
        kind = f"{locale} {q.get('kind', '')}"
        by_kind[kind].add(ranked, relevant)
        baseline_ranked = baselines[locale].rank(query)
        plain[locale].add(baseline_ranked, relevant)
        plain_by_kind[kind].add(baseline_ranked, relevant)
    elapsed = time.perf_counter() - started
    print(f"\nWallet evaluation set: {len(queries)} queries ({EVAL_QUERIES.relative_to(ROOT)})")
    rows = []
    for locale in sorted(engine):
        rows.append(engine[locale].row(f"WalletDesk search, {locale}"))
        rows.append(plain[locale].row(f"plain BM25 baseline, {locale}"))
    print(table(["engine", "queries", "hit@1", "hit@3", "MRR"], rows))
    print("\nBy kind of query: WalletDesk search against the plain baseline")
    kind_rows = []
    for kind in sorted(by_kind):
        ours, theirs = by_kind[kind].row(kind), plain_by_kind[kind].row(kind)
        kind_rows.append([*ours[:3], ours[4], theirs[2], theirs[4]])
    print(table(["locale kind", "queries", "hit@1", "MRR", "plain hit@1", "plain MRR"], kind_rows))
    print(f"({elapsed:.1f} s for the API queries and the baseline together)")
    if verbose:
        for locale in sorted(engine):
            for miss in engine[locale].misses:
                print(f"  miss {locale}: {miss}")


def tuning_half(queries: Sequence[tuple[str, str]]) -> list[bool]:
    """Per Banking77 query, whether it is in the half the ranking was tuned on: the even
    positions among its intent's queries."""
    seen: dict[str, int] = {}
    flags = []
    for _, slug in queries:
        seen[slug] = seen.get(slug, -1) + 1
        flags.append(seen[slug] % 2 == 0)
    return flags


def banking77_corpus(path: Path) -> tuple[list[dict[str, object]], list[tuple[str, str]]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["category"]].append(row["text"])
    articles, queries = [], []
    for intent, texts in sorted(by_intent.items()):
        slug = re.sub(r"[^a-z0-9]+", "-", intent.lower()).strip("-")
        articles.append(
            {
                "slug": f"b77-{slug}",
                "locale": "en",
                "title": intent.replace("_", " ").capitalize(),
                "body": intent.replace("_", " ").capitalize() + ".",
                "category": "Banking77",
                "questions": texts[:EXAMPLES_PER_INTENT],
            }
        )
        queries.extend((text, f"b77-{slug}") for text in texts[EXAMPLES_PER_INTENT:])
    return articles, queries


def banking77_eval(server_env: dict[str, str], limit: int | None, semantic: bool) -> None:
    if not BANKING77.exists():
        print(f"\nBanking77: {BANKING77} not found; skipped")
        return
    articles, queries = banking77_corpus(BANKING77)
    tuned = tuning_half(queries)
    if limit:
        step = max(1, len(queries) // limit)
        queries, tuned = queries[::step][:limit], tuned[::step][:limit]
    with tempfile.TemporaryDirectory(prefix="b77-") as tmp:
        data = Path(tmp)
        corpus = data / "banking77.jsonl"
        corpus.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
        server = Server(data, server_env)
        try:
            server.start()
            print(f"\nBanking77: {server.cli('kb', 'import', str(corpus))}")
            with httpx.Client(base_url=server.url, timeout=60) as client:
                status = wait_index(client, len(articles), semantic)
                engine, plain = Scores(), Scores()
                halves = {True: Scores(), False: Scores()}
                baseline = PlainBM25({str(a["slug"]): baseline_text(a) for a in articles})
                started = time.perf_counter()
                for (text, slug), tune in zip(queries, tuned, strict=True):
                    ranked = search(client, text, "en")
                    engine.add(ranked, [slug])
                    halves[tune].add(ranked, [slug])
                    plain.add(baseline.rank(text), [slug])
                elapsed = time.perf_counter() - started
        finally:
            server.stop()
    print(
        f"{len(articles)} intents × {EXAMPLES_PER_INTENT} similar questions; "
        f"{len(queries)} queries; semantic stage: {status['semantic']}"
    )
    print(
        table(
            ["engine", "queries", "hit@1", "hit@3", "MRR"],
            [
                engine.row("WalletDesk search, all queries"),
                halves[True].row("  tuning half (weights chosen on it)"),
                halves[False].row("  held-out half"),
                plain.row("plain BM25 baseline"),
            ],
        )
    )
    print(
        f"({elapsed:.1f} s, {1000 * elapsed / max(1, len(queries)):.1f} ms a query with baseline)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="a running server; the corpus is imported with this environment's settings"
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL articles")
    parser.add_argument("--no-import", action="store_true", help="the target has the corpus")
    parser.add_argument("--lexical", action="store_true", help="turn the semantic stage off")
    parser.add_argument("--skip-banking77", action="store_true")
    parser.add_argument("--skip-wallet", action="store_true", help="only Banking77")
    parser.add_argument("--banking77-limit", type=int, help="evaluate this many B77 queries")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args()
    semantic = not args.lexical
    env = {
        "WALLETDESK_HELPCENTER_RATE_PER_MINUTE": "0",
        "WALLETDESK_HELPCENTER_SEMANTIC": "1" if semantic else "0",
        "WALLETDESK_EMBEDDED_WORKER": "false",
        "WALLETDESK_DATABASE_URL": "",
        "WALLETDESK_REDIS_URL": "",
    }
    print(f"Help-center search evaluation — {machine_notes()}")
    corpus = read_jsonl(args.corpus)
    if args.skip_wallet:
        pass
    elif args.url:
        if not args.no_import:
            # The server's database is the one this environment's WALLETDESK_* points at.
            done = subprocess.run(
                ["uv", "run", "walletdesk", "kb", "import", str(args.corpus)],
                cwd=ROOT, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode:
                fail(f"walletdesk kb import: {done.stderr.strip()}")
            print(done.stdout.strip())
        wait_ready(args.url)
        with httpx.Client(base_url=args.url, timeout=60) as client:
            wait_index(client, 1, semantic=False)
            wallet_eval(client, corpus, args.verbose)
    else:
        with tempfile.TemporaryDirectory(prefix="hc-eval-") as tmp:
            server = Server(Path(tmp), env)
            try:
                server.start()
                print(server.cli("kb", "import", str(args.corpus)))
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    status = wait_index(client, len(corpus), semantic)
                    print(f"semantic stage: {status['semantic']}")
                    wallet_eval(client, corpus, args.verbose)
            finally:
                server.stop()
    if not args.skip_banking77:
        banking77_eval(env, args.banking77_limit, semantic)


if __name__ == "__main__":
    main()
