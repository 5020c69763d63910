"""Ticket numbers: digits only, at most 12, the last one a Damm check digit.

Why Damm: it catches every single-digit typo and every adjacent transposition (Luhn
misses 09↔90), and a caller reads or keys these numbers in by hand.

Why scrambled: numbers come from a plain counter, but a multiplicative permutation
spreads consecutive counter values over the whole range, so a number neither reveals
how many tickets we handle nor makes a neighbour's ticket one guess away.
"""

from __future__ import annotations

import re
import unicodedata

from stdnum import damm

# Band k holds payloads of 9+k digits: 10**(8+k) .. 10**(9+k)-1, i.e. 9·10**(8+k) values.
_FIRST_BAND_DIGITS = 9
_MAX_PAYLOAD_DIGITS = 11
# Coprime with 2, 3 and 5, hence with every band size 9·10**n: the affine map is a bijection.
_MULTIPLIER = 4_093_082_899
_OFFSET = 271_828_182

MIN_LENGTH = _FIRST_BAND_DIGITS + 1
MAX_LENGTH = _MAX_PAYLOAD_DIGITS + 1

_SEPARATOR = re.compile(r"[ \-]")
_DIGIT_RUN = re.compile(r"\d+(?:[ \-]\d+)*")


def payload_for_sequence(sequence: int) -> int:
    """Map the n-th ticket (n ≥ 0) to a unique payload, widening one digit per exhausted band."""
    if sequence < 0:
        raise ValueError("sequence must be >= 0")
    index = sequence
    for digits in range(_FIRST_BAND_DIGITS, _MAX_PAYLOAD_DIGITS + 1):
        low = 10 ** (digits - 1)
        size = 9 * low
        if index < size:
            return int(low + (index * _MULTIPLIER + _OFFSET) % size)
        index -= size
    raise OverflowError("ticket number space exhausted")


def with_check_digit(payload: int) -> str:
    digits = str(payload)
    return digits + damm.calc_check_digit(digits)


def number_for_sequence(sequence: int) -> str:
    return with_check_digit(payload_for_sequence(sequence))


def is_valid(number: str) -> bool:
    """True for a well-formed ticket number whose check digit matches."""
    return (
        number.isascii()
        and number.isdigit()
        and MIN_LENGTH <= len(number) <= MAX_LENGTH
        and number[0] != "0"
        and damm.is_valid(number)
    )


def normalize(text: str) -> str:
    """Fold full-width digits (“２６１１”) and drop the spaces and dashes people type."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"(?<=\d)[ \-](?=\d)", "", folded)


def find_ticket_numbers(text: str) -> list[str]:
    """Valid ticket numbers quoted in free text, in order of appearance, without repeats.

    A run of digit groups ("3718 2818 26") is read as one number when it is one; otherwise
    each group stands alone, so a number followed by a phone number is still found.
    """
    found: list[str] = []
    for run in _DIGIT_RUN.finditer(unicodedata.normalize("NFKC", text)):
        whole = _SEPARATOR.sub("", run.group())
        for number in [whole] if is_valid(whole) else _SEPARATOR.split(run.group()):
            if is_valid(number) and number not in found:
                found.append(number)
    return found
