"""A secret shown once after a redirect: the two shares, and what a share alone gives."""

from __future__ import annotations

import string
from base64 import urlsafe_b64decode, urlsafe_b64encode

from hypothesis import given
from hypothesis import strategies as st

from cartostup.core.shown_once import secret_join, secret_split


def printable(text: str) -> bool:
    return all(char in string.ascii_letters + string.digits + "-" for char in text)


@given(st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=64))
def test_the_two_shares_give_the_secret_back(secret):
    masked, pad = secret_split(secret)
    assert secret_join(masked, pad, valid=printable) == secret


def test_each_split_is_new():
    assert secret_split("abcdefgh") != secret_split("abcdefgh")


def test_a_missing_altered_or_foreign_share_gives_nothing():
    masked, pad = secret_split("Secret-123")
    assert secret_join(masked, None, valid=printable) is None
    assert secret_join(None, pad, valid=printable) is None
    assert secret_join(masked, "pas du base64 !", valid=printable) is None
    assert secret_join(masked, pad[:-4], valid=printable) is None  # another length
    flipped = bytes([urlsafe_b64decode(pad)[0] ^ 0x80]) + urlsafe_b64decode(pad)[1:]
    assert secret_join(masked, urlsafe_b64encode(flipped).decode(), valid=printable) is None
    # What `valid` refuses is not given back, whatever the shares.
    assert secret_join(masked, pad, valid=lambda text: False) is None
