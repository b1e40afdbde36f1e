"""A resident who reaches the site by its root or types a public address without its final
slash gets the public pages, never the agents' login as a dead end (user audit, item 1)."""

from __future__ import annotations

import pytest
from django.test import Client

from cartostup.access.middleware import LAST_SEEN_KEY

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/signaler", "/suivi", "/prevention"])
def test_public_address_without_its_slash_is_redirected_to_the_public_page(path):
    response = Client().get(path)
    assert response.status_code == 301
    assert response["Location"] == f"{path}/"
    page = Client().get(response["Location"])
    assert page.status_code == 200
    assert "Réservé aux agents habilités" not in page.content.decode()


def test_a_query_string_survives_the_slash_redirect():
    response = Client().get("/signaler?x=1")
    assert response.status_code == 301
    assert response["Location"] == "/signaler/?x=1"


def test_staff_pages_without_their_slash_still_need_a_login():
    response = Client().get("/points-de-deal")
    assert response.status_code == 302
    assert response["Location"].startswith("/comptes/connexion/")


def test_a_staff_session_is_not_touched_by_a_public_address_without_its_slash(client_for):
    client = client_for("cross13_analyst")
    session = client.session
    session[LAST_SEEN_KEY] = 1000
    session.save()
    assert client.get("/signaler").status_code == 301
    assert client.session[LAST_SEEN_KEY] == 1000


def test_the_anonymous_home_offers_the_residents_pages():
    response = Client().get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/comptes/connexion/")
    body = response.content.decode()
    assert '<a class="fr-link fr-ml-1w" href="/signaler/">Signaler un point de deal</a>' in body
    assert '<a class="fr-link fr-ml-1w" href="/suivi/">Suivre un signalement</a>' in body
