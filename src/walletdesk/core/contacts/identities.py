"""Normalising the ways a customer identifies themselves, so one person is one contact."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from walletdesk.core.contacts.models import IdentityKind
from walletdesk.core.errors import InvalidInput

DEFAULT_PHONE_REGION = "CN"


def normalize_email(value: str) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise InvalidInput("email", str(exc)) from None
    return result.normalized.lower()


def normalize_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164, e.g. '+8613800138000'; a number without country code is read as mainland China."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("phone", f"{value!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidInput("phone", f"{value!r} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_identity(kind: str, value: str) -> str:
    if kind == IdentityKind.EMAIL:
        return normalize_email(value)
    if kind == IdentityKind.PHONE:
        return normalize_phone(value)
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(kind, "must not be empty")
    return cleaned
