"""Administration and audit pages: who reaches them (others get 404), what they write, and the
audit events they leave."""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartostup.access import services, tokens, views
from cartostup.access.account_services import api_token_create, api_token_revoke
from cartostup.access.choices import Role
from cartostup.access.models import ApiToken, Building, Membership, Organisation, User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.core.shown_once import secret_join, secret_split
from cartostup.territories.models import Antenna, Departement

pytestmark = pytest.mark.django_db

HABITAT = "Habitat Phocéen (bailleur fictif)"


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-sequence")[0]


def make_building(persona, landlord: str = "landlord_13h", name: str = "Bâtiment A") -> Building:
    return services.building_create(
        actor=persona(landlord),
        name=name,
        address="12 allée des Amandiers, 13014 Marseille",
        latitude=43.3452,
        longitude=5.3949,
    )


@pytest.fixture
def admin_urls(persona):
    organisation = Organisation.objects.get(name="CROSS des Bouches-du-Rhône")
    user = persona("cross13_analyst")
    membership = Membership.objects.get(user=user)
    antenna = Antenna.objects.get_or_create(name="Marseille")[0]
    group = services.sharing_group_create(
        actor=persona("admin"), name="Groupe test", owner_organisation=organisation
    )
    api_token = api_token_create(actor=user, name="Logiciel de la CROSS", days=30).token
    return [
        reverse("access:index"),
        reverse("access:organisation_list"),
        reverse("access:organisation_create"),
        reverse("access:organisation_detail", args=[organisation.pk]),
        reverse("access:organisation_edit", args=[organisation.pk]),
        reverse("access:sharing_group_list"),
        reverse("access:sharing_group_create"),
        reverse("access:sharing_group_edit", args=[group.pk]),
        reverse("access:antenna_list"),
        reverse("access:antenna_edit", args=[antenna.pk]),
        reverse("access:user_list"),
        reverse("access:user_create"),
        reverse("access:user_detail", args=[user.pk]),
        reverse("access:user_edit", args=[user.pk]),
        reverse("access:user_deactivate", args=[user.pk]),
        reverse("access:user_reactivate", args=[user.pk]),
        reverse("access:user_second_factor_reset", args=[user.pk]),
        reverse("access:user_password_reset", args=[user.pk]),
        reverse("access:membership_create", args=[user.pk]),
        reverse("access:membership_delete", args=[membership.pk]),
        reverse("access:api_token_revoke", args=[api_token.pk]),
    ]


def test_admin_reaches_every_administration_page(client_for, admin_urls):
    client = client_for("admin")
    for url in admin_urls:
        response = client.get(url)
        # POST-only actions answer 405 to a GET, after the capability check.
        assert response.status_code in {200, 405}, url


@pytest.mark.parametrize(
    "name", ["cross13_analyst", "auditor", "landlord_13h", "prefecture_13", "caller_operator"]
)
def test_non_admin_gets_404_everywhere(client_for, admin_urls, name):
    client = client_for(name)
    user = User.objects.get(username="cross13_analyst")
    for url in admin_urls:
        if url == reverse("access:index"):
            continue  # the index lists what each one may use (below)
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "x"}).status_code == 404, url
    user.refresh_from_db()
    assert user.is_active
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_administration_index_lists_what_each_may_use(client_for):
    index = reverse("access:index")
    admin = client_for("admin").get(index).content.decode()
    assert reverse("access:organisation_list") in admin
    assert reverse("access:building_list") not in admin
    landlord = client_for("landlord_13h").get(index).content.decode()
    assert reverse("access:building_list") in landlord
    assert reverse("access:organisation_list") not in landlord
    auditor = client_for("auditor").get(index).content.decode()
    assert reverse("core:audit_list") in auditor
    assert reverse("access:user_list") not in auditor
    for name in ("cross13_analyst", "caller_operator", "prefecture_13"):
        assert client_for(name).get(index).status_code == 404


def test_anonymous_is_sent_to_login(client, admin_urls):
    for url in admin_urls[:3]:
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]


# --- organisations -------------------------------------------------------------------------------


def test_admin_creates_organisation_through_the_page(client_for):
    client = client_for("admin")
    departement = Departement.objects.get(code="93")
    response = client.post(
        reverse("access:organisation_create"),
        {
            "name": "Bailleur de Bobigny",
            "kind": "landlord",
            "departements": [departement.pk],
            "is_active": "on",
        },
    )
    organisation = Organisation.objects.get(name="Bailleur de Bobigny")
    assert response.status_code == 302
    assert response["Location"] == reverse("access:organisation_detail", args=[organisation.pk])
    event = last_event()
    assert (event.action, event.object_type, event.object_id) == (
        AuditAction.CREATE,
        "access.organisation",
        str(organisation.pk),
    )
    page = client.get(response["Location"])
    assert "Organisation « Bailleur de Bobigny » créée." in page.content.decode()
    assert last_event().action == AuditAction.VIEW  # opening the record is audited


