"""Accounts: login with lockout, mandatory TOTP (enrolment and verification), logout, idle
timeout, password change, demo credentials, and the application shell around them."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartostup.access import account_services
from cartostup.access.middleware import LAST_SEEN_KEY
from cartostup.access.models import User
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent

PASSWORD = "Un-mot-de-passe-de-test-42"
LOGIN_URL = "/comptes/connexion/"
SECOND_FACTOR_URL = "/comptes/second-facteur/"
GENERIC_ERROR = "Identifiant ou mot de passe incorrect."

# django-otp makes the next attempt wait 1 s, 2 s, 4 s... after a wrong code; tests do not wait.
no_otp_delay = override_settings(OTP_TOTP_THROTTLE_FACTOR=0)


def code_for(device: TOTPDevice, offset_steps: int = 0) -> str:
    device.refresh_from_db()
    value = totp(
        device.bin_key,
        step=device.step,
        t0=device.t0,
        digits=device.digits,
        drift=device.drift + offset_steps,
    )
    return f"{value:06d}"


def wrong_code(device: TOTPDevice) -> str:
    # A code outside the tolerance window (three steps away), so it is certainly refused.
    return code_for(device, offset_steps=3)


def login(client: Client, username: str, password: str, next_url: str = ""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN_URL, data)


def events(action: AuditAction, user: User | None = None):
    qs = AuditEvent.objects.filter(action=action)
    if user is not None:
        qs = qs.filter(actor_id=user.pk)
    return qs


def confirmed_device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="test", confirmed=True)


# --- login and lockout --------------------------------------------------------------------------


def test_login_page_is_french_and_public(client, db):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="fr"' in body
    assert "Connexion à Cartostup" in body
    assert 'autocomplete="current-password"' in body


def test_wrong_password_gives_generic_error_and_audit_event(client, analyst):
    response = login(client, "cross13_analyst", "pas-le-bon-mot-de-passe")
    assert response.status_code == 200
    assert GENERIC_ERROR in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = events(AuditAction.LOGIN_FAILED, analyst).get()
    assert event.details == {"reason": "password"}
    analyst.refresh_from_db()
    assert analyst.failed_login_count == 1


def test_unknown_user_gets_the_same_answer_and_nothing_identifying_is_kept(client, analyst):
    unknown = login(client, "personne-inconnue", "pas-le-bon-mot-de-passe").content.decode()
    known = login(client, "cross13_analyst", "pas-le-bon-mot-de-passe").content.decode()

    def error_of(body: str) -> str:
        match = re.search(r"fr-alert--error.*?</div>", body, re.S)
        assert match is not None
        return match.group(0)

    assert error_of(unknown) == error_of(known)
    event = events(AuditAction.LOGIN_FAILED).filter(actor_id=None).get()
    assert event.details == {"reason": "unknown"}
    stored = list(AuditEvent.objects.values_list("details", "object_id", "actor_username"))
    assert "personne-inconnue" not in str(stored)


@override_settings(CARTOSTUP_LOGIN_MAX_FAILURES=3)
def test_lockout_after_consecutive_failures_refuses_even_the_right_password(client, analyst):
    for _ in range(3):
        login(client, "cross13_analyst", "mauvais")
    analyst.refresh_from_db()
    assert analyst.locked_until is not None
    assert analyst.locked_until > timezone.now() + timedelta(minutes=14)
    assert events(AuditAction.LOCKED, analyst).count() == 1

    response = login(client, "cross13_analyst", PASSWORD)
    assert response.status_code == 200
    assert GENERIC_ERROR in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert events(AuditAction.LOGIN_FAILED, analyst).filter(details__reason="locked").count() == 1

    # Once the lockout has passed, the right password works again and the counter restarts.
    User.objects.filter(pk=analyst.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    response = login(client, "cross13_analyst", PASSWORD)
    assert response.status_code == 302
    assert response["Location"].startswith(SECOND_FACTOR_URL)
    analyst.refresh_from_db()
    assert analyst.failed_login_count == 0
    assert analyst.locked_until is None


@override_settings(CARTOSTUP_LOGIN_MAX_FAILURES=3)
def test_success_resets_the_failure_count(client, analyst):
    login(client, "cross13_analyst", "mauvais")
    login(client, "cross13_analyst", "mauvais")
    assert login(client, "cross13_analyst", PASSWORD).status_code == 302
    client.logout()
    login(client, "cross13_analyst", "mauvais")
    analyst.refresh_from_db()
    assert analyst.failed_login_count == 1
    assert analyst.locked_until is None


def test_no_ip_address_is_stored_with_login_events(client, analyst):
    client.post(
        LOGIN_URL,
        {"username": "cross13_analyst", "password": "mauvais"},
        REMOTE_ADDR="203.0.113.77",
        HTTP_X_FORWARDED_FOR="198.51.100.23",
    )
    dump = str(list(AuditEvent.objects.values()))
    assert "203.0.113.77" not in dump
    assert "198.51.100.23" not in dump


# --- second factor ------------------------------------------------------------------------------


@no_otp_delay
def test_enrolment_flow_from_login_to_home(client, analyst):
    response = login(client, "cross13_analyst", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == SECOND_FACTOR_URL

    page = client.get(SECOND_FACTOR_URL)
    body = page.content.decode()
    assert "Activer le second facteur" in body
    device = TOTPDevice.objects.get(user=analyst)
    assert device.confirmed is False
    assert 'src="data:image/svg+xml' in body
    secret = account_services.totp_secret_base32(device)
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in body
    assert "style=" not in body

    # Reloading the page keeps the same secret (no new device).
    client.get(SECOND_FACTOR_URL)
    assert TOTPDevice.objects.filter(user=analyst).count() == 1

    refused = client.post(SECOND_FACTOR_URL, {"code": wrong_code(device)})
    assert refused.status_code == 200
    assert "Code incorrect ou expiré." in refused.content.decode()
    device.refresh_from_db()
    assert device.confirmed is False
    assert events(AuditAction.OTP_FAILED, analyst).count() == 1
    assert client.get("/").status_code == 302

    accepted = client.post(SECOND_FACTOR_URL, {"code": code_for(device)})
    assert accepted.status_code == 302
    assert accepted["Location"] == "/"
    device.refresh_from_db()
    assert device.confirmed is True
    assert events(AuditAction.OTP_ENROL, analyst).count() == 1
    assert events(AuditAction.LOGIN, analyst).count() == 1

    home = client.get("/")
    assert home.status_code == 200
    assert "CROSS des Bouches-du-Rhône" in home.content.decode()


@no_otp_delay
def test_verification_with_a_confirmed_device(client, analyst):
    device = confirmed_device(analyst)
    login(client, "cross13_analyst", PASSWORD, next_url="/territoires/")
    page = client.get(SECOND_FACTOR_URL + "?next=/territoires/")
    body = page.content.decode()
    assert "Activer le second facteur" not in body
    assert "data:image/svg+xml" not in body
    assert TOTPDevice.objects.filter(user=analyst).count() == 1

    response = client.post(SECOND_FACTOR_URL, {"code": code_for(device), "next": "/territoires/"})
    assert response.status_code == 302
    assert response["Location"] == "/territoires/"
    assert events(AuditAction.LOGIN, analyst).count() == 1
    assert client.get("/").status_code == 200


@no_otp_delay
def test_a_code_cannot_be_used_twice(client, analyst):
    device = confirmed_device(analyst)
    code = code_for(device)
    login(client, "cross13_analyst", PASSWORD)
    assert client.post(SECOND_FACTOR_URL, {"code": code}).status_code == 302
    other = Client()
    login(other, "cross13_analyst", PASSWORD)
    replay = other.post(SECOND_FACTOR_URL, {"code": code})
    assert replay.status_code == 200
    assert "Code incorrect ou expiré." in replay.content.decode()


@no_otp_delay
@override_settings(CARTOSTUP_LOGIN_MAX_FAILURES=3)
def test_wrong_codes_lock_the_account_and_end_the_session(client, analyst):
    device = confirmed_device(analyst)
    login(client, "cross13_analyst", PASSWORD)
    for _ in range(2):
        assert client.post(SECOND_FACTOR_URL, {"code": wrong_code(device)}).status_code == 200
    response = client.post(SECOND_FACTOR_URL, {"code": wrong_code(device)})
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert "_auth_user_id" not in client.session
    analyst.refresh_from_db()
    assert analyst.locked_until is not None
    assert events(AuditAction.OTP_FAILED, analyst).count() == 3
    assert events(AuditAction.LOCKED, analyst).count() == 1
    # Locked: the password is refused too.
    assert login(client, "cross13_analyst", PASSWORD).status_code == 200


def test_django_otp_delay_after_a_wrong_code_is_reported_not_counted(client, analyst):
    device = confirmed_device(analyst)
    login(client, "cross13_analyst", PASSWORD)
    client.post(SECOND_FACTOR_URL, {"code": wrong_code(device)})
    response = client.post(SECOND_FACTOR_URL, {"code": code_for(device)})
    assert "Trop de tentatives rapprochées" in response.content.decode()
    analyst.refresh_from_db()
    assert analyst.failed_login_count == 1


def test_unverified_user_cannot_reach_staff_pages(client, analyst):
    confirmed_device(analyst)
    login(client, "cross13_analyst", PASSWORD)
    response = client.get("/territoires/?x=1")
    assert response.status_code == 302
    assert response["Location"].startswith(SECOND_FACTOR_URL)
    assert unquote(response["Location"].split("next=", 1)[1]) == "/territoires/?x=1"
    # Account pages under /comptes/ that need a full login check it themselves.
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(SECOND_FACTOR_URL)


def test_anonymous_user_is_sent_to_login_with_next(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)
    response = client.get(reverse("accounts:second_factor"))
    assert response["Location"].startswith(LOGIN_URL)


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
@no_otp_delay
def test_open_redirect_is_refused(client, analyst, target):
    device = confirmed_device(analyst)
    response = login(client, "cross13_analyst", PASSWORD, next_url=target)
    assert "evil.example" not in response["Location"]
    assert "javascript" not in response["Location"]
    response = client.post(SECOND_FACTOR_URL, {"code": code_for(device), "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.parametrize("target", ["foo", "territoires/", "accounts:logout"])
def test_a_relative_next_leads_home(client_for, target):
    """A `next` that is not an address of the site (« foo », the name of a view) is the home
    page, on both the login and the second-factor pages (it was a server error)."""
    client = client_for("cross13_analyst")
    for page in (LOGIN_URL, SECOND_FACTOR_URL):
        response = client.get(page, {"next": target})
        assert response.status_code == 302, page
        assert response["Location"] == "/", page


# --- logout, idle timeout, password change ------------------------------------------------------


def test_logout_requires_post(client_for):
    client = client_for("cross13_analyst")
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.get("/").status_code == 200
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert client.get("/").status_code == 302
    assert events(AuditAction.LOGOUT).filter(actor_username="cross13_analyst").count() == 1


def test_header_shows_user_and_logout_button(client_for):
    body = client_for("cross13_analyst").get("/").content.decode()
    assert "Camille Martin" in body
    assert f'action="{reverse("accounts:logout")}"' in body
    assert 'method="post"' in body
    assert 'aria-current="page"' in body
    assert 'href="#content"' in body
    assert 'aria-controls="header-menu-modal"' in body


def test_navigation_follows_capabilities(client_for):
    admin_body = client_for("admin").get("/").content.decode()
    operator_body = client_for("caller_operator").get("/").content.decode()
    assert reverse("access:user_list") in admin_body
    assert reverse("core:audit_list") in admin_body
    assert reverse("access:user_list") not in operator_body
    assert reverse("territories:index") not in operator_body


@override_settings(CARTOSTUP_SESSION_IDLE_SECONDS=60)
def test_idle_session_is_logged_out_with_a_message(client_for):
    client = client_for("cross13_analyst")
    assert client.get("/").status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 61
    session.save()
    response = client.get("/", follow=True)
    assert response.redirect_chain[0][0].startswith(LOGIN_URL)
    assert "Votre session a expiré" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert events(AuditAction.LOGOUT).filter(details__reason="idle").count() == 1


@override_settings(CARTOSTUP_SESSION_IDLE_SECONDS=60)
def test_active_session_stays_open(client_for):
    client = client_for("cross13_analyst")
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 30
    session.save()
    assert client.get("/").status_code == 200
    # Kept rounded down to a sixth of the idle timeout (10 s here), never to the second.
    assert client.session[LAST_SEEN_KEY] % 10 == 0
    assert client.session[LAST_SEEN_KEY] >= int(time.time()) - 12


def test_password_change(client_for, persona):
    user = persona("cross13_analyst")
    user.set_password(PASSWORD)
    user.save()
    client = client_for("cross13_analyst")
    page = client.get(reverse("accounts:password_change"))
    assert page.status_code == 200
    assert "Changer de mot de passe" in page.content.decode()

    wrong = client.post(
        reverse("accounts:password_change"),
        {"old_password": "mauvais", "new_password1": "x", "new_password2": "x"},
    )
    assert "Le mot de passe actuel est incorrect." in wrong.content.decode()
    weak = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": "court", "new_password2": "court"},
    )
    assert weak.status_code == 200
    assert "fr-message--error" in weak.content.decode()
    same = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD},
    )
    assert same.status_code == 200
    assert "doit être différent du mot de passe actuel" in html.unescape(same.content.decode())
    assert events(AuditAction.PASSWORD_CHANGE, user).count() == 0

    new_password = "Encore-un-autre-secret-2026"
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert events(AuditAction.PASSWORD_CHANGE, user).count() == 1
    # The session that changed the password stays open and verified.
    assert client.get("/").status_code == 200


@override_settings(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
)
def test_argon2_is_the_password_hasher(client, analyst):
    from config.settings import base

    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    new_password = "Encore-un-autre-secret-2026"
    account_services.password_change(user=analyst, new_password=new_password)
    analyst.refresh_from_db()
    assert analyst.password.startswith("argon2$argon2id$")
    assert identify_hasher(analyst.password).algorithm == "argon2"
    assert login(client, "cross13_analyst", new_password).status_code == 302


def test_the_current_password_is_not_a_new_one(analyst):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        account_services.password_change(user=analyst, new_password=PASSWORD)
    assert "différent du mot de passe actuel" in refused.value.message_dict["new_password1"][0]
    assert not events(AuditAction.PASSWORD_CHANGE, analyst).exists()


# --- demo credentials ---------------------------------------------------------------------------


def test_demo_credentials_refused_outside_demo(persona, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.delenv("CARTOSTUP_DEMO", raising=False)
    with pytest.raises(ImproperlyConfigured):
        account_services.demo_account_credentials_ensure(user=persona("admin"))
    with pytest.raises(CommandError) as refused:
        call_command("demo_accounts")
    assert refused.value.returncode == 1
    with pytest.raises(CommandError):
        call_command("demo_accounts", code="admin")


def test_demo_accounts_prints_table_and_codes(persona, monkeypatch, capsys):
    monkeypatch.setenv("CARTOSTUP_DEMO", "1")
    user = persona("admin")
    secret = account_services.demo_account_credentials_ensure(user=user)
    # Idempotent: same device, same secret.
    assert account_services.demo_account_credentials_ensure(user=user) == secret
    assert TOTPDevice.objects.filter(user=user, name="démo", confirmed=True).count() == 1
    user.refresh_from_db()
    assert user.check_password(account_services.DEMO_PASSWORD)

    call_command("demo_accounts")
    out = capsys.readouterr().out
    assert account_services.DEMO_PASSWORD in out
    assert "/comptes/connexion/" in out
    assert "Administration de Cartostup" in out
    assert "Administrateur" in out
    assert secret in out
    assert "make code USER=" in out

    call_command("demo_accounts", code="admin")
    code = capsys.readouterr().out.strip()
    device = TOTPDevice.objects.get(user=user, name="démo")
    assert re.fullmatch(r"\d{6}", code)
    assert code in {code_for(device), code_for(device, offset_steps=-1)}

    # The printed code logs the demo account in.
    client = Client()
    login(client, "admin", account_services.DEMO_PASSWORD)
    with no_otp_delay:
        response = client.post(SECOND_FACTOR_URL, {"code": code_for(device)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_demo_code_for_unknown_account_fails(db, monkeypatch):
    monkeypatch.setenv("CARTOSTUP_DEMO", "1")
    with pytest.raises(CommandError):
        call_command("demo_accounts", code="not_a_persona")


# --- shell and error pages ----------------------------------------------------------------------


def test_pages_have_no_inline_style_or_unnonced_inline_script(client_for):
    client = client_for("admin")
    response = client.get("/")
    body = response.content.decode()
    found = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert found is not None
    nonce = found.group(1)
    assert "style=" not in body
    assert "<style" not in body
    for tag in re.findall(r"<script[^>]*>", body):
        assert "src=" in tag or f'nonce="{nonce}"' in tag


def test_home_links_territory_pages_when_available(client_for):
    body = client_for("cross13_analyst").get("/").content.decode()
    assert "Bouches-du-Rhône (13)" in body
    assert "Analyste" in body
    url = reverse("territories:departement", args=["13"])
    assert f'href="{url}"' in body


@pytest.mark.parametrize(
    ("username", "map_description", "list_description"),
    [
        ("cross13_analyst", "Points de deal, signalements et opérations sur la carte",
         "Liste filtrée, fiches et exports"),
        ("police13_investigator", "Points de deal et opérations sur la carte",
         "Liste filtrée, fiches et exports"),
        ("prefecture_13", "Nombre de points de deal et d'opérations par hexagone, points chauds",
         None),
        ("prosecutor_13", "Nombre de points de deal et d'opérations par hexagone, points chauds",
         None),
        ("landlord_13h", "Les points de deal de vos bâtiments",
         "Les points de vos bâtiments, leur statut et leurs exports"),
    ],
)  # fmt: skip
def test_home_shortcuts_say_what_the_role_will_find(
    client_for, username, map_description, list_description
):
    """The shortcuts promised every role « signalements » on the map and a list with records
    and exports: a prefecture counts, a landlord sees its buildings' points, an investigator
    no reports (an audit)."""
    body = client_for(username).get("/").content.decode()
    shortcuts = body[body.index("Accès rapides") :]
    assert map_description in shortcuts
    list_url = reverse("dealpoints:list")
    if list_description is None:
        assert f'href="{list_url}"' not in shortcuts
    else:
        assert list_description in shortcuts and f'href="{list_url}"' in shortcuts


@override_settings(DEBUG=False)
def test_404_page_is_french(client_for):
    response = client_for("cross13_analyst").get("/cette-page-n-existe-pas/")
    assert response.status_code == 404
    assert "Page introuvable" in response.content.decode()


def test_500_page_renders_without_request_or_database():
    # No `db` fixture: pytest-django makes any query fail here.
    from django.test import RequestFactory
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Erreur inattendue" in html
    assert 'lang="fr"' in html


@pytest.mark.parametrize(
    "username",
    ["cross13_analyst", "prefecture_13", "landlord_13h", "caller_operator", "admin", "auditor"],
)
def test_home_quick_links_offer_the_menus_pages(client_for, username):
    """An analyst's home offered Signalements, Territoires and Mot de passe, not the map, the
    deal points or the matching queue its menu has: the quick links offer every page of the
    menu (the same capabilities decide), and nothing the menu does not."""
    body = client_for(username).get("/").content.decode()
    start = body.index('id="header-navigation"')
    nav = body[start : body.index("</nav>", start)]
    menu = set(re.findall(r'class="fr-nav__link" href="([^"]+)"', nav))
    tiles = set(re.findall(r'<h3 class="fr-tile__title"><a href="([^"]+)"', body))
    # The home page itself, and the administration's index (its sections are tiles).
    menu -= {reverse("core:home"), reverse("access:index")}
    assert menu <= tiles, menu - tiles
    assert tiles - menu <= {reverse("accounts:password_change")}, tiles - menu
    if username == "cross13_analyst":
        for name in ("dealpoints:map", "dealpoints:list", "dealpoints:matching"):
            assert reverse(name) in tiles
