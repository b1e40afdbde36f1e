"""The error summary takes the focus when a form comes back with errors (RGAA 11.10), in a
real browser: a refused login."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-map")]


def test_a_refused_login_focuses_its_error_summary(page, served_app):
    page.goto(f"{served_app.url}/comptes/connexion/")
    page.get_by_label("Identifiant", exact=True).fill("personne")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert summary.get_attribute("role") == "alert"
    assert summary.evaluate("element => element === document.activeElement")
    assert page.get_by_role("link", name="Mot de passe : Ce champ est obligatoire.").is_visible()
    assert page.console_errors == []
