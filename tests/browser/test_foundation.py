"""A newcomer's first minutes, in a real browser: log in with the second factor, see their
organisation, open their département's map and see its communes drawn."""

import re
import time

import pytest

from cartostup.access.account_services import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.smoke, pytest.mark.xdist_group("browser-map")]


def log_in(page, served_app, username: str, *, reuse: bool = True) -> None:
    """Log in through the form and the second factor. With `reuse`, a persona already logged
    in by an earlier test gets that session back (a second login within the same 30-second
    TOTP step would have to wait: django-otp refuses a replayed code)."""
    if reuse and username in served_app.sessions:
        page.context.add_cookies(served_app.sessions[username])
        page.goto(f"{served_app.url}/")
        if page.url == f"{served_app.url}/":
            return
        page.context.clear_cookies()
    page.goto(f"{served_app.url}/")
    assert "/comptes/connexion/" in page.url
    page.get_by_label("Identifiant", exact=True).fill(username)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r".*/comptes/second-facteur/.*"))
    page.get_by_label(re.compile("Code")).fill(served_app.totp_code(username))
    page.get_by_role("button", name=re.compile("Valider|Vérifier")).click()
    page.wait_for_url(f"{served_app.url}/")
    served_app.sessions[username] = page.context.cookies()


def test_analyst_logs_in_with_second_factor_and_sees_the_communes_map(page, served_app):
    log_in(page, served_app, "cross13_analyst", reuse=False)
    assert page.get_by_role("heading", name="CROSS des Bouches-du-Rhône").is_visible()

    page.get_by_role("link", name="Territoires").first.click()
    page.get_by_role("link", name=re.compile("Bouches-du-Rhône")).first.click()
    page.wait_for_url(re.compile(r".*/territoires/departements/13/"))
    # Marseille's 16 arrondissements and the département's other communes, drawn by Leaflet.
    # (Polled from Python: the page's CSP rightly forbids the eval Playwright's
    # wait_for_function would need.)
    paths = page.locator("#territory-map .leaflet-overlay-pane path")
    paths.first.wait_for(timeout=20_000)
    deadline = time.monotonic() + 20
    while paths.count() < 100 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert paths.count() >= 100
    assert page.get_by_role("cell", name="Marseille 1er Arrondissement").count() >= 1
    # A Content-Security-Policy violation or a script error shows in the console.
    assert page.console_errors == []


def test_analyst_cannot_open_another_departement(page, served_app):
    log_in(page, served_app, "cross93_analyst")
    response = page.goto(f"{served_app.url}/territoires/departements/13/")
    assert response is not None and response.status == 404


def test_administrator_browses_the_audit_trail(page, served_app):
    # A fresh login: with the session of an earlier test, the events of the tests run since
    # (each record read writes several) pushed its login off the trail's first page.
    log_in(page, served_app, "admin", reuse=False)
    page.get_by_role("link", name="Journal d'audit").first.click()
    # The administrator's own login is the latest event of the trail.
    assert page.get_by_role("cell", name="admin").count() >= 1
    assert page.console_errors == []
