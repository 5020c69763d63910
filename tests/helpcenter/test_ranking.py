"""Ranking on a small fixed corpus: Chinese segmentation, Traditional characters, synonyms,
mixed Chinese–English, pinyin, English typos, snippets, and hostile queries."""

from __future__ import annotations

import pytest

from walletdesk.helpcenter.search.documents import SearchDoc
from walletdesk.helpcenter.search.engine import SearchEngine
from walletdesk.helpcenter.search.snippet import highlight

CORPUS = [
    SearchDoc(1, 1, "unfreeze", "zh-CN", "账户被冻结了怎么办",
              "如果账户因为风险控制被冻结，可以在 App 里提交申诉，我们会在 3 个工作日内复核。",
              "账户与安全", ("解冻", "申诉"), ("账号被封了怎么解封",)),
    SearchDoc(2, 1, "transfer-missing", "zh-CN", "转账没到账",
              "转账通常实时到账。如果对方没有收到，请先核对收款人信息，再联系客服。",
              "转账", (), ("转钱给朋友对方说没收到",)),
    SearchDoc(3, 1, "withdraw-failed", "zh-CN", "提现失败怎么办",
              "提现失败时钱会退回余额。常见原因是银行卡已注销或户名不一致。", "充值与提现",
              (), ()),
    SearchDoc(4, 1, "contact", "zh-CN", "如何联系客服",
              "你可以通过在线客服、电话或邮件联系我们。", "联系我们", (), ()),
    SearchDoc(5, 1, "fees", "zh-CN", "手续费说明", "充值免费，提现每月前 1000 元免费。",
              "充值与提现", (), ()),
    SearchDoc(11, 1, "account-frozen", "en", "Why is my account frozen?",
              "We may freeze an account when we see unusual activity. Appeal in the app.",
              "Account", (), ("my wallet is locked",)),
    SearchDoc(12, 1, "top-up", "en", "How to top up your wallet",
              "Open the wallet, tap Top up and choose a linked bank card.", "Top-up", (), ()),
    SearchDoc(13, 1, "refund", "en", "Where is my refund?",
              "Refunds to a debit card take 1-5 business days.", "Payments", (), ()),
    SearchDoc(14, 1, "verify", "en", "Identity verification",
              "Upload a photo of your ID and do the face scan.", "Account", ("KYC",), ()),
]  # fmt: skip


@pytest.fixture(scope="module")
def engine() -> SearchEngine:
    return SearchEngine.build(CORPUS)


def top(engine: SearchEngine, query: str, locale: str) -> str | None:
    hits = engine.search(query, locale, 5)
    return hits[0].slug if hits else None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("账户被冻结了", "unfreeze"),  # plain Chinese, no spaces between words
        ("帳號被凍結了怎麼辦", "unfreeze"),  # Traditional characters (Hong Kong / Taiwan)
        ("号被封了", "unfreeze"),  # synonym: 封号 → 冻结
        ("汇款对方没收到", "transfer-missing"),  # synonym: 汇款 → 转账
        ("打钱没到帐", "transfer-missing"),  # colloquial + variant 帐
        ("找人工", "contact"),  # synonym: 人工 → 客服
        ("alipay 提现 失败", "withdraw-failed"),  # mixed Chinese and English
        ("取现 failed", "withdraw-failed"),  # English word matching Chinese through synonyms
        ("tixian shibai", "withdraw-failed"),  # pinyin typed for the Chinese words
        ("ti xian", "withdraw-failed"),  # pinyin with syllables apart
        ("手續費", "fees"),  # Traditional
        ("ＡＬＩＰＡＹ　提現", "withdraw-failed"),  # full-width letters and space, Traditional
    ],
)
def test_chinese_queries(engine: SearchEngine, query: str, expected: str) -> None:
    assert top(engine, query, "zh-CN") == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("account frozen", "account-frozen"),
        ("acount frozen", "account-frozen"),  # one typo
        ("my acount was suspnded", "account-frozen"),  # typos + synonym suspend → freeze
        ("how to recharge", "top-up"),  # synonym recharge → top up
        ("add money", "top-up"),  # multi-word synonym
        ("where is my refnd", "refund"),  # typo
        ("REFUNDS", "refund"),  # case and plural
        ("identity verifcation", "verify"),  # typo in a long word
        ("kyc", "verify"),
    ],
)
def test_english_queries(engine: SearchEngine, query: str, expected: str) -> None:
    assert top(engine, query, "en") == expected


def test_locale_keeps_results_apart(engine: SearchEngine) -> None:
    assert {h.locale for h in engine.search("frozen 冻结", "en", 10)} == {"en"}
    assert {h.locale for h in engine.search("frozen 冻结", "zh-CN", 10)} == {"zh-CN"}
    assert engine.search("冻结", "fr", 10) == []


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "!!!???…",
        "🙂🙂💸",
        '"',
        "*",
        '" OR "',
        "NEAR/3",
        "a" * 5000,
        "'; DROP TABLE x;--",
    ],
)
def test_hostile_queries_return_quietly(engine: SearchEngine, query: str) -> None:
    hits = engine.search(query, "en", 10)
    assert all(h.locale == "en" for h in hits)
    if not any(ch.isalnum() for ch in query):
        assert hits == []


def test_snippet_marks_matches_and_escapes_html() -> None:
    html, found = highlight("Use <b>Top up</b> & wait", {"top up"})
    assert found == 1
    assert "<mark>Top up</mark>" in html
    assert "&lt;b&gt;" in html and "&amp;" in html and "<b>" not in html


def test_snippet_highlights_the_original_traditional_text(engine: SearchEngine) -> None:
    hit = engine.search("冻结", "zh-CN", 1)[0]
    assert "<mark>冻结</mark>" in hit.snippet
    snippet, found = highlight("帳號被凍結了", {"冻结"})
    assert found == 1 and snippet == "帳號被<mark>凍結</mark>了"


def test_snippet_of_a_query_with_html_is_escaped(engine: SearchEngine) -> None:
    hits = engine.search("<script>alert(1)</script> frozen", "en", 3)
    assert hits and hits[0].slug == "account-frozen"
    assert "<script" not in hits[0].snippet
