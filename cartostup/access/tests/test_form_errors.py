"""Form errors for everyone (user audit, item 7; RGAA 11.10): an error summary announced and
focused, `aria-invalid` on every invalid field, and the hint still described beside the error
(partials/field.html, shared by the staff and the public forms)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from cartostup.access.tests.test_accounts import (
    PASSWORD,
    SECOND_FACTOR_URL,
    confirmed_device,
    login,
    no_otp_delay,
    wrong_code,
)

pytestmark = pytest.mark.django_db


def _tag(body: str, element_id: str) -> str:
    match = re.search(rf'<input[^>]*id="{element_id}"[^>]*>', body)
    assert match, element_id
    return match.group(0)


@no_otp_delay
def test_a_wrong_second_factor_code_is_summarised_and_tied_to_its_field(client, analyst):
    device = confirmed_device(analyst)
    login(client, "cross13_analyst", PASSWORD)
    body = client.post(SECOND_FACTOR_URL, {"code": wrong_code(device)}).content.decode()
    assert 'role="alert" tabindex="-1" id="error-summary"' in body
    assert "Le formulaire contient une erreur</h2>" in body
    assert '<a href="#id_code">Code à 6 chiffres : Code incorrect ou expiré.</a>' in body
    field = _tag(body, "id_code")
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="id_code-hint id_code-errors"' in field
    assert 'id="id_code-hint"' in body and 'id="id_code-errors"' in body
    # The page focuses the summary on load.
    assert "/static/cartostup/forms.js" in body


def test_a_field_without_error_keeps_only_its_hint(client, analyst):
    confirmed_device(analyst)
    login(client, "cross13_analyst", PASSWORD)
    body = client.get(SECOND_FACTOR_URL).content.decode()
    field = _tag(body, "id_code")
    assert 'aria-describedby="id_code-hint"' in field and "aria-invalid" not in field
    assert 'id="error-summary"' not in body


def test_a_refused_login_is_summarised():
    body = Client().post("/comptes/connexion/", {"username": "x", "password": ""}).content.decode()
    assert 'id="error-summary"' in body
    assert '<a href="#id_password">Mot de passe : Ce champ est obligatoire.</a>' in body
    assert 'aria-invalid="true"' in _tag(body, "id_password")


def test_a_wrong_receipt_marks_the_field_invalid():
    body = Client().post("/suivi/", {"receipt": "ABCD"}).content.decode()
    field = _tag(body, "receipt")
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="receipt-hint followup-error"' in field
    assert "aria-invalid" not in _tag(Client().get("/suivi/").content.decode(), "receipt")
