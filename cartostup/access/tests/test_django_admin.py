"""Django's admin is for inspection only: even mounted and opened by a superuser, it cannot set
a password (which would skip the password rules, the temporary-password flow and the audit
trail), not even the superuser's own, nor create, change or delete an account or a membership."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from cartostup.access.models import Membership, User
from cartostup.core.admin_site import InspectionAdminSite
from cartostup.core.models import AuditEvent
from conftest import login_verified

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cartostup.access.tests.django_admin_urls")]

ANALYST_PASSWORD = "Mot-de-passe-de-l-analyste-1"
SUPERUSER_PASSWORD = "Mot-de-passe-du-superutilisateur-1"
CHOSEN = "Choisi-dans-l-admin-de-Django-1"


@pytest.fixture
def superuser():
    return User.objects.create_superuser(
        username="inspection", email="", password=SUPERUSER_PASSWORD
    )


@pytest.fixture
def superuser_client(client, superuser):
    return login_verified(client, superuser)


@pytest.fixture
def analyst(persona):
    user = persona("cross13_analyst")
    user.set_password(ANALYST_PASSWORD)
    user.save(update_fields=["password"])
    return user


def test_the_site_uses_the_inspection_admin():
    assert isinstance(admin.site, InspectionAdminSite)


def test_a_users_password_cannot_be_set(superuser_client, analyst):
    url = reverse("admin:auth_user_password_change", args=[analyst.pk])
    assert superuser_client.get(url).status_code == 403
    response = superuser_client.post(
        url, {"password1": CHOSEN, "password2": CHOSEN, "usable_password": "true"}
    )
    assert response.status_code == 403
    analyst.refresh_from_db()
    assert analyst.check_password(ANALYST_PASSWORD) and not analyst.check_password(CHOSEN)


def test_the_superusers_own_password_cannot_be_set(superuser_client, superuser):
    url = reverse("admin:password_change")
    assert superuser_client.get(url).status_code == 403
    response = superuser_client.post(
        url,
        {"old_password": SUPERUSER_PASSWORD, "new_password1": CHOSEN, "new_password2": CHOSEN},
    )
    assert response.status_code == 403
    assert superuser_client.get(reverse("admin:password_change_done")).status_code == 403
    superuser.refresh_from_db()
    assert superuser.check_password(SUPERUSER_PASSWORD)


def test_a_user_is_shown_without_password_and_without_a_field_to_change(superuser_client, analyst):
    response = superuser_client.get(reverse("admin:access_user_change", args=[analyst.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    form = re.search(r'<form method="post" id="user_form".*?</form>', page, re.DOTALL)
    assert form is not None and "cross13_analyst" in form.group(0)
    # Every value is text: no field, no button.
    controls = re.findall(r"<(?:input|select|textarea|button)\b[^>]*>", form.group(0))
    assert controls and all('type="hidden"' in control for control in controls)
    # Neither the password's hash (nor its summary) nor a link to set another, anywhere.
    assert analyst.password.rsplit("$", 1)[-1] not in page
    assert "password/" not in page and "password_change" not in page


def test_no_user_or_membership_is_created_changed_or_deleted(superuser_client, analyst):
    before = (User.objects.count(), Membership.objects.count(), AuditEvent.objects.count())
    add = reverse("admin:access_user_add")
    assert superuser_client.get(add).status_code == 403
    response = superuser_client.post(
        add,
        {
            "username": "cree.dans.l.admin",
            "usable_password": "true",
            "password1": CHOSEN,
            "password2": CHOSEN,
        },
    )
    assert response.status_code == 403
    change = reverse("admin:access_user_change", args=[analyst.pk])
    response = superuser_client.post(
        change,
        {"username": "cross13_analyst", "is_superuser": "on", "is_staff": "on", "is_active": "on"},
    )
    assert response.status_code == 403
    delete = reverse("admin:access_user_delete", args=[analyst.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    analyst.refresh_from_db()
    assert not analyst.is_superuser and not analyst.is_staff
    assert analyst.check_password(ANALYST_PASSWORD)
    assert (User.objects.count(), Membership.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    "name", ["access_organisation", "access_sharinggroup", "access_building", "core_auditevent"]
)
def test_every_model_admin_only_shows(superuser_client, name):
    assert superuser_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    assert superuser_client.get(reverse(f"admin:{name}_add")).status_code == 403


@pytest.mark.urls("config.urls")
def test_the_site_does_not_route_the_admin(superuser_client):
    assert superuser_client.get("/admin/").status_code == 404
    assert superuser_client.get("/django-admin/").status_code == 404
