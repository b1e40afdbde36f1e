"""Error pages a user meets in ordinary use (user audit): a button's address opened as a page
(405), and where they send the reader back to (core.navigation)."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from cartostup.core.navigation import answers_get, form_page, parent_page
from cartostup.dealpoints.tests.factories import dealpoint
from cartostup.reports.tests.factories import submit

pytestmark = pytest.mark.django_db


def test_the_record_page_of_an_action_address():
    assert parent_page("/signalements/103/accepter/") == "/signalements/103/"
    assert parent_page("/points-de-deal/16/detacher/7/") == "/points-de-deal/16/"
    assert parent_page("/rapprochements/propositions/5/creer/") == "/rapprochements/"
    assert parent_page("/comptes/deconnexion/") is None
    assert answers_get("/comptes/deconnexion/") is False
    assert answers_get("/signaler/") is True
    assert answers_get("/signalements/103/accepter/") is None  # checks the method itself
    assert form_page("/signaler/", home="/") == "/signaler/"
    assert form_page("/signalements/103/accepter/", home="/") == "/signalements/103/"
    assert form_page("/comptes/deconnexion/", home="/") == "/"
    assert form_page("/signalements/appel/", home="/") == "/signalements/appel/"
    assert form_page("/nulle-part/", home="/") == "/"


def test_logout_opened_as_a_page_offers_the_logout_button(client_for):
    client = client_for("cross13_analyst")
    response = client.get(reverse("accounts:logout"))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    body = response.content.decode()
    assert '<html lang="fr" dir="ltr"' in body
    assert "<title>Se déconnecter – Cartostup</title>" in body
    assert f'<form method="post" action="{reverse("accounts:logout")}">' in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in response
    # The button works, and the session was not ended by the GET.
    assert client.get("/").status_code == 200
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get("/").status_code == 302


def test_logout_opened_as_a_page_without_a_session():
    response = Client().get(reverse("accounts:logout"))
    assert response.status_code == 405
    body = response.content.decode()
    assert "Adresse d'un bouton, pas d'une page" in body
    assert "Se déconnecter</button>" not in body


def test_a_triage_action_opened_as_a_page_links_to_the_report(client_for):
    report = submit().report
    url = reverse("reports:report_accept", args=[report.pk])
    response = client_for("cross13_analyst").get(url)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    body = response.content.decode()
    assert "<h1>Adresse d'un bouton, pas d'une page</h1>" in body
    assert "Rien n'a été fait." in body
    detail = reverse("reports:report_detail", args=[report.pk])
    assert f'<a class="fr-btn" href="{detail}">Aller à la page concernée</a>' in body


def test_a_deal_point_action_opened_as_a_page_links_to_the_point(client_for):
    point = dealpoint(actor=None)
    response = client_for("cross13_analyst").get(reverse("dealpoints:status", args=[point.pk]))
    assert response.status_code == 405
    detail = reverse("dealpoints:detail", args=[point.pk])
    assert f'href="{detail}">Aller à la page concernée</a>' in response.content.decode()


def test_the_api_keeps_its_json_405():
    response = Client().get("/api/public/v1/reports")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert "Adresse d'un bouton" not in response.content.decode()


def test_a_405_under_the_public_pages_speaks_the_readers_language():
    client = Client()
    client.cookies["django_language"] = "ar"
    response = client.post("/signaler/communes")
    assert response.status_code == 405
    body = response.content.decode()
    assert '<html lang="ar" dir="rtl"' in body
    assert "عنوان زرّ وليس عنوان صفحة" in body
    assert 'href="/signaler/"' in body


# --- an expired form (CSRF) -----------------------------------------------------------------


def _csrf_client(language: str = "") -> Client:
    client = Client(enforce_csrf_checks=True)
    if language:
        client.cookies["django_language"] = language
    return client


def test_an_expired_public_report_form_says_nothing_was_sent():
    from cartostup.reports.models import Report

    response = _csrf_client().post("/signaler/", {"description": "Vente au pied de l'immeuble"})
    assert response.status_code == 403
    body = response.content.decode()
    assert '<html lang="fr" dir="ltr"' in body
    assert "<title>Formulaire expiré – Cartostup</title>" in body
    assert "Rien n'a été envoyé." in body and "remplir le formulaire de nouveau" in body
    assert '<a class="fr-btn" href="/signaler/">Revenir au formulaire</a>' in body
    assert "DEBUG" not in body and "Forbidden" not in body
    assert "no-store" in response["Cache-Control"]
    assert not Report.objects.exists()


def test_an_expired_follow_up_form_in_arabic_links_to_the_follow_up():
    response = _csrf_client("ar").post("/suivi/reponse/", {"receipt": "x", "text": "y"})
    assert response.status_code == 403
    body = response.content.decode()
    assert '<html lang="ar" dir="rtl"' in body
    assert "لم يُرسَل أي شيء." in body
    assert 'href="/suivi/"' in body


def test_an_expired_staff_form_links_to_the_record(persona):
    from cartostup.reports.choices import Status
    from conftest import login_verified

    report = submit().report
    client = login_verified(_csrf_client(), persona("cross13_analyst"))
    response = client.post(reverse("reports:report_accept", args=[report.pk]), {"note": ""})
    assert response.status_code == 403
    body = response.content.decode()
    assert '<html lang="fr" dir="ltr"' in body and "Rien n'a été enregistré." in body
    detail = reverse("reports:report_detail", args=[report.pk])
    assert f'<a class="fr-btn" href="{detail}">Revenir au formulaire</a>' in body
    report.refresh_from_db()
    assert report.status == Status.NEW
    # A staff form posting to its own page links back to that page.
    response = client.post(reverse("accounts:password_change"), {})
    href = reverse("accounts:password_change")
    assert f'<a class="fr-btn" href="{href}">Revenir au formulaire</a>' in response.content.decode()


BUSY = OperationalError("database is locked")


def _sqlite_busy(tmp_path) -> Exception:
    """What SQLite itself raises when a write finds the database held by another (a second
    connection, as a long import holds it), wrapped as Django's backend wraps it."""
    import sqlite3

    path = tmp_path / "busy.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        waiter.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        return OperationalError(*error.args)
    finally:
        waiter.close()
        holder.close()
    raise AssertionError("the second writer was not refused")


