"""Ticket numbers: unique, short, all digits, Damm-checked, and found in what customers write."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import damm

from walletdesk.core.tickets import numbers
from walletdesk.core.tickets.numbers import (
    MAX_LENGTH,
    MIN_LENGTH,
    find_ticket_numbers,
    is_valid,
    number_for_sequence,
    payload_for_sequence,
    with_check_digit,
)

# (first sequence, payload digits) of each band: 9·10**8 nine-digit payloads, then ten, eleven.
BANDS = [(0, 9), (9 * 10**8, 10), (9 * 10**8 + 9 * 10**9, 11)]
LAST_SEQUENCE = 9 * 10**8 + 9 * 10**9 + 9 * 10**10 - 1
BAND_EDGES = [0, 9 * 10**8 - 1, 9 * 10**8, 9 * 10**8 + 9 * 10**9 - 1, 9 * 10**8 + 9 * 10**9]

N1 = number_for_sequence(0)
N2 = number_for_sequence(1)
N3 = number_for_sequence(12_345)

sequences = st.integers(min_value=0, max_value=LAST_SEQUENCE)


def _band(sequence: int) -> tuple[int, int]:
    """(index within the band, payload digits) of a sequence."""
    for start, digits in reversed(BANDS):
        if sequence >= start:
            return sequence - start, digits
    raise AssertionError(sequence)


def test_numbers_are_unique_over_a_long_run_and_across_band_edges() -> None:
    chosen = set(range(0, 20_000))
    for edge in BAND_EDGES[1:]:
        chosen.update(range(edge - 5_000, edge + 5_000))
    chosen.update(range(LAST_SEQUENCE - 5_000, LAST_SEQUENCE + 1))
    issued = [number_for_sequence(sequence) for sequence in sorted(chosen)]
    for number in issued:
        assert number.isascii() and number.isdigit(), number
        assert MIN_LENGTH <= len(number) <= MAX_LENGTH <= 12
        assert is_valid(number), number
    assert len(set(issued)) == len(chosen)


def test_each_band_widens_by_one_digit() -> None:
    assert len(number_for_sequence(9 * 10**8 - 1)) == 10
    assert len(number_for_sequence(9 * 10**8)) == 11
    assert len(number_for_sequence(9 * 10**8 + 9 * 10**9 - 1)) == 11
    assert len(number_for_sequence(9 * 10**8 + 9 * 10**9)) == 12
    assert len(number_for_sequence(LAST_SEQUENCE)) == 12
    with pytest.raises(OverflowError):
        payload_for_sequence(LAST_SEQUENCE + 1)
    with pytest.raises(ValueError):
        payload_for_sequence(-1)


def test_consecutive_tickets_do_not_get_neighbouring_numbers() -> None:
    payloads = [payload_for_sequence(n) for n in range(1_000)]
    assert all(abs(a - b) > 1_000 for a, b in itertools.pairwise(payloads))


def test_the_scramble_is_invertible_in_every_band() -> None:
    for _start, digits in BANDS:
        size = 9 * 10 ** (digits - 1)
        assert math.gcd(numbers._MULTIPLIER, size) == 1


@given(sequences)
def test_payload_for_sequence_is_a_bijection_per_band(sequence: int) -> None:
    index, digits = _band(sequence)
    low, size = 10 ** (digits - 1), 9 * 10 ** (digits - 1)
    payload = payload_for_sequence(sequence)
    assert low <= payload < 10 * low
    # Undo the affine map: each payload of the band comes from exactly one index.
    inverse = pow(numbers._MULTIPLIER, -1, size)
    assert ((payload - low - numbers._OFFSET) * inverse) % size == index


@given(sequences)
def test_every_single_digit_substitution_is_rejected(sequence: int) -> None:
    number = number_for_sequence(sequence)
    assert is_valid(number)
    for position, original in enumerate(number):
        for digit in "0123456789":
            if digit != original:
                typo = number[:position] + digit + number[position + 1 :]
                assert not is_valid(typo), (number, typo)


@given(sequences)
def test_every_adjacent_transposition_is_rejected(sequence: int) -> None:
    number = number_for_sequence(sequence)
    for position in range(len(number) - 1):
        a, b = number[position], number[position + 1]
        if a != b:
            swapped = number[:position] + b + a + number[position + 2 :]
            assert not is_valid(swapped), (number, swapped)


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "123",
        with_check_digit(12345678),  # 9 digits: too short
        with_check_digit(123456789012),  # 13 digits: too long
        "abcdefghij",
        "٣٧١٨٢٨١٨٢٦",  # Arabic-Indic digits are digits, but not ours
        f" {N1}",
    ],
)
def test_is_valid_refuses_malformed_numbers(candidate: str) -> None:
    assert not is_valid(candidate)


def test_is_valid_refuses_a_leading_zero_even_with_a_matching_check_digit() -> None:
    padded = "012345678"
    assert damm.is_valid(padded + damm.calc_check_digit(padded))
    assert not is_valid(padded + damm.calc_check_digit(padded))


def _wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def _fullwidth(number: str) -> str:
    return "".join(chr(ord("０") + int(d)) for d in number)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"我的工单号是 {N1}", [N1]),
        (f"我的工单号是{N1}，麻烦尽快处理", [N1]),
        (f"Re: [#{N1}] 转账没到账", [N1]),
        (f"工单{_fullwidth(N1)}还没有回复", [N1]),
        (f"number {N1[:4]} {N1[4:7]} {N1[7:]} please", [N1]),
        (f"单号 {N1[:3]}-{N1[3:6]}-{N1[6:]}", [N1]),
        (f"两个工单 {N1} 和 {N2}，还有 {N1}", [N1, N2]),
        (f"{N3} first, then {N1}", [N3, N1]),
        (f"工单号 {_wrong_check_digit(N1)}", []),
        ("电话 +86 138 0013 8000", []),
        ("电话 +86-138-0013-8000", []),
        (f"电话 +86{N1}", []),
        ("卡号 6222021234567890", []),
        (f"卡号 {N1}123456", []),
        (f"卡号 6222 0212 3456 7890 工单 {N2}", [N2]),
        (f"1{N1}", []),
        ("没有号码", []),
    ],
)
def test_find_ticket_numbers_in_what_customers_write(text: str, expected: list[str]) -> None:
    assert find_ticket_numbers(text) == expected


def test_a_valid_phone_number_shaped_run_inside_longer_digits_is_not_matched() -> None:
    # A 16-digit card number whose every 10-12 digit window may pass Damm by chance.
    card = "6222021234567890"
    assert find_ticket_numbers(f"卡号{card}") == []
    assert find_ticket_numbers(f"卡号 {card[:4]} {card[4:8]} {card[8:12]} {card[12:]}") == []


def test_a_number_next_to_another_digit_group_is_still_found() -> None:
    # People write "ticket, then phone" with only a space between; the two must not merge.
    assert find_ticket_numbers(f"工单 {N1} 13912345678 谢谢") == [N1]
    assert find_ticket_numbers(f"{N2} 2026") == [N2]


@given(sequences, st.sampled_from(["", " ", "-"]))
def test_any_issued_number_is_found_however_it_is_grouped(sequence: int, separator: str) -> None:
    number = number_for_sequence(sequence)
    grouped = separator.join([number[:3], number[3:6], number[6:]])
    assert find_ticket_numbers(f"工单号：{grouped}。") == [number]
