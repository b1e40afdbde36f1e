"""Proof of work: single use, expiry, difficulty checked with a real brute-forced nonce."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from cartostup.reports import pow
from cartostup.reports.models import PowChallenge

pytestmark = pytest.mark.django_db


def _redeem(challenge: str, nonce: str) -> None:
    with pow.challenge_redeemed(challenge=challenge, nonce=nonce):
        pass


def test_leading_zero_bits():
    assert pow.leading_zero_bits(b"\x00\x00\xff") == 16
    assert pow.leading_zero_bits(b"\x00\x01") == 15
    assert pow.leading_zero_bits(b"\x80") == 0
    assert pow.leading_zero_bits(b"\x00\x00") == 16


@override_settings(CARTOSTUP_POW_DIFFICULTY=12)
def test_brute_forced_nonce_is_accepted_once():
    challenge = pow.challenge_issue()
    assert len(challenge.value) == 32 and int(challenge.value, 16) >= 0
    assert challenge.difficulty == 12
    nonce = pow.pow_solve(challenge.value, 12)
    digest = hashlib.sha256(f"{challenge.value}:{nonce}".encode()).digest()
    assert digest[0] == 0 and digest[1] >> 4 == 0
    _redeem(challenge.value, nonce)
    with pytest.raises(pow.PowError) as caught:
        _redeem(challenge.value, nonce)
    assert caught.value.code == "pow_unknown"
    assert "déjà servi" in str(caught.value)
    # Recognised as used from its value alone: nothing was stored about the redemption.
    assert caught.value.spent and pow.challenge_spent(challenge.value)
    assert not PowChallenge.objects.filter(value=challenge.value).exists()


def test_only_challenges_issued_here_and_redeemed_count_as_spent(monkeypatch):
    challenge = pow.challenge_issue()
    assert not pow.challenge_spent(challenge.value)  # not redeemed yet
    forged = challenge.value[:20] + "0" * 12
    assert not pow.challenge_spent(forged) and not pow.challenge_spent("0" * 32)
    assert not pow.challenge_spent("")
    nonce = pow.pow_solve(challenge.value, challenge.difficulty)
    _redeem(challenge.value, nonce)
    assert pow.challenge_spent(challenge.value)
    later = timezone.now() + pow.SPENT_MEMORY + timedelta(minutes=15)
    monkeypatch.setattr(pow.timezone, "now", lambda: later)
    assert not pow.challenge_spent(challenge.value)


@override_settings(CARTOSTUP_POW_DIFFICULTY=16)
def test_insufficient_work_is_refused_and_burns_the_challenge():
    challenge = pow.challenge_issue()
    # A nonce whose hash does not start with 16 zero bits.
    nonce = next(
        str(n)
        for n in range(1000)
        if pow.leading_zero_bits(pow.pow_digest(challenge.value, str(n))) < 16
    )
    with pytest.raises(pow.PowError) as caught:
        _redeem(challenge.value, nonce)
    assert caught.value.code == "pow_insufficient"
    assert not PowChallenge.objects.filter(value=challenge.value).exists()


def test_expired_challenge_is_refused_and_cleaned():
    challenge = pow.challenge_issue()
    PowChallenge.objects.filter(pk=challenge.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(pow.PowError) as caught:
        _redeem(challenge.value, "0")
    assert caught.value.code == "pow_expired"
    # Kept a while, so that an expired challenge is never taken for a used one.
    assert PowChallenge.objects.filter(pk=challenge.pk).exists()
    assert not pow.challenge_spent(challenge.value)
    old = pow.challenge_issue()
    PowChallenge.objects.filter(pk=old.pk).update(
        expires_at=timezone.now() - pow.SPENT_MEMORY - timedelta(hours=1)
    )
    pow.challenge_issue()
    assert not PowChallenge.objects.filter(pk=old.pk).exists()


@override_settings(CARTOSTUP_POW_DIFFICULTY=0)
def test_difficulty_zero_still_needs_a_challenge():
    challenge = pow.challenge_issue()
    _redeem(challenge.value, "")
    with pytest.raises(pow.PowError):
        _redeem("0" * 32, "")


@override_settings(CARTOSTUP_POW_DIFFICULTY=0)
def test_a_challenge_is_spent_only_with_what_its_block_saved():
    """New-user review: a report whose save failed after its challenge was redeemed (a full
    disk, a busy database: a 500 or 503 page) was lost, and the form sent again answered
    « Ce signalement a déjà été envoyé. Il a bien été enregistré ». The challenge is spent in
    the save's transaction: a block that fails leaves it unspent."""
    challenge = pow.challenge_issue()
    with pytest.raises(OSError), pow.challenge_redeemed(challenge=challenge.value, nonce=""):
        PowChallenge.objects.filter(pk=0).update(difficulty=1)  # a write in the block
        raise OSError("disque plein")
    assert PowChallenge.objects.filter(value=challenge.value).exists()
    assert not pow.challenge_spent(challenge.value)
    _redeem(challenge.value, "")
    assert pow.challenge_spent(challenge.value)
