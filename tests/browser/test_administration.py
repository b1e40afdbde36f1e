"""The administrator in a real browser: creates an account and reads its temporary password
once (reloading the page neither creates the account again nor shows the password), then gives
the account a new one; neither password reaches a URL, a cookie or the server's logs."""

import re
import time
from pathlib import Path

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PASSWORD_PAGE = re.compile(r".*/administration/utilisateurs/\d+/mot-de-passe-provisoire/$")
ACCOUNT_PAGE = re.compile(r".*/administration/utilisateurs/\d+/$")


def test_administrator_reads_a_temporary_password_once(page, served_app):
    log_in(page, served_app, "admin")
    page.goto(f"{served_app.url}/administration/utilisateurs/nouveau/")
    page.get_by_label("Identifiant de connexion").fill("agent.navigateur")
    page.locator("#id_first_name").fill("Nadia")
    page.locator("#id_last_name").fill("Vidal")
    page.get_by_role("button", name="Créer le compte").click()
    page.wait_for_url(PASSWORD_PAGE)
    assert page.get_by_text("Compte « agent.navigateur » créé.").is_visible()
    first = page.locator("#temporary-password").inner_text()
    assert len(first) == 16

    # Reloading is a GET: no second creation (which would be refused), no password.
    page.reload()
    page.wait_for_url(ACCOUNT_PAGE)
    assert page.get_by_text(
        re.compile("Le mot de passe provisoire n'est affiché qu'une fois")
    ).is_visible()
    assert page.locator("#temporary-password").count() == 0
    assert page.get_by_text("Cet identifiant existe déjà").count() == 0

    # The way out the message names: a new temporary password, shown once too.
    page.get_by_role("button", name="Nouveau mot de passe provisoire").click()
    page.wait_for_url(PASSWORD_PAGE)
    second = page.locator("#temporary-password").inner_text()
    assert len(second) == 16 and second != first
    page.reload()
    page.wait_for_url(ACCOUNT_PAGE)
    assert page.locator("#temporary-password").count() == 0
    assert page.console_errors == []

    cookies = " ".join(f"{cookie['name']}={cookie['value']}" for cookie in page.context.cookies())
    time.sleep(1)  # let the server flush its logs
    data_dir = Path(served_app.env["CARTOSTUP_DATA_DIR"])
    logs = [data_dir / "server.log", data_dir / "logs" / "cartostup.log"]
    written = " ".join(log.read_text(errors="replace") for log in logs if log.exists())
    assert "Starting development server" in written
    for password in (first, second):
        assert password not in page.url and password not in cookies
        assert password not in written
