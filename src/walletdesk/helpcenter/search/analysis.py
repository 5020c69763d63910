"""Turning folded text into search terms: the same pipeline for articles and queries.

Chinese runs are segmented by jieba in search mode (words and their dictionary sub-words)
with a wallet-domain user dictionary; English runs are split on letters and digits,
multi-word synonyms ("top up", "cash out") are recognised, and words are stemmed with the
Snowball English stemmer. Every term is then replaced by the canonical term of its synonym
group, so 汇款, 转钱, "transfer" and "send money" all become 转账 in the index and the query.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba  # type: ignore[import-untyped]
import snowballstemmer  # type: ignore[import-untyped]
from pypinyin import lazy_pinyin

from walletdesk.helpcenter.search.normalise import fold

DATA = Path(__file__).parent / "data"
MAX_PHRASE_WORDS = 4

_RUNS = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|([a-z0-9]+(?:'[a-z]+)?)")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

EN_STOPWORDS = frozenset(
    """a an the i i'm i've me my mine we our us you your he she him his her it its they them
    their is are was were be been being am do does did doing done to of in on at for with by
    from and or but if so as that this these those there here what which who whom how why
    when where can could would should will shall may might must have has had having not no
    yes please hi hello hey thanks thank just also about into over under again very too
    than then only some any all each both more most other such get got can't don't doesn't
    didn't won't isn't aren't wasn't it's what's how's there's let let's ok okay pls plz cant
    dont doesnt didnt wont isnt arent wasnt im ive whats hows theres u ur""".split()  # noqa: SIM905
)
ZH_STOPWORDS = frozenset(
    """的 了 吗 呢 吧 啊 呀 哦 嗯 哈 我 我的 我们 你 你们 您 他 她 它 他们 是 在 有 和 与 或 就 都
    也 还 要 会 能 可以 怎么 怎么办 怎样 如何 什么 为什么 为啥 咋 咋办 请问 请 一下 这个 那个
    这 那 个 把 被 给 让 对 么 啦 了吗 没有 能不能 可不 不能 是不是 怎么回事 回事 里 上 下 到
    之 着 过 又 再 很 太 好 想 该 应该 需要 帮 帮忙 一 些 已经 因为 所以 但是 然后
    如果 谢谢 哪 哪里 哪儿 在哪 在哪里 哪个 几 多少 多久 能否 一直 还是 呀 嘛 啥""".split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    latin: bool
    start: int
    end: int


def is_latin(term: str) -> bool:
    return _CJK.search(term) is None


class Analyzer:
    def __init__(self, synonyms_path: Path, dictionary_path: Path) -> None:
        self._stemmer = snowballstemmer.stemmer("english")
        self._jieba = jieba.Tokenizer()
        with dictionary_path.open("rb") as dictionary:  # jieba would leave the file open
            self._jieba.load_userdict(dictionary)
        self.canonical: dict[str, str] = {}
        self.phrases: dict[tuple[str, ...], str] = {}
        self.group_of: dict[str, set[str]] = {}
        self._load_synonyms(synonyms_path)

    # --- synonyms -----------------------------------------------------------------------

    def _load_synonyms(self, path: Path) -> None:
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            items = [fold(item).strip() for item in line.split("|") if item.strip()]
            if len(items) < 2:
                raise ValueError(f"{path.name} line {number}: a group needs two terms")
            head = items[0]
            canonical = head if not is_latin(head) else self._stem(head)
            surfaces = self.group_of.setdefault(canonical, set())
            for item in items:
                surfaces.add(item)
                words = [m.group(0) for m in re.finditer(r"[a-z0-9]+(?:'[a-z]+)?", item)]
                if not is_latin(item):
                    self.canonical.setdefault(item, canonical)
                    self._jieba.add_word(item, 3000)
                elif len(words) > 1:
                    self.phrases.setdefault(tuple(self._stem(w) for w in words), canonical)
                elif words:
                    self.canonical.setdefault(self._stem(words[0]), canonical)

    def _stem(self, word: str) -> str:
        return _stem(self._stemmer, word)

    # --- tokenising ---------------------------------------------------------------------

    def _words(self, folded: str) -> Iterator[_Word]:
        for match in _RUNS.finditer(folded):
            if match.group(1):
                base = match.start(1)
                for word, start, end in self._jieba.tokenize(match.group(1), HMM=False):
                    yield _Word(word, False, base + start, base + end)
            else:
                yield _Word(match.group(2), True, match.start(2), match.end(2))

    def _sub_words(self, word: str) -> list[str]:
        """Dictionary words inside a long word (银行卡 → 银行), so partial queries still match;
        a word the domain dictionary names as a synonym stays whole (支付宝 is not 支付)."""
        if len(word) <= 2 or word in self.canonical:
            return []
        found = []
        for size in (2, 3):
            for k in range(len(word) - size + 1):
                gram = word[k : k + size]
                if gram != word and self._jieba.FREQ.get(gram):
                    found.append(gram)
        return found

    def terms(self, text: str, *, folded: bool = False) -> list[str]:
        """The canonical terms of a text, in order (repeats kept: they are term frequency)."""
        return [term for term, _ in self.terms_with_words(text, folded=folded)]

    def terms_with_words(self, text: str, *, folded: bool = False) -> list[tuple[str, str]]:
        """(canonical term, the folded word or phrase it came from) pairs."""
        words = list(self._words(text if folded else fold(text)))
        out: list[tuple[str, str]] = []
        i = 0
        while i < len(words):
            word = words[i]
            i += 1
            if word.latin:
                matched = self._match_phrase(words, i - 1)
                if matched:
                    # The phrase ("top up" → 充值) and its own words both count, so a query
                    # with only part of the phrase, or a typo in it, still matches.
                    length, canonical = matched
                    phrase = words[i - 1 : i - 1 + length]
                    out.append((canonical, " ".join(w.text for w in phrase)))
                    for part in phrase:
                        if part.text not in EN_STOPWORDS:
                            stem = self._stem(part.text)
                            term = self.canonical.get(stem, stem)
                            if term != canonical:
                                out.append((term, part.text))
                    i += length - 1
                    continue
                if word.text in EN_STOPWORDS:
                    continue
                stem = self._stem(word.text)
                out.append((self.canonical.get(stem, stem), word.text))
                continue
            if word.text in ZH_STOPWORDS:
                continue
            canonical = self.canonical.get(word.text, word.text)
            seen = {canonical}
            for sub in self._sub_words(word.text):
                sub_canonical = self.canonical.get(sub, sub)
                if sub_canonical not in seen and sub not in ZH_STOPWORDS:
                    seen.add(sub_canonical)
                    out.append((sub_canonical, sub))
            out.append((canonical, word.text))
        return out

    def _match_phrase(self, words: list[_Word], i: int) -> tuple[int, str] | None:
        for length in range(MAX_PHRASE_WORDS, 1, -1):
            window = words[i : i + length]
            if len(window) < length or not all(w.latin for w in window):
                continue
            key = tuple(self._stem(w.text) for w in window)
            if key in self.phrases:
                return length, self.phrases[key]
        return None

    def latin_runs(self, text: str) -> list[list[str]]:
        """Consecutive English/pinyin words of a query, for joining "ti xian" into "tixian"."""
        runs: list[list[str]] = []
        current: list[str] = []
        previous_end = -2
        for word in self._words(fold(text)):
            if word.latin and word.start <= previous_end + 1 and current:
                current.append(word.text)
            else:
                if len(current) > 1:
                    runs.append(current)
                current = [word.text] if word.latin else []
            previous_end = word.end
        if len(current) > 1:
            runs.append(current)
        return runs

    def pinyin_of_words(self, text: str) -> Iterator[tuple[str, str]]:
        """(toneless pinyin, canonical term) for each Chinese word of two or more characters."""
        for word in self._jieba.cut(fold(text), HMM=False):
            if len(word) >= 2 and not is_latin(word) and word not in ZH_STOPWORDS:
                yield "".join(lazy_pinyin(word)), self.canonical.get(word, word)

    def stem(self, word: str) -> str:
        return self._stem(word)

    def surfaces(self, term: str) -> set[str]:
        """The folded strings that index as `term`, for highlighting."""
        return self.group_of.get(term, set()) | {term}


@lru_cache(maxsize=65536)
def _stem_cached(word: str) -> str:
    return _STEMMER.stemWord(word) if word.isalpha() else word


_STEMMER = snowballstemmer.stemmer("english")


def _stem(_stemmer: object, word: str) -> str:
    return _stem_cached(word)


@lru_cache(maxsize=1)
def get_analyzer() -> Analyzer:
    # jieba announces its dictionary loading on the root logger; it is not news.
    logging.getLogger("jieba").setLevel(logging.WARNING)
    jieba.setLogLevel(logging.WARNING)
    return Analyzer(DATA / "synonyms.txt", DATA / "wallet_dict.txt")
