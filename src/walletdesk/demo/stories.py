"""The demo's cast and script: agents, customers and two weeks of wallet-support stories.

Written for WalletDesk's demo: about two thirds in Chinese, one third in English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from walletdesk.core.agents.models import Role
from walletdesk.core.contacts.service import SenderIdentity
from walletdesk.core.tickets.models import Category, Priority, Status

DEMO_PASSWORD = "walletdesk-demo"

ZH = "zh-CN"
EN = "en"


@dataclass(frozen=True, slots=True)
class DemoAgent:
    key: str
    email: str
    name: str
    role: Role
    tier: int
    locale: str


# The admin comes first in the printed list but is created last (see the module docstring).
DEMO_AGENTS = (
    DemoAgent("admin", "admin@walletdesk.test", "Demo Admin", Role.ADMIN, 3, EN),
    DemoAgent("sup", "supervisor@walletdesk.test", "周敏", Role.SUPERVISOR, 1, ZH),
    DemoAgent("zh", "li.wei@walletdesk.test", "李伟", Role.AGENT, 1, ZH),
    DemoAgent("en", "emma.clark@walletdesk.test", "Emma Clark", Role.AGENT, 1, EN),
    DemoAgent("l2", "chen.hao@walletdesk.test", "陈浩", Role.AGENT, 2, ZH),
    DemoAgent("l3", "grace.lin@walletdesk.test", "Grace Lin", Role.AGENT, 3, EN),
)
ADMIN = DEMO_AGENTS[0]


@dataclass(frozen=True, slots=True)
class Person:
    """A demo customer: the identity they write from, and others they gave (linked to them)."""

    name: str
    kind: str
    value: str
    also: tuple[tuple[str, str], ...] = ()

    @property
    def sender(self) -> SenderIdentity:
        return SenderIdentity(self.kind, self.value, self.name)

    @property
    def also_known_as(self) -> tuple[SenderIdentity, ...]:
        return tuple(SenderIdentity(kind, value, self.name) for kind, value in self.also)


@dataclass(frozen=True, slots=True)
class Via:
    """A customer message arriving on another channel than the ticket's."""

    channel: str
    person: Person
    subject: str = ""


@dataclass(frozen=True, slots=True)
class Turn:
    act: Literal["say", "reply", "note", "escalate"]
    text: str
    by: str = ""  # agent key; empty for the customer
    gap: int = 0  # minutes after the previous turn
    via: Via | None = None


def say(text: str, gap: int = 0, via: Via | None = None) -> Turn:
    return Turn("say", text, gap=gap, via=via)


def reply(by: str, text: str, gap: int = 9) -> Turn:
    return Turn("reply", text, by=by, gap=gap)


def note(by: str, text: str, gap: int = 3) -> Turn:
    return Turn("note", text, by=by, gap=gap)


def escalate(by: str, reason: str, gap: int = 4) -> Turn:
    return Turn("escalate", reason, by=by, gap=gap)


@dataclass(frozen=True, slots=True)
class Story:
    """One ticket's life. `{ticket}` in a text is this ticket's number, `{ticket:key}` another's."""

    key: str
    locale: str
    channel: str
    person: Person
    hours_ago: float
    turns: tuple[Turn, ...]
    status: Status
    # Set at triage; None keeps what intake chose.
    priority: Priority | None = None
    category: Category | None = None
    subject: str = ""
    assignee: str | None = None
    tags: tuple[str, ...] = ()
    intake_category: Category | None = None  # chosen by the customer (chat topic, app form)
    intake_priority: Priority | None = None
    public: bool = False


def _p(name: str, kind: str, value: str, *also: tuple[str, str]) -> Person:
    return Person(name, kind, value, also)


S, P, C = Status, Priority, Category