def test_organisation_form_explains_errors_in_french(client_for):
    client = client_for("admin")
    before = AuditEvent.objects.count()
    response = client.post(reverse("access:organisation_create"), {"name": "", "kind": "police"})
    content = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"Le formulaire contient (une erreur|\d+ erreurs)", content)
    assert "Choisissez au moins un département" in content
    assert AuditEvent.objects.count() == before


def test_admin_edits_organisation(client_for):
    client = client_for("admin")
    organisation = Organisation.objects.get(name="CROSS du Rhône")
    departement = Departement.objects.get(code="69")
    response = client.post(
        reverse("access:organisation_edit", args=[organisation.pk]),
        {"name": "CROSS du Rhône", "kind": "cross", "departements": [departement.pk]},
    )
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert not organisation.is_active
    event = last_event()
    assert event.action == AuditAction.UPDATE and event.details["fields"] == ["is_active"]


def test_organisation_list_filters_and_counts_members(client_for, persona):
    persona("cross13_analyst")
    client = client_for("admin")
    response = client.get(reverse("access:organisation_list"), {"kind": "cross"})
    content = response.content.decode()
    assert "CROSS des Bouches-du-Rhône" in content and "Préfecture du Rhône" not in content
    departement = Departement.objects.get(code="93")
    response = client.get(reverse("access:organisation_list"), {"departement": departement.pk})
    content = response.content.decode()
    assert "CROSS de la Seine-Saint-Denis" in content and "CROSS du Rhône" not in content
    organisations = list(response.context["organisations"])
    assert all(hasattr(organisation, "member_count") for organisation in organisations)


# --- users ---------------------------------------------------------------------------------------


SHOWN_PASSWORD = re.compile(r'<code id="temporary-password">([^<]+)</code>')
NEW_USER = {"username": "nouvel.agent", "first_name": "Nina", "last_name": "Rey", "email": ""}


def shown_password(response) -> str | None:
    found = SHOWN_PASSWORD.search(response.content.decode())
    return found.group(1) if found else None


def test_user_creation_redirects_to_the_temporary_password_shown_once(client_for):
    """Post/Redirect/Get: the creation's response shows nothing (reloading the page that
    shows the password posts nothing), and that page shows it once."""
    client = client_for("admin")
    response = client.post(reverse("access:user_create"), NEW_USER)
    user = User.objects.get(username="nouvel.agent")
    page = reverse("access:user_temporary_password", args=[user.pk])
    assert response.status_code == 302
    assert response["Location"] == page
    assert "no-store" in response["Cache-Control"]
    assert last_event().action == AuditAction.CREATE
    shown = client.get(page)
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    password = shown_password(shown)
    assert password is not None and user.check_password(password)
    content = html.unescape(shown.content.decode())
    assert "Compte « nouvel.agent » créé." in content
    assert "il n'est affiché qu'une fois" in content
    # Reloading the page (F5) creates nothing and shows the password no more, but says why
    # and how to give a new one.
    again = client.get(page, follow=True)
    assert again.redirect_chain == [(reverse("access:user_detail", args=[user.pk]), 302)]
    content = html.unescape(again.content.decode())
    assert password not in content
    assert "Le mot de passe provisoire n'est affiché qu'une fois" in content
    assert "Nouveau mot de passe provisoire" in content
    assert User.objects.filter(username__iexact="nouvel.agent").count() == 1
    # The membership form's organisation list speaks French (not « --------- »).
    assert ">Choisir une organisation…</option>" in content
    assert "---------" not in content


def test_a_typed_password_is_not_shown_at_all(client_for):
    client = client_for("admin")
    typed = "Un-mot-de-passe-bien-long-42"
    response = client.post(
        reverse("access:user_create"),
        {**NEW_USER, "password": typed, "password_confirmation": typed},
    )
    user = User.objects.get(username="nouvel.agent")
    assert response["Location"] == reverse("access:user_detail", args=[user.pk])
    assert user.check_password(typed) and not user.must_change_password
    assert views.TEMPORARY_PASSWORD_SHOWN_ONCE.session_key not in client.session
    shown = client.get(reverse("access:user_temporary_password", args=[user.pk]))
    assert shown.status_code == 302


