"""The warning before the idle logout (RGAA 13.1, WCAG 2.2.1), in a real browser, against a
second server on the same database with a 10-second idle limit and a 5-second warning (6 s for
the page: plus the 1-second rounding of the last activity, by which the session may end early)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.browser.server import ServedApp, free_port, runserver
from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

IDLE = 10
WARNING = 5
ROUNDING = 1  # 10 // 6


@pytest.fixture(scope="module")
def short_session_app(served_app, tmp_path_factory) -> Iterator[ServedApp]:
    port = free_port()
    env = {
        **served_app.env,
        "CARTOSTUP_SESSION_IDLE_SECONDS": str(IDLE),
        "CARTOSTUP_SESSION_WARNING_SECONDS": str(WARNING),
    }
    app = ServedApp(f"http://127.0.0.1:{port}", env)
    # The same users and devices: a TOTP code is never given twice.
    app._last_step = served_app._last_step
    app._devices = served_app.totp_devices()
    with runserver(env, port, tmp_path_factory.mktemp("short") / "server.log"):
        yield app


def test_the_session_warning_extends_then_says_it_expired(page, short_session_app):
    app = short_session_app
    log_in(page, app, "antenna13_analyst", reuse=False)
    logged_in_at = time.monotonic()
    dialog = page.get_by_role("dialog", name="Votre session va expirer")
    dialog.wait_for(state="visible", timeout=(IDLE - WARNING + 5) * 1000)
    assert time.monotonic() - logged_in_at >= IDLE - WARNING - ROUNDING - 2
    status = page.locator("#session-timeout-status")
    assert "votre session sera fermée dans moins d’une minute" in dialog.inner_text()
    deadline = time.monotonic() + 5
    while "sera fermée" not in status.inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert "sera fermée" in status.inner_text()
    # The button is focused: Enter extends the session.
    extend = page.get_by_role("button", name="Prolonger la session")
    assert extend.evaluate("element => element === document.activeElement")
    page.keyboard.press("Enter")
    dialog.wait_for(state="hidden", timeout=5000)
    extended_at = time.monotonic()
    deadline = time.monotonic() + 5
    while status.inner_text() != "Votre session est prolongée." and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert status.inner_text() == "Votre session est prolongée."

    # Past the idle limit counted from the login, within it counted from the extension: the
    # server kept the session.
    page.wait_for_timeout(max(0, (logged_in_at + IDLE + 1 - time.monotonic()) * 1000))
    assert time.monotonic() - extended_at < IDLE - ROUNDING - 1
    page.reload()
    assert page.url == f"{app.url}/"

    # Left alone: the warning, then the page says the session expired and offers the login.
    expired = page.get_by_role("dialog", name="Votre session a expiré")
    expired.wait_for(state="visible", timeout=(IDLE + 5) * 1000)
    relogin = page.get_by_role("link", name="Se reconnecter")
    assert relogin.is_visible()
    relogin.click()
    page.wait_for_url(f"{app.url}/comptes/connexion/**")
    assert "Votre session a expiré. Veuillez vous reconnecter." in page.content()
    assert page.console_errors == []


def test_typing_in_a_form_keeps_the_session_without_a_warning(page, short_session_app):
    """An operator keying in a long call, an analyst writing a record: typing is activity. The
    session is kept quietly while the person types (no modal taking the focus away), the text
    stays and is sent; once the typing stops, the warning comes as before."""
    app = short_session_app
    log_in(page, app, "cross13_analyst", reuse=False)
    page.goto(f"{app.url}/points-de-deal/nouveau/")
    name = page.locator("#id_name")
    warning = page.get_by_role("dialog", name="Votre session va expirer")
    started = time.monotonic()
    typed = ""
    # Past the idle limit counted from the page's load, typing a word every 2 seconds.
    while time.monotonic() - started < IDLE + 4:
        word = f"mot{len(typed) // 5} "
        name.press_sequentially(word)
        typed += word
        page.wait_for_timeout(2000)
        assert not warning.is_visible(), f"warning after {time.monotonic() - started:.1f} s"
    assert name.input_value() == typed
    # The server kept the session: the page's own form is served again, not the login.
    page.reload()
    assert page.url == f"{app.url}/points-de-deal/nouveau/"
    # Typing stopped: the warning comes.
    warning.wait_for(state="visible", timeout=(IDLE - WARNING + 5) * 1000)
    assert page.console_errors == []