# Written for the demo: about two thirds in Chinese, one third in English, in the order the
# stories are played (a story quoting another's ticket number comes after it). Laid out by
# hand, one story per block, so the formatter leaves this table alone.
# fmt: off
STORIES: tuple[Story, ...] = (
    Story(
        "frozen-new-device", ZH, "webchat",
        _p("王芳", "webchat", "wc-v-5c1e90", ("email", "wangfang88@example.cn")), 75,
        (
            say("你好，我的钱包今天早上突然提示“账户已被限制，暂时无法付款”，余额里还有3200多元。"
                "我什么都没做啊，这是怎么回事？"),
            reply("zh", "您好，我是客服李伟。系统看到您的账户昨晚在一台新手机上登录，并随即尝试大额"
                  "转出，风控为了保护资金做了临时限制。请在App里完成一次人脸核验："
                  "我的 → 安全中心 → 身份核验，完成后在这里告诉我。"),
            say("做好了，人脸已经通过。新手机是我自己刚换的。", gap=14),
            note("zh", "风控后台核验通过，新设备确认为本人。已提交解限，预计2小时内生效。"),
            reply("zh", "已为您提交解除限制，一般2小时内生效，生效后会有短信通知。"
                  "如果到时仍无法付款，直接回复这个对话即可。", gap=4),
        ),
        S.SOLVED, P.HIGH, C.ACCOUNT_FROZEN, assignee="zh", tags=("risk-control",),
    ),
    Story(
        "recycled-number", ZH, "webchat",
        _p("刘洋", "webchat", "wc-v-a83f12", ("email", "liuyang.sh@example.cn")), 270,
        (
            say("前天晚上给朋友转了1500元，页面显示“转账成功”，但朋友说一直没收到。"
                "我是输入他的手机号转的。"),
            reply("zh", "您好，麻烦告诉我转账的大概时间和对方手机号的后四位，我帮您查一下。"),
            say("晚上9点40左右，对方手机号尾号8821。", gap=6),
            note("zh", "流水显示入账到尾号8821的钱包账户，但该账户实名与客户朋友不符，"
                 "疑似运营商二次放号，旧号主的账户仍绑定着这个号码。"),
            escalate("zh", "疑似二次放号：资金进入旧号主账户，需技术侧核查账户归属并发起退回"),
            reply("l2", "您好，我是技术支持陈浩。核查结果：这个手机号已被运营商重新分配，"
                  "您的1500元进入了原号主的旧账户，并且没有被使用。我们已冻结这笔资金并发起退回，"
                  "1到3个工作日会回到您的余额。", gap=180),
            say("好的，谢谢你们。", gap=25),
        ),
        S.CLOSED, P.HIGH, C.TRANSFER_REFUND, assignee="l2", tags=("recycled-number",),
    ),
    Story(
        "recycled-number-email", ZH, "email",
        _p("刘洋", "email", "liuyang.sh@example.cn"), 40,
        (
            say("你好，之前在在线客服反馈的转账问题（工单号 {ticket:recycled-number}），"
                "客服说1到3个工作日退回，现在已经一个多星期了，余额里还是没有这1500元。"
                "麻烦再帮我查一下。"),
            note("zh", "关联原工单（已关闭）。退回指令状态：清算机构处理中，上游延迟。"),
            reply("zh", "刘先生您好，已查到原工单的记录。退款指令已经发出，"
                  "目前停在清算机构处理环节，我们已经催办，预计明天内到账，"
                  "到账后会邮件通知您。", gap=12),
        ),
        S.ON_HOLD, P.HIGH, C.TRANSFER_REFUND,
        subject="Re: 转账退回还没到账", assignee="zh", tags=("follow-up", "bank-delay"),
    ),
    Story(
        "qr-charged-twice", ZH, "webchat", _p("张伟", "webchat", "wc-v-7d20b4"), 26,
        (
            say("在超市扫码付款，提示“支付失败”，可是银行卡被扣了268.50元，超市说没收到钱。"),
            reply("zh", "您好，这种情况一般是银行已经扣款，但支付结果没有及时回传。系统会在24小时内"
                  "自动对账，如果交易最终失败，钱会原路退回银行卡。请告诉我付款时间和商户名称。"),
            say("今天中午12点15分左右，永辉超市。", gap=5),
            note("zh", "交易状态：处理中，银行侧已扣款，等待银行对账文件。"),
            reply("zh", "查到了，这笔交易正在等银行的对账结果。我们会跟进，有结果第一时间告诉您，"
                  "不需要重复付款。", gap=6),
        ),
        S.ON_HOLD, category=C.PAYMENT_FAILED, assignee="zh", tags=("bank-delay",),
        intake_category=C.PAYMENT_FAILED,
    ),
    Story(
        "topup-voicemail", ZH, "phone", _p("陈静", "phone", "+8613912345678"), 0.7,
        (
            say("（语音留言转写）喂你好，我用建设银行卡给钱包充值500块，银行短信说扣款成功了，"
                "但钱包余额一直没变，已经两个小时了，麻烦回电话给我，谢谢。"),
        ),
        S.NEW,
    ),
    Story(
        "withdraw-rare-name", ZH, "email",
        _p("黄堃", "email", "huangkun.hz@example.cn"), 50,
        (
            say("周一提现了5000元到招商银行卡，页面写着次日到账，现在第三天了状态还是“处理中”。"
                "请尽快处理。"),
            reply("zh", "黄先生您好，查到这笔提现被银行退回，原因是银行卡户名与钱包实名信息不一致。"
                  "5000元已经退回您的钱包余额。请确认绑定的是本人同名银行卡后重新发起提现。"),
            say("钱回来了。但我名字里有个“堃”字，之前绑卡就一直提示姓名不符，卡确实是我本人的，"
                "怎么办？", gap=95),
            escalate("zh", "生僻字姓名导致银行户名校验失败，需技术侧人工核验并处理"),
        ),
        S.OPEN, P.HIGH, C.CARD_BINDING, subject="提现三天没到账", tags=("rare-character",),
    ),
    Story(
        "credit-card-unsupported", ZH, "webchat", _p("赵敏", "webchat", "wc-v-19ce44"), 120,
        (
            say("绑定信用卡一直提示“该卡暂不支持”，是工商银行的信用卡。"),
            reply("zh", "您好，钱包支持工商银行信用卡。提示“暂不支持”通常是卡片没有开通快捷支付"
                  "（无卡支付）功能，请联系工行开通后再试。"),
            say("打电话开通了，现在绑上了，谢谢！", gap=40),
        ),
        S.SOLVED, P.LOW, C.CARD_BINDING, assignee="zh", intake_category=C.CARD_BINDING,
    ),
    Story(
        "kyc-new-id-card", ZH, "webchat",
        _p("孙丽", "webchat", "wc-v-e2b807", ("phone", "+8613687654321")), 60,
        (
            say("实名认证被驳回了三次，都说“证件照片不清晰”，我拍得很清楚啊。"),
            reply("zh", "您好，请确认：1. 身份证在有效期内；2. 拍摄时没有反光，四个角完整；"
                  "3. 不要用截图或翻拍。如果还是不通过，回复这里，我们转人工审核。"),
            say("还是不行。身份证是新换的，上周刚拿到。", gap=30),
            note("zh", "OCR读出的新证有效期起始日期与公安数据不一致，疑似新证信息尚未同步。"),
            escalate("zh", "新换身份证信息未同步，OCR多次驳回，需要人工审核通道"),
            reply("l2", "您好，我是技术支持陈浩。已为您开通人工审核，请在App里重新提交一次证件，"
                  "我们会在24小时内完成审核。", gap=120),
            say("（语音留言转写）你好，我是在线客服工单 {ticket} 的用户。按你们说的重新提交了，"
                "App一直显示“审核中”，已经一天了，能快一点吗？",
                gap=1500, via=Via("phone", _p("孙丽", "phone", "+8613687654321"))),
            note("l2", "客户来电催办（同一联系人，手机号已关联）。已请审核组今天内处理。"),
        ),
        S.OPEN, P.HIGH, C.IDENTITY_VERIFICATION, assignee="l2", tags=("kyc", "manual-review"),
    ),
    Story(
        "takeover-guangzhou", ZH, "phone", _p("周建国", "phone", "+8613722223333"), 20,
        (
            say("（来电记录）客户称刚收到短信提示账户在广州登录，本人在北京，从没去过广州。"
                "余额还有两万多元，要求立即冻结账户。"),
            note("zh", "已按客户要求临时冻结账户。登录设备：安卓手机，IP属地广州。"),
            reply("zh", "周先生您好，已按您的要求临时冻结账户，任何人都无法转出资金。请尽快修改"
                  "登录密码和支付密码，并在“安全中心 → 登录设备”里移除不认识的设备。", gap=2),
            escalate("zh", "疑似账户被盗（异地登录），需安全团队排查是否有资金损失"),
            say("你好，我是周建国的爱人，工单号 {ticket}。他在出差不方便打电话，"
                "麻烦把账户最近的交易明细发到这个邮箱给我看一下。", gap=200,
                via=Via("email", _p("吴倩", "email", "wuqian.home@example.cn"),
                        "工单 {ticket} 账户被盗")),
            note("l2", "上一封邮件的发件人不是本工单的联系人，系统已标记为发件人不符。"
                 "未透露任何账户信息，等客户本人确认。"),
            note("l2", "登录后没有转出交易，可疑设备已移除，密码疑似在其他网站泄露后被撞库。"),
        ),
        S.OPEN, P.URGENT, C.FRAUD_SECURITY, assignee="l2", tags=("account-takeover",),
    ),
    Story(
        "fake-cs-sms-code", ZH, "webchat", _p("马婷", "webchat", "wc-v-33a9f1"), 98,
        (
            say("有人自称是你们的客服打电话给我，说我开通了“百万保障”每月要扣费，要关闭就得把"
                "短信验证码告诉他。我已经告诉他一个验证码了，现在怎么办？"),
            reply("zh", "请立即停止与对方联系！我们的客服绝不会索要短信验证码或支付密码，也不会让您"
                  "转账去“关闭服务”。我们已为您临时冻结账户，防止资金被转走，请马上修改支付密码。"
                  "目前您的账户没有异常交易。", gap=2),
            say("好的，密码改了。对方号码是170开头的，还让我下载一个会议软件。", gap=8),
            note("zh", "已冻结，无资金损失。对方号码与会议软件诱导已上报反诈平台。"),
            reply("zh", "谢谢您及时联系我们。请卸载那个会议软件，它可能会共享您的屏幕。"
                  "需要解冻时，回复这里并完成一次人脸核验即可。", gap=5),
        ),
        S.SOLVED, P.URGENT, C.FRAUD_SECURITY, assignee="zh",
        tags=("scam-report", "fake-customer-service"),
    ),
    Story(
        "withdraw-fee", ZH, "email", _p("郑强", "email", "zhengqiang@example.com"), 190,
        (
            say("为什么提现到银行卡要收0.1%的手续费？以前是免费的。我这次提现1万元被扣了10元。"),
            reply("zh", "郑先生您好，每位用户累计有2万元免费提现额度，超出部分按0.1%收取服务费，"
                  "最低0.1元。您的免费额度上个月已经用完，所以这次收取了10元。剩余额度可以在"
                  "“我的 → 费用说明”里查看。"),
            say("明白了，谢谢。", gap=300),
        ),
        S.CLOSED, P.LOW, C.FEES, subject="提现手续费", assignee="zh",
    ),
    Story(
        "complaint-frozen-rent", ZH, "email", _p("何静怡", "email", "hejingyi@example.cn"), 30,
        (
            say("投诉：我的账户被无故冻结一周，这期间房租都付不了，打客服电话一直排队，问题到现在"
                "也没解决。如果今天再不处理，我就向人民银行投诉。"),
            escalate("zh", "客户提出正式投诉并提到向监管投诉，按流程转投诉处理"),
            escalate("l2", "不是技术问题：冻结申诉与投诉由L3投诉组负责", gap=20),
            reply("l3", "何女士您好，我是投诉处理专员 Grace Lin（林雅）。非常抱歉给您带来不便。"
                  "您的投诉已正式受理，我已调阅账户记录并联系风控加急复核，今天下班前会给您明确答复。",
                  gap=25),
            note("l3", "冻结来自反洗钱模型：短时间内多笔收款，实为合租室友转房租。"
                 "已请风控加急复核。"),
            note("sup", "请今天内回复客户，复核结果出来后抄送我。", gap=10),
        ),
        S.ON_HOLD, P.URGENT, C.COMPLAINT, subject="投诉：账户无故冻结一周", assignee="l3",
        tags=("formal-complaint", "监管投诉"),
    ),
    Story(
        "refund-went-to-card", ZH, "webchat", _p("林晓", "webchat", "wc-v-4410aa"), 140,
        (
            say("网上买的东西商家同意退款了，说已经退了，但钱包里没看到这笔钱。"
                "订单号 4200001956202611183312。"),
            reply("zh", "您好，查到商家昨天已发起退款198元。因为您当时用的是银行卡付款，退款会原路"
                  "退回尾号6217的银行卡，一般1到5个工作日到账，不会退到钱包余额。"),
            say("哦原来是退到卡里，那我再等等，谢谢。", gap=4),
        ),
        S.SOLVED, category=C.TRANSFER_REFUND, assignee="zh",
    ),
    Story(
        "pay-code-spinning", ZH, "webchat", _p("高远", "webchat", "wc-v-90d1c2"), 0.2,
        (say("你好，我的付款码打不开了，一直在转圈，排队等着结账呢。"),),
        S.NEW, intake_priority=P.HIGH,
    ),
    Story(
        "close-account", ZH, "email", _p("冯雪", "email", "fengxue@example.cn"), 3,
        (say("我想注销钱包账户，余额已经全部转出了，请问怎么操作？注销后我的交易记录还能查吗？"),),
        S.NEW, subject="申请注销账户",
    ),
    Story(
        "wrong-recipient", ZH, "webchat", _p("唐浩", "webchat", "wc-v-b7f0e3"), 4,
        (
            say("转账给我妈妈转错人了！刚转的800元，对方名字不认识，能撤回吗？"),
            reply("zh", "您好，转账到账后我们无法直接撤回，但可以帮您联系收款方协商退回。请提供："
                  "转账时间、对方显示的姓名，以及您和对方是否有过往来。", gap=3),
        ),
        S.PENDING, P.HIGH, C.TRANSFER_REFUND, assignee="zh",
    ),
    Story(
        "usdt-not-credited", ZH, "telegram", _p("许文", "telegram", "6012345678"), 30,
        (
            say("你好，我昨天从钱包提了1200 USDT（TRC20）到一个交易所，链上已经确认了，"
                "但交易所一直没到账。TxID 7f3c2a9be41d0c55e91a"),
            reply("zh", "您好，这笔提币在链上已经确认，资金已离开钱包。"
                  "交易所未到账，通常是充值地址的网络选择或者备注（Memo）的问题，请把TxID提供给交易所客服。"
                  "如果交易所需要我们出具转出证明，回复这里即可。"),
        ),
        S.PENDING, category=C.TRANSFER_REFUND, assignee="zh", tags=("crypto",),
    ),
    Story(
        "seed-phrase-stolen", ZH, "telegram", _p("罗斌", "telegram", "5829304711"), 52,
        (
            say("有个群里的“官方客服”说要给我的账户升级，让我把助记词发给他，我发了，"
                "然后钱包里的币全没了！"),
            reply("zh", "非常抱歉您遭遇诈骗。我们的客服永远不会索要助记词或私钥。链上转账确认后无法"
                  "撤回，我们会追踪资金去向并协调交易所冻结。请立即报警并保留聊天记录，警方的"
                  "立案回执能帮助交易所冻结资金。", gap=3),
            escalate("zh", "助记词泄露导致资产被盗，需安全团队追踪链上资金并协调交易所冻结"),
            note("l2", "资金已流入某交易所热钱包，已发送冻结请求，等待交易所回复。", gap=90),
        ),
        S.ON_HOLD, P.URGENT, C.FRAUD_SECURITY, assignee="l2",
        tags=("scam-report", "seed-phrase"),
    ),
    Story(
        "raise-transfer-limit", ZH, "webchat", _p("谢娜", "webchat", "wc-v-6ad215"), 9,
        (
            say("单笔转账限额5000怎么提高？我要给装修公司付3万。"),
            reply("zh", "您好，转账限额和账户的实名等级有关。升级到最高等级需要绑定一张本人的"
                  "一类银行卡并完成人脸核验，之后单日限额为5万元。路径：我的 → 账户等级。"),
            say("好的，我去试试。", gap=3),
        ),
        S.PENDING, category=C.IDENTITY_VERIFICATION, assignee="zh", tags=("limits",),
    ),
    Story(
        "auto-debit-membership", ZH, "email", _p("韩梅", "email", "hanmei@example.cn"), 110,
        (
            say("每个月都被自动扣25元“会员服务费”，我从来没开通过！"),
            reply("zh", "韩女士您好，这是某视频App通过免密支付发起的自动续费扣款。"
                  "可以在“我的 → 设置 → 免密支付/自动扣款”里关闭。"
                  "如果不是您本人授权的，我们可以帮您向商户申请退款。"),
            say("看到了，是我儿子用我手机开的……能退吗？", gap=70),
            reply("zh", "已为您向商户提交最近3个月共75元的退款申请，商户一般7个工作日内处理，"
                  "自动续费也已经关闭。", gap=15),
        ),
        S.ON_HOLD, category=C.TRANSFER_REFUND, subject="莫名其妙的自动扣费", assignee="zh",
        tags=("auto-debit",),
    ),
    Story(
        "merchant-settlement", ZH, "email",
        _p("曹记面馆 曹磊", "email", "caoji.noodles@example.cn"), 150,
        (
            say("我们店用你们的商户收款，T+1结算，今天的款到现在还没到账，影响给员工发工资。"),
            escalate("zh", "商户结算批次未到账，需清算侧核查"),
            reply("l2", "曹老板您好，昨日的结算批次因合作银行系统维护延迟，已于今天14:00重新发起，"
                  "预计18:00前到账。给您添麻烦了。", gap=50),
            say("到账了，谢谢。", gap=240),
        ),
        S.SOLVED, P.HIGH, C.PAYMENT_FAILED, subject="商户结算款未到账", assignee="l2",
        tags=("merchant", "settlement"),
    ),
    Story(
        "balance-shows-zero", ZH, "api", _p("邓宇", "email", "dengyu@example.cn"), 16,
        (
            say("余额显示为0，但交易明细里最后一笔是收入350元，钱去哪了？"),
            reply("zh", "您好，余额显示为0是App 5.2.1版本的缓存问题，您的资金安全无损。"
                  "请下拉刷新，或者更新到5.2.2版本。"),
        ),
        S.SOLVED, P.HIGH, assignee="zh", subject="App内反馈：余额显示异常", tags=("app-bug",),
        intake_category=C.PAYMENT_FAILED, intake_priority=P.HIGH,
    ),
    Story(
        "id-photo-upload", ZH, "api", _p("彭丽", "phone", "+8615900159000"), 1.5,
        (say("上传身份证照片一直失败，提示“网络异常”，换了WiFi和4G都一样。"),),
        S.NEW, subject="App内反馈：无法上传身份证照片",
        intake_category=C.IDENTITY_VERIFICATION,
    ),
    Story(
        "fee-invoice", ZH, "email", _p("蒋涛", "email", "jiangtao@example.com.cn"), 300,
        (
            say("请问提现手续费可以开发票吗？需要开公司抬头。"),
            reply("zh", "蒋先生您好，可以的。请在“我的 → 费用说明 → 申请发票”里填写抬头和税号，"
                  "电子发票会在3个工作日内发到您的邮箱。"),
            say("已经收到发票了，谢谢。", gap=2000),
        ),
        S.CLOSED, P.LOW, C.FEES, subject="手续费发票", assignee="zh",
    ),
    Story(
        "overseas-chargeback", ZH, "webchat", _p("沈悦", "webchat", "wc-v-c5e718"), 85,
        (
            say("我绑定的信用卡在钱包里有一笔境外扣款 USD 89.99，商户名是一串英文，我不认识。"),
            reply("zh", "您好，请先确认家人是否用过这张卡订阅海外服务。如果确认不是您的交易，"
                  "我们会为您发起争议（拒付）申请。"),
            say("确认过了，不是我们。", gap=20),
            note("zh", "已向卡组织提交争议，案件号 CB-88213，等待回复。"),
            reply("zh", "已为您提交争议申请，卡组织处理周期一般是30到45天，结果出来我们会通知您。"
                  "这张卡建议先在银行挂失换卡。", gap=6),
        ),
        S.ON_HOLD, P.HIGH, C.FRAUD_SECURITY, assignee="zh", tags=("chargeback",),
    ),
    Story(
        "statement-for-visa", ZH, "email", _p("袁野", "email", "yuanye@example.cn"), 22,
        (
            say("你好，办签证需要一份钱包的资金流水证明，可以开吗？"),
            reply("zh", "袁先生您好，可以开具带电子签章的交易流水。请告诉我需要的时间范围，"
                  "以及是否需要英文版。"),
        ),
        S.PENDING, P.LOW, C.OTHER, subject="资金流水证明", assignee="zh",
    ),
    Story(
        "lost-phone", ZH, "webchat", _p("潘静", "webchat", "wc-v-08bd5e"), 0.4,
        (say("手机丢了！钱包里还有钱，我现在用朋友的电脑，怎么先把账户保护起来？"),),
        S.NEW, intake_category=C.ACCOUNT_ACCESS, intake_priority=P.URGENT,
    ),
    Story(
        "remittance-manila", EN, "webchat", _p("Maria Santos", "webchat", "wc-v-f1a002"), 34,
        (
            say("Hi, I sent PHP 15,000 to my sister in Manila two days ago and it still says "
                "'in transit'. She went to the pickup partner and they have nothing."),
            reply("en", "Hi Maria, I'm Emma. I can see the transfer left your wallet and is with "
                  "our payout partner in the Philippines. I've opened a trace with them; these "
                  "usually come back within one business day."),
            note("en", "Partner trace opened, ref TR-55120. Cash pickup not yet released."),
        ),
        S.ON_HOLD, P.HIGH, C.TRANSFER_REFUND, assignee="en", tags=("cross-border", "remittance"),
    ),
    Story(
        "3ds-code-missing", EN, "email", _p("Tom Becker", "email", "tom.becker@example.com"), 28,
        (
            say("I'm trying to add my Visa card to the wallet and it asks for a verification "
                "code, but the code never arrives. I've tried five times."),
            reply("en", "Hi Tom, that code is sent by your bank, not by us. Could you check with "
                  "them that your mobile number is up to date for online payments?"),
            say("Called the bank. They say they have no record of any attempt from you.", gap=180),
            escalate("en", "3-D Secure step fails before reaching the issuer; third similar report "
                     "today for this card range"),
            note("l2", "Our 3DS provider returns a timeout for this BIN range since this "
                 "morning. Incident opened with the provider.", gap=40),
        ),
        S.OPEN, P.HIGH, C.CARD_BINDING, subject="Can't add my card", assignee="l2",
        tags=("3ds", "card-binding"),
    ),
    Story(
        "impersonator-telegram", EN, "telegram", _p("Aisha Rahman", "telegram", "7710293845"), 160,
        (
            say("Someone on Telegram called 'WalletDesk Support Help' messaged me saying my "
                "account will be closed unless I share the code you just texted me. Is that you?"),
            reply("en", "That is not us. We never ask for codes, passwords or recovery phrases, "
                  "and we never message first. Please block and report that account. You can "
                  "check our official channels in the app under Help → Contact us.", gap=4),
            say("Blocked. I didn't send anything. Thanks!", gap=3),
        ),
        S.SOLVED, P.HIGH, C.FRAUD_SECURITY, assignee="en",
        tags=("scam-report", "impersonation"),
    ),
    Story(
        "checkout-tweet", EN, "x", _p("Jordan Lee", "x", "1588342209"), 12,
        (
            say("@wallet my payment failed 3 times at checkout and you STILL charged me. "
                "Fix this!!"),
            reply("en", "Sorry about this, Jordan! We don't want to discuss your account in "
                  "public. Please send us a DM with the merchant and the time of payment and "
                  "we'll look into it right away.", gap=15),
        ),
        S.PENDING, category=C.PAYMENT_FAILED, assignee="en", public=True,
    ),
    Story(
        "checkout-dm", EN, "x", _p("Jordan Lee", "x", "1588342209"), 10,
        (
            say("Hi, following up on my tweet. The merchant is Northwind Books, around 7pm "
                "yesterday, charged $42.10 three times."),
        ),
        S.NEW,
    ),
    Story(
        "kyc-residence-permit", EN, "email",
        _p("Daniel Okoye", "email", "d.okoye@example.co.uk"), 46,
        (
            say("My verification was rejected with 'document not supported'. I uploaded my UK "
                "residence permit."),
            reply("en", "Hi Daniel, for non-resident accounts we currently verify with a "
                  "passport or a national ID card. Could you upload your passport instead?"),
            say("My passport is at an embassy for a visa renewal for the next six weeks.", gap=120),
            escalate("en", "Customer can only provide a residence permit; needs a manual "
                     "document review exception"),
            reply("l2", "Hi Daniel, we can accept your residence permit through a manual "
                  "review. Please upload both sides plus a proof of address from the last "
                  "three months.", gap=200),
        ),
        S.PENDING, category=C.IDENTITY_VERIFICATION, subject="Verification rejected",
        assignee="l2", tags=("kyc", "manual-review"),
    ),
    Story(
        "card-topup-fee", EN, "webchat", _p("Sophie Turner", "webchat", "wc-v-2e77b9"), 230,
        (
            say("Why was I charged a 2.5% fee when I topped up with my credit card?"),
            reply("en", "Hi Sophie, top-ups by credit card carry a 2.5% fee because card issuers "
                  "charge us for them. Top-ups by debit card or bank transfer are free."),
            say("OK, I'll use my debit card then. Thanks.", gap=5),
        ),
        S.CLOSED, P.LOW, C.FEES, assignee="en",
    ),
    Story(
        "complaint-funds-withheld", EN, "email",
        _p("Chinedu Okafor", "email", "c.okafor@example.com"), 56,
        (
            say("Formal complaint. My account was closed last week without any explanation and "
                "my balance of GBP 1,240 is being withheld. I want my money and an explanation "
                "in writing."),
            escalate("en", "Formal complaint about account closure and withheld funds"),
            escalate("l2", "Not technical: closures and release of funds belong to the "
                     "complaints team", gap=30),
            reply("l3", "Dear Mr Okafor, I'm Grace Lin from the complaints team. I confirm we "
                  "received your complaint today. You will have our final written response "
                  "within 15 business days, and I will update you before then if the funds "
                  "can be released sooner.", gap=60),
            note("l3", "Closed by compliance after an unanswered source-of-funds request. "
                 "Funds can be released once the documents arrive. Case notes requested."),
        ),
        S.ON_HOLD, P.HIGH, C.COMPLAINT, subject="Formal complaint: account closed",
        assignee="l3", tags=("formal-complaint", "funds-withheld"),
    ),
    Story(
        "sg-withdrawal-returned", EN, "whatsapp", _p("Wei Ling Tan", "phone", "+6591234567"), 130,
        (
            say("Hi, my withdrawal of SGD 600 to my DBS account shows 'returned'. What happened?"),
            reply("en", "Hi Wei Ling, the receiving bank returned it because the account name "
                  "didn't match the account number. The SGD 600 is back in your balance; "
                  "please check the bank details and try again."),
            say("Fixed the account number, resent it and it arrived. Thanks!", gap=60),
        ),
        S.SOLVED, category=C.TRANSFER_REFUND, assignee="en",
    ),
    Story(
        "pin-lockout-voicemail", EN, "phone", _p("David Mensah", "phone", "+447700900123"), 2,
        (
            say("(Voicemail transcript) Hi, this is David Mensah. I'm locked out of my wallet "
                "after too many wrong PIN attempts and I need to pay my rent today. Please call "
                "me back on this number."),
        ),
        S.NEW, tags=("needs-callback",),
    ),
    Story(
        "merchant-payment-stuck", EN, "api",
        _p("Priya Nair", "email", "priya.nair@example.in"), 7,
        (
            say("Payment to merchant stuck as 'processing' for 3 hours. Amount USD 120.00."),
            note("en", "Acquirer shows the authorisation but no capture; asked them whether "
                 "it will be reversed."),
            reply("en", "Hi Priya, the payment was authorised but the merchant never completed "
                  "it. We're confirming with the processor that the hold will be released, "
                  "and will update you here.", gap=5),
        ),
        S.OPEN, P.HIGH, assignee="en", subject="In-app report: payment stuck",
        intake_category=C.PAYMENT_FAILED, intake_priority=P.HIGH,
    ),
    Story(
        "login-from-lagos", EN, "webchat", _p("Hannah Weiss", "webchat", "wc-v-d90c31"), 100,
        (
            say("I got an email that a new device logged into my account from Lagos. "
                "That wasn't me!"),
            reply("en", "Hi Hannah, I've locked your account so nothing can leave it. Please "
                  "reset your password now and remove unknown devices under Security → "
                  "Devices.", gap=2),
            say("Done. Nothing is missing from my balance.", gap=10),
            note("en", "No outgoing transactions since that login; device removed. Password "
                 "most likely reused from another site's breach."),
        ),
        S.SOLVED, P.URGENT, C.FRAUD_SECURITY, assignee="en", tags=("account-takeover",),
    ),
    Story(
        "airline-refund", EN, "email", _p("Lucas Moreau", "email", "lucas.moreau@example.fr"), 18,
        (
            say("I paid a flight with the wallet. The flight was cancelled and the airline says "
                "they refunded me three weeks ago, but I have nothing."),
            reply("en", "Hi Lucas, could you ask the airline for the refund reference (ARN)? "
                  "With it we can trace the refund through the card network."),
            say("They gave me this reference: 74987501234567890123456.", gap=300),
            note("en", "Refund found by ARN; it went to the card the wallet charged, which "
                 "was replaced since. Asking the issuer to redirect."),
        ),
        S.OPEN, category=C.TRANSFER_REFUND, subject="Refund for a cancelled flight",
        assignee="en", tags=("card-network",),
    ),
    Story(
        "business-account", EN, "email", _p("Olivia Brown", "email", "olivia@example.org"), 5,
        (say("Hello, do you offer business accounts for a small online shop? What are the fees?"),),
        S.NEW, subject="Business account?",
    ),
    Story(
        "crypto-spam", EN, "x", _p("moonbot", "x", "1777000111"), 150,
        (say("🚀 Earn 300% daily with our AI trading bot! DM now, limited spots!"),),
        S.CLOSED, P.LOW, tags=("spam",), public=True,
    ),
)
# fmt: on
