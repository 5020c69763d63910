"""The official support channels: the one list the "Contact us" page shows and the one a
checker can ask "is this phone number / email / account really ours?".

Read from the JSON file named by WALLETDESK_OFFICIAL_CHANNELS_FILE, else the example file
shipped in helpcenter/data/ (replace it for a real deployment). The file is re-read when it
changes on disk, so editing it needs no restart.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from walletdesk.core.errors import DomainError

ENV_VAR = "WALLETDESK_OFFICIAL_CHANNELS_FILE"
DEFAULT_FILE = Path(__file__).parent / "data" / "official_channels.json"
ChannelKind = Literal["chat", "phone", "email", "social", "web"]


class OfficialChannel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ChannelKind
    value: str = Field(min_length=1, max_length=300)
    label: dict[str, str]
    hours: dict[str, str] | None = None
    url: str | None = None
    platform: str | None = None
    # A chat channel served by one of our chat sites (its name in `webchat site list`): the
    # contact page then shows that site's business hours, not `hours`.
    site: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _site_only_for_chat(self) -> OfficialChannel:
        if self.site is not None and self.kind != "chat":
            raise ValueError("only a chat channel can name a chat site")
        return self

    def text(self, locale: str) -> str:
        return self.label.get(locale) or next(iter(self.label.values()), self.value)

    @property
    def href(self) -> str | None:
        """Where a link to this channel points: tel:, mailto: or its web address."""
        if self.kind == "phone":
            return f"tel:{normalise('phone', self.value)}"
        if self.kind == "email":
            return f"mailto:{self.value}"
        return self.url

    def hours_text(self, locale: str) -> str:
        if not self.hours:
            return ""
        return self.hours.get(locale) or next(iter(self.hours.values()), "")


class OfficialChannelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand: dict[str, str]
    channels: list[OfficialChannel]


def normalise(kind: str, value: str) -> str:
    """The comparable form of a channel identifier (what a checker looks up)."""
    value = value.strip()
    if kind == "phone":
        try:
            number = phonenumbers.parse(value, "CN")
        except phonenumbers.NumberParseException:
            return re.sub(r"\D", "", value)
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    if kind == "email":
        return value.lower()
    if kind == "social":
        return value.lower().lstrip("@")
    if kind in ("web", "chat") and "://" in value:
        parts = urlsplit(value.lower())
        return f"{parts.hostname or ''}{parts.path.rstrip('/')}"
    return value.lower()


@dataclass(frozen=True)
class OfficialChannels:
    brand: dict[str, str]
    channels: tuple[OfficialChannel, ...]

    def of_kind(self, kind: str) -> list[OfficialChannel]:
        return [c for c in self.channels if c.kind == kind]

    def is_official(self, kind: str, value: str) -> bool:
        """Whether `value` (a phone number, email address, social handle or URL) is ours."""
        wanted = normalise(kind, value)
        for channel in self.channels:
            if channel.kind == kind and normalise(kind, channel.value) == wanted:
                return True
            if (
                channel.url
                and kind in ("web", "chat", "social")
                and normalise("web", channel.url) == normalise("web", value)
            ):
                return True
        return False


_cache: dict[tuple[str, float], OfficialChannels] = {}


def channels_file() -> Path:
    configured = os.environ.get(ENV_VAR, "").strip()
    return Path(configured) if configured else DEFAULT_FILE


def load_official_channels() -> OfficialChannels:
    path = channels_file()
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError as exc:
        raise DomainError(f"{ENV_VAR}: cannot read {path}: {exc.strerror}") from None
    if key not in _cache:
        try:
            parsed = OfficialChannelsFile.model_validate(json.loads(path.read_text("utf-8")))
        except (ValueError, ValidationError) as exc:
            raise DomainError(f"{ENV_VAR}: {path} is not a valid channel list: {exc}") from None
        _cache.clear()
        _cache[key] = OfficialChannels(parsed.brand, tuple(parsed.channels))
    return _cache[key]


def site_brand(locale: str) -> str:
    """The brand the public pages carry in this locale; empty (the pages then say only
    "Help Center") when the file names none or cannot be read: a broken channel file must
    not take every help page down, only the contact page reports it."""
    try:
        brand = load_official_channels().brand
    except DomainError:
        return ""
    return (brand.get(locale) or "").strip()