@contextmanager
def every_log_message() -> Iterator[list[str]]:
    """The messages of every record logged meanwhile, at any level, and every SQL statement
    (Django's own loggers do not reach the root logger in these settings)."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(f"{record.getMessage()} {record.args!r}")

    handler = Keep(level=logging.DEBUG)
    loggers = [
        logging.getLogger(name) for name in ("", "django", "django.request", "django.server")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    connection.force_debug_cursor = True
    try:
        yield messages
    finally:
        connection.force_debug_cursor = False
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def test_the_temporary_password_is_written_nowhere_on_its_way(client_for):
    """Not in a URL, the session (in the database), the cookie, a log or an SQL statement: the
    session and the cookie each hold a share of it, never the password; once shown, both are
    forgotten."""
    once = views.TEMPORARY_PASSWORD_SHOWN_ONCE
    client = client_for("admin")
    with every_log_message() as logged:
        response = client.post(reverse("access:user_create"), NEW_USER)
        user = User.objects.get(username="nouvel.agent")
        page = reverse("access:user_temporary_password", args=[user.pk])
        cookie = response.cookies[once.cookie]
        assert cookie["path"] == page
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["max-age"]
        kept = client.session[once.session_key]
        stored = " ".join(
            f"{session.session_data} {json.dumps(session.get_decoded())}"
            for session in Session.objects.all()
        )
        shown = client.get(page)
    password = shown_password(shown)
    assert password is not None
    assert password not in response["Location"]
    assert password not in shown.wsgi_request.get_full_path()
    assert password not in stored and password not in cookie.value and password not in str(kept)
    # The user and the session were written under the log's eyes.
    assert any("INSERT INTO" in message and "access_user" in message for message in logged)
    assert any("django_session" in message for message in logged)
    assert not [message for message in logged if password in message]
    events = " ".join(str(event.details) for event in AuditEvent.objects.all())
    assert password not in events
    assert once.session_key not in client.session
    assert client.cookies[once.cookie].value == ""
    # One share alone gives nothing; a share of another password neither.
    assert secret_join(kept["share"], cookie.value, valid=once.valid) == password
    assert secret_join(kept["share"], None, valid=once.valid) is None
    _other, other_pad = secret_split(services.temporary_password_generate())
    assert secret_join(kept["share"], other_pad, valid=once.valid) is None


def test_a_temporary_password_is_shown_only_on_its_accounts_page(client_for, persona):
    """The session's share names the page it is for: another account's page shows nothing
    and leaves it (a browser sends the cookie share to its own page only; Django's test
    client, which ignores cookie paths, would send it everywhere)."""
    once = views.TEMPORARY_PASSWORD_SHOWN_ONCE
    client = client_for("admin")
    client.post(reverse("access:user_create"), NEW_USER)
    user = User.objects.get(username="nouvel.agent")
    other = persona("cross13_analyst")
    elsewhere = client.get(reverse("access:user_temporary_password", args=[other.pk]))
    assert elsewhere.status_code == 302 and shown_password(elsewhere) is None
    kept = client.session[once.session_key]
    assert kept["page"] == reverse("access:user_temporary_password", args=[user.pk])


def test_admin_gives_a_new_temporary_password(client_for, persona):
    client = client_for("admin")
    user = persona("cross13_analyst")
    holder = client_for("cross13_analyst")
    assert holder.get("/").status_code == 200
    detail = client.get(reverse("access:user_detail", args=[user.pk])).content.decode()
    reset = reverse("access:user_password_reset", args=[user.pk])
    assert f'action="{reset}"' in detail
    response = client.post(reset)
    page = reverse("access:user_temporary_password", args=[user.pk])
    assert response.status_code == 302 and response["Location"] == page
    shown = client.get(page)
    password = shown_password(shown)
    user.refresh_from_db()
    assert password is not None and user.check_password(password) and user.must_change_password
    assert "l'ancien mot de passe ne fonctionne plus" in html.unescape(shown.content.decode())
    event = AuditEvent.objects.filter(details__operation="password_reset").get()
    assert event.object_id == str(user.pk)
    # The holder's open session ended with the old password.
    assert holder.get("/")["Location"].startswith(reverse("accounts:login"))
    # Shown once: reloading gives the explanation, not the password.
    again = client.get(page, follow=True)
    assert password not in again.content.decode()
    assert "n&#x27;est affiché qu&#x27;une fois" in again.content.decode()
    # A GET never changes anything.
    assert client.get(reset).status_code == 405
    user.refresh_from_db()
    assert user.check_password(password)


def test_admin_cannot_reset_their_own_password_from_the_administration(client_for, persona):
    client = client_for("admin")
    admin = persona("admin")
    detail = client.get(reverse("access:user_detail", args=[admin.pk])).content.decode()
    assert reverse("access:user_password_reset", args=[admin.pk]) not in detail
    response = client.post(reverse("access:user_password_reset", args=[admin.pk]), follow=True)
    assert response.redirect_chain == [(reverse("access:user_detail", args=[admin.pk]), 302)]
    assert "Vous ne pouvez pas réinitialiser votre propre mot de passe" in html.unescape(
        response.content.decode()
    )
    admin.refresh_from_db()
    assert not admin.must_change_password
    assert not AuditEvent.objects.filter(details__operation="password_reset").exists()


def test_user_creation_refuses_a_username_taken_with_other_capitals(client_for, persona):
    persona("cross13_analyst")
    response = client_for("admin").post(
        reverse("access:user_create"),
        {"username": "CROSS13_ANALYST", "first_name": "", "last_name": "", "email": ""},
    )
    assert response.status_code in (200, 400)
    assert "temporary_password" not in response.context or not response.context.get(
        "temporary_password"
    )
    assert "Un compte porte déjà cet identifiant" in html.unescape(response.content.decode())
    assert not User.objects.filter(username="CROSS13_ANALYST").exists()


def test_user_creation_says_every_error_at_once(client_for, persona):
    """A taken username was said only once the e-mail address was mended, on the next
    submission (an audit): every error comes at once, what was typed kept."""
    persona("cross13_analyst")
    response = client_for("admin").post(
        reverse("access:user_create"),
        {"username": "CROSS13_ANALYST", "first_name": "Jeanne", "last_name": "", "email": "x"},
    )
    form = response.context["form"]
    assert set(form.errors) == {"username", "email"}, form.errors
    assert "Un compte porte déjà cet identifiant" in form.errors["username"][0]
    assert 'value="Jeanne"' in response.content.decode()
    assert not User.objects.filter(username="CROSS13_ANALYST").exists()


def test_membership_with_invalid_role_refused_in_french(client_for, persona):
    client = client_for("admin")
    user = persona("cross13_analyst")
    landlord = Organisation.objects.get(name=HABITAT)
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = client.post(
        reverse("access:membership_create", args=[user.pk]),
        {"organisation": landlord.pk, "role": Role.INVESTIGATOR},
    )
    assert response.status_code == 400
    assert "Le rôle « Enquêteur » n&#x27;est pas possible" in response.content.decode()
    assert not Membership.objects.filter(user=user, organisation=landlord).exists()
    # Nothing written; the account's page shown again with the error is a read, audited.
    assert sorted(
        (event.action, event.object_type) for event in AuditEvent.objects.filter(pk__gt=before)
    ) == [(AuditAction.LIST, "access.apitoken"), (AuditAction.VIEW, "access.user")]


def test_membership_added_and_removed_through_the_page(client_for, persona):
    client = client_for("admin")
    user = persona("cross13_analyst")
    police = Organisation.objects.get(name="Police nationale – DIPN 13")
    response = client.post(
        reverse("access:membership_create", args=[user.pk]),
        {"organisation": police.pk, "role": Role.INVESTIGATOR},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=user, organisation=police)
    assert last_event().action == AuditAction.CREATE
    client.post(reverse("access:membership_delete", args=[membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert last_event().action == AuditAction.DELETE


def test_deactivate_reactivate_and_reset_second_factor(client_for, persona):
    client = client_for("admin")
    user = persona("cross13_analyst")
    TOTPDevice.objects.create(user=user, name="téléphone", confirmed=True)
    client.post(reverse("access:user_deactivate", args=[user.pk]))
    user.refresh_from_db()
    assert not user.is_active
    client.post(reverse("access:user_reactivate", args=[user.pk]))
    user.refresh_from_db()
    assert user.is_active
    response = client.post(reverse("access:user_second_factor_reset", args=[user.pk]))
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    event = last_event()
    assert (event.object_id, event.details["operation"]) == (str(user.pk), "second_factor_reset")
    # A GET never changes anything.
    assert client.get(reverse("access:user_deactivate", args=[user.pk])).status_code == 405


def test_user_list_filters_and_is_audited(client_for, persona):
    persona("cross13_analyst")
    persona("landlord_13h")
    client = client_for("admin")
    cross = Organisation.objects.get(name="CROSS des Bouches-du-Rhône")
    response = client.get(
        reverse("access:user_list"), {"organisation": cross.pk, "role": Role.ANALYST}
    )
    usernames = {user.username for user in response.context["users"]}
    assert usernames == {"cross13_analyst"}
    event = last_event()
    assert event.action == AuditAction.LIST
    assert event.details["filters"] == {"organisation": str(cross.pk), "role": "analyst"}
    # Organisation and role apply to the same membership.
    response = client.get(
        reverse("access:user_list"), {"organisation": cross.pk, "role": Role.INVESTIGATOR}
    )
    assert not list(response.context["users"])


@pytest.mark.parametrize(
    ("name", "query", "said"),
    [
        ("access:user_list", {"is_active": "zzz"}, "Compte actif : Valeur inconnue"),
        ("access:user_list", {"role": "chef"}, "Rôle : Valeur inconnue"),
        ("access:user_list", {"organisation": "999999"}, "Organisation : "),
        ("access:organisation_list", {"is_active": "peut-être"}, "Active : Valeur inconnue"),
        ("access:organisation_list", {"kind": "zzz"}, "Type : Valeur inconnue"),
    ],
)
def test_admin_lists_with_invalid_filters_say_so_and_list_nobody(
    client_for, persona, name, query, said
):
    """An invalid filter lists nothing under its error (django-filter ignored it and listed
    every account: « zzz » read as "active or not"), and records no listing."""
    persona("cross13_analyst")
    client = client_for("admin")
    before = AuditEvent.objects.count()
    response = client.get(reverse(name), query)
    assert response.status_code == 200
    assert response.context["page_obj"].paginator.count == 0
    alert = response.content.decode().split('id="list-filter-errors"')[1].split("</div>")[0]
    assert said in alert
    assert AuditEvent.objects.count() == before
    # The same list with valid filters lists and records.
    assert client.get(reverse(name), {"is_active": "true"}).context["page_obj"].paginator.count
    assert AuditEvent.objects.count() == before + 1


# --- personal API tokens of a user ---------------------------------------------------------------


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_admin_sees_a_users_api_tokens_but_never_their_secret(client_for, persona):
    analyst = persona("cross13_analyst")
    active = api_token_create(actor=analyst, name="Logiciel de la CROSS", days=30)
    revoked = api_token_create(actor=analyst, name="Ancien script", days=30)
    other = api_token_create(actor=persona("cross93_analyst"), name="Autre", days=30)
    api_token_revoke(actor=analyst, token=revoked.token)
    client = client_for("admin")
    response = client.get(reverse("access:user_detail", args=[analyst.pk]))
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    table = body.split("<caption>Jetons d'accès à l'API de « cross13_analyst »</caption>")
    assert len(table) == 2, "the token table has a caption naming the account"
    assert "Logiciel de la CROSS" in table[1] and "Ancien script" in table[1]
    assert f"cst_{active.token.prefix}_…" in table[1]
    assert other.token.prefix not in body  # another account's token
    # One « Révoquer » button, for the token still active, whose accessible name names it.
    revoke = reverse("access:api_token_revoke", args=[active.token.pk])
    assert f'action="{revoke}"' in body
    assert reverse("access:api_token_revoke", args=[revoked.token.pk]) not in body
    label = f"Révoquer le jeton « Logiciel de la CROSS » (cst_{active.token.prefix})"
    assert f'aria-label="{label}"' in body
    assert "révoqué le" in table[1]
    # Neither the secrets nor their keyed hashes reach the page.
    for created in (active, revoked):
        parsed = tokens.token_parse(created.value)
        assert parsed is not None
        assert parsed.secret not in body and created.value not in body
        assert ApiToken.objects.get(pk=created.token.pk).digest not in body
    # The list is a protected read: audited, naming the account, with no secret.
    listing = AuditEvent.objects.get(action=AuditAction.LIST, object_type="access.apitoken")
    assert listing.actor_id == persona("admin").pk
    assert listing.details == {"user": analyst.pk}


def test_a_user_without_tokens_is_said_so(client_for, persona):
    user = persona("prefecture_13")
    response = client_for("admin").get(reverse("access:user_detail", args=[user.pk]))
    assert "Aucun jeton : ce compte n'appelle pas l'API." in html.unescape(
        response.content.decode()
    )


def test_admin_revokes_a_users_token_and_it_stops_working(client_for, persona):
    analyst = persona("cross13_analyst")
    created = api_token_create(actor=analyst, name="Logiciel de la CROSS", days=30)
    api = Client()
    assert api.get("/api/v1/dealpoints/", headers=_bearer(created.value)).status_code == 200
    client = client_for("admin")
    revoke = reverse("access:api_token_revoke", args=[created.token.pk])
    # A GET changes nothing.
    assert client.get(revoke).status_code == 405
    assert api.get("/api/v1/dealpoints/", headers=_bearer(created.value)).status_code == 200
    response = client.post(revoke, follow=True)
    assert response.redirect_chain == [(reverse("access:user_detail", args=[analyst.pk]), 302)]
    assert (
        "Jeton « Logiciel de la CROSS » de « cross13_analyst » révoqué : il ne permet plus "
        "d'appeler l'API." in html.unescape(response.content.decode())
    )
    created.token.refresh_from_db()
    assert created.token.revoked_at is not None
    assert created.token.revoked_by == persona("admin")
    refused = api.get("/api/v1/dealpoints/", headers=_bearer(created.value))
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Ce jeton d'accès a été révoqué.", "code": "token_invalid"}
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="access.apitoken")
    assert (event.actor_id, event.object_id) == (persona("admin").pk, str(created.token.pk))
    assert event.details == {
        "api_token": created.token.pk,
        "prefix": created.token.prefix,
        "revoked": True,
    }
    # Posting again (a second click) writes nothing more and says so.
    again = client.post(revoke, follow=True)
    assert "était déjà révoqué" in html.unescape(again.content.decode())
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE).count() == 1


@pytest.mark.parametrize(
    "name", ["cross13_analyst", "cross93_analyst", "auditor", "landlord_13h", "prefecture_13"]
)
def test_only_an_administrator_sees_or_revokes_a_users_token_here(client_for, persona, name):
    """The token's own holder (who revokes it on « Jetons d'accès à l'API »), another analyst,
    the auditor (national, in the administration, without user management): 404 for the page
    and for the revocation, and the token still works."""
    analyst = persona("cross13_analyst")
    created = api_token_create(actor=analyst, name="Logiciel de la CROSS", days=30)
    client = client_for(name)
    assert client.get(reverse("access:user_detail", args=[analyst.pk])).status_code == 404
    revoke = reverse("access:api_token_revoke", args=[created.token.pk])
    assert client.post(revoke).status_code == 404
    assert client.get(revoke).status_code == 404
    created.token.refresh_from_db()
    assert created.token.revoked_at is None
    assert not AuditEvent.objects.filter(
        object_type="access.apitoken", action__in=[AuditAction.LIST, AuditAction.UPDATE]
    ).exists()
    assert Client().get("/api/v1/dealpoints/", headers=_bearer(created.value)).status_code == 200


def test_revoking_an_unknown_token_is_404(client_for):
    client = client_for("admin")
    assert client.post(reverse("access:api_token_revoke", args=[999999])).status_code == 404


# --- antennas ------------------------------------------------------------------------------------


def test_admin_edits_antenna_departements(client_for):
    client = client_for("admin")
    antenna = Antenna.objects.get_or_create(name="Marseille")[0]
    codes = ["13", "83"]
    response = client.post(
        reverse("access:antenna_edit", args=[antenna.pk]),
        {
            "departements": list(
                Departement.objects.filter(code__in=codes).values_list("pk", flat=True)
            )
        },
    )
    assert response.status_code == 302
    assert set(antenna.departements.values_list("code", flat=True)) == set(codes)
    assert last_event().object_type == "territories.antenna"


# --- buildings -----------------------------------------------------------------------------------


def test_landlord_creates_building_through_the_page(client_for):
    client = client_for("landlord_13h")
    response = client.post(
        reverse("access:building_create"),
        {
            "name": "Résidence test – bâtiment B",
            "address": "14 allée des Amandiers, 13014 Marseille",
            "latitude": "43.3458",
            "longitude": "5.3961",
            "stairwells": "B1, B2",
        },
    )
    assert response.status_code == 302, response.content.decode()
    building = Building.objects.get(name="Résidence test – bâtiment B")
    assert building.owner_organisation.name == HABITAT
    assert last_event().action == AuditAction.CREATE
    listing = client.get(reverse("access:building_list")).content.decode()
    assert "Résidence test – bâtiment B" in listing


def test_the_building_page_refuses_duplicate_stairwells(client_for):
    response = client_for("landlord_13h").post(
        reverse("access:building_create"),
        {
            "name": "Résidence test – bâtiment C",
            "address": "14 allée des Amandiers, 13014 Marseille",
            "latitude": "43.3458",
            "longitude": "5.3961",
            "stairwells": "A, A, B",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Chaque cage d&#x27;escalier ne doit figurer qu&#x27;une fois : « A »." in page
    assert not Building.objects.filter(name="Résidence test – bâtiment C").exists()


def test_landlord_cannot_see_another_landlords_building(client_for, persona):
    building = make_building(persona, "landlord_13h")
    url = reverse("access:building_edit", args=[building.pk])
    assert client_for("landlord_13h").get(url).status_code == 200
    assert last_event().action == AuditAction.VIEW
    for name in ("landlord_13l", "admin", "cross13_analyst"):
        assert client_for(name).get(url).status_code == 404, name
    other = client_for("landlord_13l").get(reverse("access:building_list")).content.decode()
    assert "Bâtiment A" not in other


def test_building_outside_territory_explained(client_for):
    response = client_for("landlord_13h").post(
        reverse("access:building_create"),
        {"name": "Loin", "address": "Saint-Denis", "latitude": "48.9362", "longitude": "2.3574"},
    )
    assert response.status_code == 200
    assert "hors du territoire" in response.content.decode()
    assert not Building.objects.filter(name="Loin").exists()


# --- audit trail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["admin", "auditor"])
def test_audit_pages_for_admin_and_auditor(client_for, persona, name):
    event = audit_record(actor=persona("cross13_analyst"), action=AuditAction.SEARCH)
    client = client_for(name)
    response = client.get(reverse("core:audit_list"))
    assert response.status_code == 200
    assert event.sequence in [e.sequence for e in response.context["events"]]
    listing = last_event()
    assert (listing.action, listing.actor_username) == (AuditAction.LIST, name)
    response = client.get(reverse("core:audit_detail", args=[event.pk]))
    assert response.status_code == 200
    assert event.hash in response.content.decode()
    viewed = last_event()
    assert (viewed.action, viewed.object_type, viewed.object_id) == (
        AuditAction.VIEW,
        "core.auditevent",
        str(event.pk),
    )


def test_the_audit_pages_name_a_record_by_its_reference(client_for, persona):
    """« Point de deal : 62 »: the journal gave the database id, the reference only inside the
    details (an audit). Where the event says it, the reference comes beside the id."""
    from cartostup.dealpoints.tests.factories import dealpoint

    point = dealpoint(actor=persona("cross13_analyst"), latitude=43.3452, longitude=5.3949)
    event = AuditEvent.objects.filter(object_type="dealpoints.dealpoint").latest("pk")
    assert event.details["reference"] == point.reference
    client = client_for("auditor")
    listing = client.get(reverse("core:audit_list"), {"object_type": "dealpoints.dealpoint"})
    assert f"{point.pk} ({point.reference})" in listing.content.decode()
    detail = client.get(reverse("core:audit_detail", args=[event.pk])).content.decode()
    assert "Identifiant de l'objet" in detail
    assert f"<td>{point.reference}</td>" in detail


@pytest.mark.parametrize(
    "name", ["cross13_analyst", "ofast_analyst", "landlord_13h", "prefecture_13"]
)
def test_audit_pages_404_for_others(client_for, persona, name):
    event = audit_record(actor=persona("admin"), action=AuditAction.VIEW)
    client = client_for(name)
    before = AuditEvent.objects.count()
    for url in (
        reverse("core:audit_list"),
        reverse("core:audit_detail", args=[event.pk]),
        reverse("core:audit_export"),
    ):
        assert client.get(url).status_code == 404, url
    assert AuditEvent.objects.count() == before


def test_audit_filters(client_for, persona):
    analyst = persona("cross13_analyst")
    audit_record(
        actor=analyst, action=AuditAction.SEARCH, object_type="intel.record", object_id="7"
    )
    audit_record(actor=analyst, action=AuditAction.VIEW, object_type="intel.record", object_id="8")
    audit_record(actor=persona("admin"), action=AuditAction.SEARCH, object_type="intel.record")
    client = client_for("auditor")
    url = reverse("core:audit_list")

    def sequences(**filters):
        response = client.get(url, filters)
        assert response.status_code == 200
        return [e for e in response.context["events"]]

    found = sequences(actor="cross13_analyst", action="search")
    assert [(e.actor_username, e.object_id) for e in found] == [("cross13_analyst", "7")]
    found = sequences(object_type="intel.record", object_id="8")
    assert [e.action for e in found] == [AuditAction.VIEW]
    found = sequences(organisation="CROSS des Bouches", object_type="intel.record")
    assert {e.object_id for e in found} == {"7", "8"}
    # Newest first.
    assert [e.sequence for e in found] == sorted((e.sequence for e in found), reverse=True)
    today = found[0].occurred_at.astimezone().date().isoformat()
    assert len(sequences(object_type="intel.record", date_from=today, date_to=today)) == 3
    assert sequences(object_type="intel.record", date_to="2000-01-01") == []
    listing = last_event()
    assert listing.details["filters"] == {"object_type": "intel.record", "date_to": "2000-01-01"}
    # The French way too (a hand-made link).
    french = "/".join(reversed(today.split("-")))
    assert len(sequences(object_type="intel.record", date_from=french, date_to=french)) == 3


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"date_from": "31/02/2026"},
            "date_from",
            "Du : Date invalide : indiquez une date au format JJ/MM/AAAA (ou AAAA-MM-JJ).",
        ),
        (
            {"date_from": "2024-02-01", "date_to": "2024-01-01"},
            "date_to",
            "Au (inclus) : La fin de la période précède son début.",
        ),
        (
            {"action": "zzz"},
            "action",
            "Action : Valeur inconnue (valeurs acceptées : Consultation,",
        ),
    ],
)
def test_audit_invalid_filters_are_said_and_list_and_export_nothing(
    client_for, persona, params, field, message
):
    """User audit: the banner said « aucun événement n'est affiché » above the whole trail,
    unfiltered; the export answered 200 with only its header row."""
    audit_record(actor=persona("cross13_analyst"), action=AuditAction.SEARCH)
    client = client_for("auditor")
    before = AuditEvent.objects.count()

    response = client.get(reverse("core:audit_list"), params)

    assert response.status_code == 200
    page = response.content.decode()
    assert list(response.context["events"]) == []
    assert response.context["page_obj"].paginator.count == 0
    assert 'role="alert"' in page and escape(message) in page
    assert f'id="id_{field}-desc-error"' in page, page

    export = client.get(reverse("core:audit_export"), params)
    assert export.status_code == 400
    assert export["Content-Type"].startswith("text/html")
    html = export.content.decode()
    assert "Export impossible" in html and escape(message) in html
    assert f'href="{reverse("core:audit_list")}?{escape(urlencode(params))}"' in html
    # Nothing read, nothing exported: no event.
    assert AuditEvent.objects.count() == before


def test_an_audit_export_with_a_misspelt_filter_exports_nothing(client_for, persona):
    """`?acteur=` is no filter: exporting the whole trail as if it were filtered would mislead
    the auditor; the page names it. The list's page is not a filter but is no error."""
    audit_record(actor=persona("cross13_analyst"), action=AuditAction.SEARCH)
    client = client_for("auditor")
    before = AuditEvent.objects.count()
    export = client.get(reverse("core:audit_export"), {"acteur": "cross13_analyst"})
    assert export.status_code == 400
    html = export.content.decode()
    assert "Export impossible" in html and escape("Filtre inconnu : « acteur »") in html
    assert AuditEvent.objects.count() == before
    paged = client.get(reverse("core:audit_export"), {"actor": "cross13_analyst", "page": "2"})
    assert paged.status_code == 200
    assert "cross13_analyst" in b"".join(paged.streaming_content).decode("utf-8-sig")
    # The list says it too, and lists nothing (nor records a consultation).
    before = AuditEvent.objects.count()
    listed = client.get(reverse("core:audit_list"), {"acteur": "cross13_analyst"})
    assert listed.status_code == 200
    assert list(listed.context["events"]) == []
    assert escape("Filtre inconnu : « acteur ». Choisissez les filtres") in listed.content.decode()
    assert AuditEvent.objects.count() == before


