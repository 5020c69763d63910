"""The console's languages: Babel catalogues read from .po files at startup, no build step.

Templates hold English msgids (`{{ _("Inbox") }}`, `{% trans %}`); Python code marks its
strings with `N_` (labels) or calls `Lang.gettext`. To keep the catalogues in sync after
changing texts, run from the repository root:

    uv run pybabel extract -F src/walletdesk/console/babel.cfg -k N_ \\
        -o /tmp/console.pot src/walletdesk/console
    uv run pybabel update -i /tmp/console.pot -d src/walletdesk/console/locale \\
        --ignore-obsolete --no-fuzzy-matching

then translate the new entries of locale/zh_CN/LC_MESSAGES/messages.po (en needs none:
an empty msgstr shows the English msgid). tests/console/test_i18n.py fails while a text
used in the console lacks its Chinese translation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED = ("zh-CN", "en")
DEFAULT = "zh-CN"
# Support teams of wallets in mainland China work in one time zone; agents' own zones
# are not stored yet.
TIME_ZONE = ZoneInfo("Asia/Shanghai")
# Older activity shows a date instead of "3 days ago": easier to compare across rows.
RELATIVE_FOR = timedelta(hours=24)


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


def babel_name(locale: str) -> str:
    return locale.replace("-", "_")


def normalise(value: str | None) -> str | None:
    """'zh', 'zh-cn', 'zh_Hans_CN' → 'zh-CN'; 'en-GB' → 'en'; anything else → None."""
    if not value:
        return None
    lowered = value.strip().lower().replace("_", "-")
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered == "en" or lowered.startswith("en-"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an Accept-Language header, by quality."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, position, tag))
    for _quality, _position, tag in sorted(ranked):
        found = normalise(tag)
        if found:
            return found
    return None


@cache
def translations(locale: str) -> Translations:
    """The locale's catalogue compiled in memory (cached for the process)."""
    po_path = LOCALE_DIR / babel_name(locale) / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=babel_name(locale))
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


@dataclass(frozen=True, slots=True)
class Lang:
    """One language as the console speaks it: texts, labels, dates."""

    code: str  # zh-CN or en

    @property
    def babel(self) -> str:
        return babel_name(self.code)

    def gettext(self, message: str, **values: object) -> str:
        text: str = translations(self.code).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        text: str = translations(self.code).ngettext(singular, plural, count)
        return text % {"num": count, **values}

    def label(self, labels: dict[str, str], value: object) -> str:
        """A stored value (status, role, …) in this language; unknown values as stored."""
        msgid = labels.get(str(value))
        return self.gettext(msgid) if msgid else str(value)

    def options(
        self, labels: dict[str, str], values: Iterable[str] | None = None
    ) -> list[tuple[str, str]]:
        return [(value, self.label(labels, value)) for value in (values or labels)]

    def stamp(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return str(format_datetime(moment, "medium", tzinfo=TIME_ZONE, locale=self.babel))

    def when(self, moment: datetime | None, now: datetime | None = None) -> str:
        """'5 minutes ago' for recent moments, a short date and time for older ones."""
        if moment is None:
            return ""
        delta = moment - (now or datetime.now(UTC))
        if abs(delta) < RELATIVE_FOR:
            return str(format_timedelta(delta, add_direction=True, locale=self.babel))
        return str(format_datetime(moment, "short", tzinfo=TIME_ZONE, locale=self.babel))


def lang_for(locale: str | None) -> Lang:
    return Lang(normalise(locale) or DEFAULT)
