"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3), against the RFC's own example."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletdesk.channels.email.imap_utf7 import decode_mailbox, encode_mailbox


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        # RFC 3501 §5.1.3's example.
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        # Python's standard 'utf-7' codec gives "+W6JnDQ-" etc.: the same base64, other shift.
        ("客服", "&W6JnDQ-"),
        ("已处理", "&XfJZBHQG-"),
        ("INBOX", "INBOX"),
        ("R&D", "R&-D"),
        ("&", "&-"),
        ("☺!", "&Jjo-!"),
        ("支付 & 退款", "&ZS9O2A- &- &kABrPg-"),
        ("😀", "&2D3eAA-"),  # outside the BMP: a UTF-16 surrogate pair
    ],
)
def test_known_names(name: str, wire: str) -> None:
    assert encode_mailbox(name) == wire
    assert decode_mailbox(wire) == name


@given(st.text())
def test_any_name_goes_out_as_printable_ascii_and_comes_back(name: str) -> None:
    wire = encode_mailbox(name)
    assert all(" " <= char <= "~" for char in wire)
    assert decode_mailbox(wire) == name


@pytest.mark.parametrize("wire", ["&W6JnDQ", "a&b", "&W6J*nDQ-", "&A-"])
def test_text_that_is_not_modified_utf7_is_refused(wire: str) -> None:
    with pytest.raises(ValueError):
        decode_mailbox(wire)