def test_audit_pagination(client_for, persona):
    analyst = persona("cross13_analyst")
    for number in range(60):
        audit_record(
            actor=analyst, action=AuditAction.VIEW, object_type="x.y", object_id=str(number)
        )
    client = client_for("auditor")
    first = client.get(reverse("core:audit_list"), {"object_type": "x.y"})
    assert len(first.context["events"]) == 50
    assert 'class="fr-pagination"' in first.content.decode()
    second = client.get(reverse("core:audit_list"), {"object_type": "x.y", "page": 2})
    assert [e.object_id for e in second.context["events"]] == [str(n) for n in range(9, -1, -1)]
    assert last_event().details["page"] == 2


def test_audit_export_is_filtered_and_audited(client_for, persona):
    analyst = persona("cross13_analyst")
    audit_record(
        actor=analyst, action=AuditAction.SEARCH, object_type="intel.record", object_id="=1+1"
    )
    audit_record(actor=analyst, action=AuditAction.VIEW, object_type="intel.record", object_id="2")
    client = client_for("auditor")
    response = client.get(reverse("core:audit_export"), {"object_type": "intel.record"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "numero"
    assert [row[6] for row in rows[1:]] == ["2", "'=1+1"]  # newest first; no formula
    export = last_event()
    assert export.action == AuditAction.EXPORT
    assert export.details == {"filters": {"object_type": "intel.record"}, "count": 2}


def test_audit_pages_name_the_touched_objects_in_french(client_for, persona):
    analyst = persona("cross13_analyst")
    audit_record(
        actor=analyst, action=AuditAction.VIEW, object_type="dealpoints.dealpoint", object_id="42"
    )
    audit_record(actor=analyst, action=AuditAction.VIEW, object_type="x.y", object_id="7")
    body = client_for("auditor").get(reverse("core:audit_list")).content.decode()
    assert "Point de deal : 42" in body and "dealpoints.dealpoint" in body
    assert "x.y : 7" in body  # a model that no longer exists keeps its stored name
