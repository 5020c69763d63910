"""The words of the public help-center pages, in zh-CN and en."""

from __future__ import annotations

from walletdesk.helpcenter.models import LOCALES

DEFAULT_LOCALE = "zh-CN"
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}

STRINGS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "site": "帮助中心",
        "search_placeholder": "搜索问题，例如：账户被冻结、提现失败",
        "search": "搜索",
        "categories": "问题分类",
        "popular": "热门问题",
        "articles_count": "篇文章",
        "results_for": "搜索结果：",
        "no_results": "没有找到相关文章。换个说法试试，或者联系客服。",
        "query_empty": "请输入要搜索的问题。",
        "query_too_long": "搜索内容太长了，请控制在 {limit} 个字以内。",
        "rate_limited": "搜索太频繁了，请稍后再试。",
        "helpful_question": "这篇文章对你有帮助吗？",
        "yes": "有帮助",
        "no": "没有帮助",
        "solved_question": "这篇文章解决你的问题了吗？",
        "solved_yes": "问题已解决",
        "solved_no": "还没解决",
        "thanks": "谢谢你的反馈！",
        "comment_placeholder": "还有什么没说清楚？（选填，请勿填写密码、验证码等信息）",
        "updated": "更新于",
        "related": "同类问题",
        "still_need_help": "还需要帮助？",
        "contact_us": "联系我们",
        "contact_intro": "以下是我们全部的官方客服渠道。除此之外的任何电话、账号或网站都不是我们。",
        "chat": "在线客服",
        "phone": "电话",
        "email": "邮件",
        "social": "官方社交账号",
        "web": "网站",
        "hours": "服务时间",
        "warning_title": "谨防冒充客服诈骗",
        "warning_body": (
            "我们的工作人员绝不会向你索要登录密码、支付密码、短信验证码、助记词或私钥，"
            "也不会要求你转账到“安全账户”、下载屏幕共享软件或添加私人社交账号。"
            "遇到这样的要求，请立即挂断或停止回复，并通过上面的官方渠道联系我们。"
        ),
        "not_found": "找不到这个页面",
        "not_found_body": "你要找的文章不存在或已下线。",
        "home": "帮助中心首页",
        "language": "语言",
        "prepare": (
            "联系客服前请准备：账户名或注册手机号、问题描述、操作步骤和截图"
            "（请先遮住卡号等敏感信息）。"
        ),
        "csrf_failed": "页面已过期，请刷新后重试。",
        "comment_unstorable": "留言中有无法保存的字符（例如空字符），请删除后重新提交。",
        "results": "条结果",
        "always_open": "每天 24 小时",
        "every_day": "每天",
        "weekdays": "周一,周二,周三,周四,周五,周六,周日",
        "day_range": "{first}至{last}",
        "day_list": "、",
        "site_hours": "{days} {open}–{close}（{zone} 时间）",
    },
    "en": {
        "site": "Help Center",
        "search_placeholder": "Search, e.g. account frozen, withdrawal failed",
        "search": "Search",
        "categories": "Topics",
        "popular": "Popular questions",
        "articles_count": "articles",
        "results_for": "Results for:",
        "no_results": "No article matched. Try other words, or contact us.",
        "query_empty": "Type a question to search for.",
        "query_too_long": "That search is too long; keep it under {limit} characters.",
        "rate_limited": "Too many searches; please wait a moment and try again.",
        "helpful_question": "Was this article helpful?",
        "yes": "Yes",
        "no": "No",
        "solved_question": "Did this article solve your problem?",
        "solved_yes": "Yes, this solved it",
        "solved_no": "Not yet",
        "thanks": "Thank you for your feedback!",
        "comment_placeholder": "What was missing? (optional; never type passwords or codes here)",
        "updated": "Updated",
        "related": "Related questions",
        "still_need_help": "Still need help?",
        "contact_us": "Contact us",
        "contact_intro": (
            "These are all of our official support channels. Any other number, account or "
            "website claiming to be us is not us."
        ),
        "chat": "Live chat",
        "phone": "Phone",
        "email": "Email",
        "social": "Official social accounts",
        "web": "Web",
        "hours": "Hours",
        "warning_title": "Beware of fake support accounts",
        "warning_body": (
            "Our staff will never ask for your login password, payment PIN, SMS code, seed "
            'phrase or private key, and will never ask you to move money to a "safe account", '
            "install screen-sharing apps or add them on a personal social account. If anyone "
            "does, hang up or stop replying and contact us through a channel listed above."
        ),
        "not_found": "Page not found",
        "not_found_body": "The article you are looking for does not exist or was taken down.",
        "home": "Help Center home",
        "language": "Language",
        "prepare": (
            "Before contacting us, have ready: your account name or registered phone number, "
            "what went wrong, the steps you took and screenshots (cover card numbers first)."
        ),
        "csrf_failed": "This page has expired; reload it and try again.",
        "comment_unstorable": (
            "Your comment holds a character we cannot save (such as a null character); "
            "remove it and send it again."
        ),
        "results": "results",
        "always_open": "24 hours a day, every day",
        "every_day": "Every day",
        "weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
        "day_range": "{first}–{last}",
        "day_list": ", ",
        "site_hours": "{days} {open}–{close} ({zone} time)",
    },
}

assert set(STRINGS) == set(LOCALES)


def preferred_locale(accept_language: str) -> str:
    """The help-center locale a browser asks for; Chinese unless it prefers English."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE
