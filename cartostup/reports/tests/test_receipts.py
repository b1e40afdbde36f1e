"""Receipts: format, entropy, forgiving input, slow hash."""

from __future__ import annotations

import math
import re

import pytest

from cartostup.reports import receipts

FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$")


def test_format_and_entropy():
    values = {receipts.receipt_generate() for _ in range(200)}
    assert len(values) == 200
    assert all(FORMAT.match(value) for value in values)
    assert receipts.BITS == 120 and receipts.SECRET_BITS == 80
    assert math.log2(len(receipts.ALPHABET)) == 5
    # Every character of the alphabet shows up: the generator is not stuck on a subset.
    assert set("".join(values).replace("-", "")) == set(receipts.ALPHABET)


def test_normalisation_is_forgiving():
    receipt = "0123-4567-89AB-CDEF-GHJK-MNPQ"
    typed = " o123 4567-89ab cdef ghjk-mnpq "
    assert receipts.receipt_normalise(typed) == receipt.replace("-", "")
    assert receipts.receipt_normalise("I1L1" + "0" * 20).startswith("1111")
    parsed = receipts.receipt_parse(receipt)
    assert parsed.key == "01234567" and parsed.secret == "89ABCDEFGHJKMNPQ"


@pytest.mark.parametrize("text", ["", "abc", "0" * 23, "0" * 25, "U" * 24, "*" * 24])
def test_malformed_receipts(text):
    with pytest.raises(receipts.MalformedReceipt, match="24 caractères"):
        receipts.receipt_normalise(text)
    assert receipts.receipt_key_of(text) is None


def test_hash_is_slow_salted_and_verifies():
    secret = receipts.receipt_parse(receipts.receipt_generate()).secret
    first, second = receipts.secret_hash(secret), receipts.secret_hash(secret)
    assert first.startswith("$argon2id$") and first != second  # salted
    assert secret not in first
    assert receipts.secret_verify(first, secret)
    assert not receipts.secret_verify(first, secret[:-1] + ("0" if secret[-1] != "0" else "1"))
    assert not receipts.secret_verify(None, secret)
    assert not receipts.secret_verify("not a hash", secret)
