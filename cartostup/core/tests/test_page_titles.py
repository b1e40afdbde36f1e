"""Every page has its own descriptive <title> (RGAA 8.6; user audit, item 8): the pages each
persona reaches from its home page (menu and quick links), and the account pages."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from cartostup.dealpoints.tests.factories import dealpoint

pytestmark = pytest.mark.django_db

PERSONAS = [
    "admin",
    "auditor",
    "cross13_analyst",
    "police13_investigator",
    "prefecture_13",
    "landlord_13h",
    "caller_operator",
]
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
NAVIGATION = re.compile(r'<a class="fr-(?:nav__link|tile__link|link)[^"]*" href="(/[^"#?]*)"')


def title_of(body: str) -> str:
    match = TITLE.search(body)
    assert match, "no <title>"
    return html.unescape(" ".join(match.group(1).split()))


@pytest.mark.parametrize("username", PERSONAS)
def test_each_page_a_persona_reaches_has_its_own_title(client_for, username):
    client = client_for(username)
    home = client.get("/").content.decode()
    assert title_of(home) == "Accueil – Cartostup"
    urls = sorted({"/", *NAVIGATION.findall(home), "/comptes/mot-de-passe/"})
    titles: dict[str, str] = {}
    for url in urls:
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        title = title_of(response.content.decode())
        assert title.endswith("Cartostup") and title != "Cartostup", (url, title)
        titles[url] = title
    assert len(titles) >= 3, titles
    seen: dict[str, str] = {}
    for url, title in titles.items():
        assert title not in seen, f"{url} and {seen.get(title)} are both « {title} »"
        seen[title] = url


def test_the_account_and_public_pages_have_their_own_titles():
    client = Client()
    titles = {
        url: title_of(client.get(url).content.decode())
        for url in ("/comptes/connexion/", "/signaler/", "/suivi/", "/prevention/")
    }
    assert titles["/comptes/connexion/"] == "Connexion – Cartostup"
    assert len(set(titles.values())) == len(titles), titles


def test_a_form_sent_back_with_errors_says_so_first_in_the_title(client_for, persona):
    """A screen reader hears the title first: a form sent back with errors begins it with
    « Erreur : » (RGAA and the State design system's practice). No page did; the visual audit
    met it on a point's operation and edit forms. Once, on every page (`base.html`)."""
    point = dealpoint(actor=persona("cross13_analyst"))
    client = client_for("cross13_analyst")
    record = reverse("dealpoints:detail", args=[point.pk])
    title = f"Point de deal {point.reference} – Cartostup"
    assert title_of(client.get(record).content.decode()) == title
    sent = client.post(reverse("dealpoints:operation", args=[point.pk]), {"operation-kind": ""})
    assert sent.status_code == 400
    assert title_of(sent.content.decode()) == f"Erreur : {title}"
    edit = reverse("dealpoints:edit", args=[point.pk])
    shown = title_of(client.get(edit).content.decode())
    assert not shown.startswith("Erreur")
    sent = client.post(edit, {"latitude": "nord", "longitude": "5.39"})
    assert sent.status_code == 400
    assert title_of(sent.content.decode()) == f"Erreur : {shown}"
    # A list's filters refused, and the public form, in its reader's language.
    listed = client.get(reverse("dealpoints:list"), {"active_from": "hier"})
    assert title_of(listed.content.decode()) == "Erreur : Points de deal – Cartostup"
    public = Client().post(reverse("reports_public:report"), {})
    assert title_of(public.content.decode()).startswith("Erreur : Signaler un point de deal – ")
