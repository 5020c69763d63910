"""Made-up but plausible ticket text for a wallet's support desk, in zh-CN and en."""

from __future__ import annotations

import random

# (weight, subject template); {amount}, {bank} and {order} are filled per ticket.
SUBJECTS: list[tuple[float, str]] = [
    (14, "转账未到账 {amount}元"),
    (10, "提现失败，银行卡{bank}"),
    (8, "账户被冻结，无法登录"),
    (8, "Refund not received for order {order}"),
    (7, "银行卡绑定失败"),
    (6, "实名认证一直审核中"),
    (6, "Payment failed at checkout, charged {amount} CNY"),
    (5, "手续费扣多了 {amount}元"),
    (5, "I forgot my payment password"),
    (5, "收到陌生短信说我的账户异常"),
    (4, "Transfer to {bank} stuck in processing"),
    (4, "二维码收款没有到账"),
    (3, "Account frozen after password reset"),
    (3, "投诉：客服处理太慢"),
    (3, "Cannot bind my card, error 1043"),
    (2, "Identity verification rejected"),
    (2, "Suspected fraud: unknown login from a new device"),
    (2, "红包退回时间"),
    # Rare on purpose: searching for it shows the cost of a selective subject search.
    (0.05, "Chargeback dispute with merchant ledger mismatch"),
]
RARE_SUBJECT_WORD = "ledger"
COMMON_SUBJECT_WORD = "转账"
# In no subject at all: the search has to read every ticket to say so.
ABSENT_SUBJECT_WORD = "xyzzy"

BANKS = ["工商银行", "建设银行", "招商银行", "农业银行", "中国银行", "ICBC", "HSBC", "Citi"]

BODIES = [
    "我昨天转了{amount}元给朋友，到现在对方还没收到，请帮忙查一下。",
    "Hi, I paid {amount} CNY yesterday and the merchant says they got nothing. Please check.",
    "登录时提示账户已冻结，我没有做过任何违规操作，请尽快处理。",
    "The app keeps saying my card cannot be bound. I tried three times today.",
    "提现到{bank}的钱显示成功了，但是银行卡没有收到。",
    "我的实名认证提交三天了还在审核，什么时候能好？",
]

_SUBJECT_WEIGHTS = [w for w, _ in SUBJECTS]
_SUBJECT_TEMPLATES = [t for _, t in SUBJECTS]


def subject(rng: random.Random) -> str:
    template = rng.choices(_SUBJECT_TEMPLATES, weights=_SUBJECT_WEIGHTS)[0]
    return fill(template, rng)


def body(rng: random.Random) -> str:
    return fill(rng.choice(BODIES), rng)


def fill(template: str, rng: random.Random) -> str:
    if "{" not in template:
        return template
    return template.format(
        amount=rng.choice((50, 88, 200, 500, 1000, 1314, 2000, 5000)),
        bank=rng.choice(BANKS),
        order=rng.randrange(10_000_000, 99_999_999),
    )


def phone(rng: random.Random) -> str:
    middle, last = rng.randrange(0, 10_000), rng.randrange(0, 10_000)
    return f"+86 13{rng.randrange(0, 10)} {middle:04d} {last:04d}"