def _writes_wait_behind_a_long_one(tables: tuple[str, ...] = ()):
    """The database answers every write (to `tables`, or any) as SQLite answers a write that
    waited its busy timeout behind another transaction, with SQLite's own words."""
    from django.db import connection

    def wrapper(execute, sql, params, many, context):
        statement = sql.lstrip().upper()
        if statement.startswith(("INSERT", "UPDATE", "DELETE")) and (
            not tables or any(table.upper() in statement for table in tables)
        ):
            raise BUSY
        return execute(sql, params, many, context)

    return connection.execute_wrapper(wrapper)


def test_sqlite_says_busy_as_the_middleware_expects(tmp_path):
    """The words matched are SQLite's own, seen on a real lock of a real file."""
    assert str(_sqlite_busy(tmp_path)) == str(BUSY)


def test_a_request_behind_a_long_write_is_a_503_said_in_french(client_for, persona, caplog):
    """New-user review: while an analyst checked a 5,000-line import (40 s on SQLite, `make
    run`'s database), other users' requests were 500s (« database is locked »). A page says
    the platform is busy and to try again, with Retry-After, and nothing was written."""
    from cartostup.dealpoints.models import DealPoint

    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    client = client_for("cross13_analyst")
    with _writes_wait_behind_a_long_one():
        page = client.post(
            reverse("dealpoints:status", kwargs={"pk": point.pk}),
            {"status-status": "confirmed", "status-from_status": "reported"},
        )
    assert page.status_code == 503 and page["Retry-After"] == "10"
    assert "no-store" in page["Cache-Control"]
    body = page.content.decode()
    assert "<title>Service occupé – Cartostup</title>" in body
    assert "Une autre écriture longue est en cours (un import de milliers de lignes" in body
    assert DealPoint.objects.get(pk=point.pk).status == "reported"
    assert "503" in caplog.text and "dealpoints:status" in caplog.text


def test_the_public_api_behind_a_long_write_says_it_in_json():
    """A reporter is told in the public pages' words (the public page's own 503 was seen on a
    real lock of `make run`'s database: a write refused outside a savepoint spoils a test's
    transaction for the page's reads, not the server's)."""
    from cartostup.reports.tests.test_public_views import form_data

    sent = {key: value for key, value in form_data().items() if key != "photo"}
    with _writes_wait_behind_a_long_one():
        api = Client().post("/api/public/v1/reports", sent, content_type="application/json")
    assert api.status_code == 503 and api["Retry-After"] == "10"
    said = json.loads(api.content)
    assert said["code"] == "busy" and said["detail"].startswith("Le service est très sollicité")


def test_a_session_saved_behind_a_long_write_is_a_503_too(client_for):
    """Code review: the session's save, after the view (once per activity mark), met the lock
    in the session middleware, where no view's error handling sees it: a 500."""
    from django.test import Client as TestClient

    from cartostup.access.middleware import LAST_SEEN_KEY

    client: TestClient = client_for("cross13_analyst")
    client.raise_request_exception = False
    client.get(reverse("core:home"))  # its first activity mark
    session = client.session
    session[LAST_SEEN_KEY] = session[LAST_SEEN_KEY] - 600  # the mark has moved on since
    session.save()
    with _writes_wait_behind_a_long_one(tables=("django_session",)):
        page = client.get(reverse("core:home"))
    assert page.status_code == 503 and page["Retry-After"] == "10"
    assert "Service occupé, réessayez dans un instant" in page.content.decode()


def test_a_write_of_a_middleware_behind_a_long_write_is_a_503_too(client_for):
    """An idle session ended in the middleware (its logout audited) met the lock outside any
    view: Django's 500, flagged and answered as the 503 it is."""
    from django.test import Client as TestClient

    from cartostup.access.middleware import LAST_SEEN_KEY

    client: TestClient = client_for("cross13_analyst")
    client.raise_request_exception = False
    client.get(reverse("core:home"))
    session = client.session
    session[LAST_SEEN_KEY] = session[LAST_SEEN_KEY] - 100_000  # idle for a day
    session.save()
    with _writes_wait_behind_a_long_one(tables=("core_audit",)):
        page = client.get(reverse("core:home"))
    assert page.status_code == 503 and page["Retry-After"] == "10"
