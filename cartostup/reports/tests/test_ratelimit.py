"""Per-client rate limits behind a reverse proxy: one bucket per client, never one per proxy
(docs/deployment.md, §5 and §10), and a header from anywhere but a declared proxy is ignored."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

CHALLENGE = "/api/public/v1/challenge"
FOLLOWUP = "/api/public/v1/followup"
PROXY = "127.0.0.1"
LIMITS = {
    "challenge": (2, 600),
    "submission": (2, 3600),
    "receipt_client": (2, 900),
    "receipt_key": (100, 900),
    "commune_search": (60, 60),
}


def behind(proxy: str, forwarded_for: str) -> Client:
    return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded_for)


@override_settings(CARTOSTUP_TRUSTED_PROXIES=[PROXY], CARTOSTUP_RATE_LIMITS=LIMITS)
def test_two_clients_behind_one_trusted_proxy_have_their_own_buckets():
    first = behind(PROXY, "198.51.100.7")
    second = behind(PROXY, "203.0.113.40")
    assert [first.get(CHALLENGE).status_code for _ in range(3)] == [200, 200, 429]
    assert second.get(CHALLENGE).status_code == 200
    # A client that writes the header itself gains nothing: a proxy that appends (Debian's
    # `proxy_params`) puts the address it saw last, and that is the one counted.
    assert behind(PROXY, "192.0.2.99, 198.51.100.7").get(CHALLENGE).status_code == 429


@override_settings(CARTOSTUP_TRUSTED_PROXIES=[PROXY], CARTOSTUP_RATE_LIMITS=LIMITS)
def test_wrong_receipts_of_one_client_do_not_lock_the_follow_up_for_others():
    wrong = {"receipt": "ABCD-EFGH-JKMN-PQRS-TVWX-YZ09"}
    guesser = behind(PROXY, "198.51.100.7")
    statuses = [
        guesser.post(FOLLOWUP, wrong, content_type="application/json").status_code for _ in range(3)
    ]
    assert statuses == [400, 400, 429]
    other = behind(PROXY, "203.0.113.40")
    assert other.post(FOLLOWUP, wrong, content_type="application/json").status_code == 400


@override_settings(CARTOSTUP_TRUSTED_PROXIES=[PROXY], CARTOSTUP_RATE_LIMITS=LIMITS)
def test_the_header_of_an_undeclared_proxy_is_ignored():
    untrusted = "192.0.2.10"
    statuses = [
        behind(untrusted, f"198.51.100.{number}").get(CHALLENGE).status_code for number in range(3)
    ]
    assert statuses == [200, 200, 429]  # one bucket: its own address, whatever it writes
    assert Client(REMOTE_ADDR="192.0.2.11").get(CHALLENGE).status_code == 200


@override_settings(CARTOSTUP_TRUSTED_PROXIES=[], CARTOSTUP_RATE_LIMITS=LIMITS)
def test_without_declared_proxies_the_header_is_ignored():
    statuses = [
        behind(PROXY, f"198.51.100.{number}").get(CHALLENGE).status_code for number in range(3)
    ]
    assert statuses == [200, 200, 429]


@override_settings(CARTOSTUP_TRUSTED_PROXIES=[], CARTOSTUP_RATE_LIMITS=LIMITS)
def test_agents_of_one_call_platform_count_apart(persona):
    """A code review: the operators of a call platform share one address; one's typing
    errors on a caller's follow-up code locked the page for all of them."""
    from conftest import login_verified

    wrong = {"receipt": "ABCD-EFGH-JKMN-PQRS-TVWX-YZ09"}
    first = login_verified(Client(REMOTE_ADDR="192.0.2.20"), persona("caller_operator"))
    statuses = [first.post("/suivi/", wrong).status_code for _ in range(3)]
    assert statuses[2] == 429 and 429 not in statuses[:2]
    # Another account at the same address, and an anonymous visitor there, still may.
    second = login_verified(Client(REMOTE_ADDR="192.0.2.20"), persona("cross13_analyst"))
    assert second.post("/suivi/", wrong).status_code != 429
    assert Client(REMOTE_ADDR="192.0.2.20").post("/suivi/", wrong).status_code != 429
