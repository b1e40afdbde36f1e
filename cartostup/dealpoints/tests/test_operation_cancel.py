"""Cancelling an operation recorded by mistake: never deleted, struck out with its reason,
no longer counted; the dismantling it caused undone when nothing changed since; allowed to
whoever could have recorded it."""

from __future__ import annotations

from datetime import date, timedelta
from unittest.mock import ANY

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from cartostup.access.models import Organisation
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import exchange, flows, services
from cartostup.dealpoints.choices import AlertKind, AlertStatus, DealPointStatus, EventKind
from cartostup.dealpoints.models import Alert, DealPoint, Operation
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint


def _record(actor, point, *, outcome="none", days_ago=0, service=None) -> Operation:
    return services.operation_record(
        actor=actor,
        dealpoint=point,
        data=services.OperationInput(
            kind="raid",
            occurred_on=date.today() - timedelta(days=days_ago),
            outcome=outcome,
            arrests=1 if outcome == "arrests" else 0,
            service_id=service.pk if service is not None else None,
        ),
    )


# --- service -------------------------------------------------------------------------------------


def test_a_cancelled_operation_stays_on_the_record_and_no_longer_counts(persona):
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    point = dealpoint(actor=analyst, reports=[report])
    operation = _record(analyst, point, outcome="arrests")
    point.refresh_from_db()
    assert timezone.localtime(point.last_activity_at).date() == date.today()

    cancelled = services.operation_cancel(
        actor=analyst, operation=operation, reason="  saisie sur le mauvais point  "
    )

    operation.refresh_from_db()
    assert operation.cancelled_at is not None and operation.cancelled_by == analyst
    assert operation.cancel_reason == "saisie sur le mauvais point"
    assert cancelled.status_restored == ""
    assert Operation.objects.filter(pk=operation.pk).exists()
    assert not point.operations.standing().exists()
    # The point's activity is its reports' again (the report was received before today's
    # raid was recorded, but not necessarily on another day: compare the moments).
    point.refresh_from_db()
    assert point.last_activity_at == report.received_at
    entry = point.events.filter(kind=EventKind.OPERATION).order_by("-pk").first()
    assert entry is not None and entry.actor == analyst
    assert entry.details["cancelled"] is True and entry.details["operation"] == operation.pk
    assert entry.note == "saisie sur le mauvais point"
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE,
        object_type="dealpoints.operation",
        object_id=str(operation.pk),
        details__cancelled=True,
    ).exists()
    # Not twice; and a reason is required (nothing written when refused).
    with pytest.raises(ValidationError) as refused:
        services.operation_cancel(actor=analyst, operation=operation, reason="encore")
    assert "déjà été annulée" in refused.value.message_dict["operation"][0]
    other = _record(analyst, point)
    with pytest.raises(ValidationError) as refused:
        services.operation_cancel(actor=analyst, operation=other, reason="   ")
    assert "Dites pourquoi" in refused.value.message_dict["reason"][0]
    other.refresh_from_db()
    assert other.cancelled_at is None
    assert point.events.filter(kind=EventKind.OPERATION, details__cancelled=True).count() == 1


def test_cancelling_the_operation_that_dismantled_the_point_restores_its_status(persona):
    """The dismantling was the operation's and is still the last status change: undone, as a
    correction, and the resurgence alerts raised meanwhile are closed."""
    analyst = persona("cross13_analyst")
    police = persona("police13_investigator")
    point = dealpoint(actor=analyst)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="investigation")
    operation = _record(police, point, outcome="dismantled")
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    report = accepted_report(analyst=analyst, latitude=point.latitude, longitude=point.longitude)
    flows.report_match(report=report)
    alert = Alert.objects.get(dealpoint=point, kind=AlertKind.RESURGENCE)

    # The investigator of the service that made it cancels it (no edit right needed).
    cancelled = services.operation_cancel(
        actor=police, operation=operation, reason="opération reportée"
    )

    assert cancelled.status_restored == DealPointStatus.INVESTIGATION
    point.refresh_from_db()
    assert point.status == DealPointStatus.INVESTIGATION
    restored = point.events.filter(kind=EventKind.STATUS).order_by("-pk").first()
    assert restored is not None
    assert (restored.from_status, restored.to_status) == ("dismantled", "investigation")
    assert restored.details == {
        "correction": True,
        "operation_cancelled": operation.pk,
        "since_before": ANY,  # the dismantling's date, given back (test_status_dates)
    }
    assert restored.actor == police and restored.note == "opération reportée"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED


def test_a_status_changed_since_is_left_to_the_analyst(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    operation = _record(analyst, point, outcome="dismantled")
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="resurgent")
    cancelled = services.operation_cancel(actor=analyst, operation=operation, reason="erreur")
    assert cancelled.status_restored == ""
    point.refresh_from_db()
    assert point.status == DealPointStatus.RESURGENT
    assert point.events.filter(kind=EventKind.STATUS).count() == 2


def test_only_who_could_record_it_cancels_it(persona):
    """Its service's investigator or the CROSS of the département, not another service's
    investigator, nor a role that records no operation, nor another département's CROSS."""
    from cartostup.access.services import demo_organisations_ensure

    organisations = demo_organisations_ensure()
    analyst = persona("cross13_analyst")
    police = persona("police13_investigator")
    gendarme = persona("gendarmerie13_investigator")
    point = dealpoint(actor=analyst)
    by_police = _record(analyst, point, service=organisations["police13"])
    with pytest.raises(ValidationError) as refused:
        services.operation_cancel(actor=gendarme, operation=by_police, reason="erreur")
    assert (
        "Seuls le service qui a mené cette opération" in refused.value.message_dict["operation"][0]
    )
    # Roles that record no operation, and a CROSS that does not see the point: 404.
    for username in ("prosecutor_13", "prefecture_13", "cross93_analyst", "landlord_13h"):
        with pytest.raises(Http404):
            services.operation_cancel(actor=persona(username), operation=by_police, reason="erreur")
    by_police.refresh_from_db()
    assert by_police.cancelled_at is None
    services.operation_cancel(actor=police, operation=by_police, reason="erreur")
    # The CROSS consolidates its département: it cancels what it could record, a service
    # closed since included (its mistakes must still be undone).
    by_gendarmerie = _record(gendarme, point)
    Organisation.objects.filter(pk=organisations["gendarmerie13"].pk).update(is_active=False)
    services.operation_cancel(actor=analyst, operation=by_gendarmerie, reason="doublon")
    assert not point.operations.standing().exists()


def test_another_dismantling_operation_keeps_the_point_dismantled(client_for, persona):
    """Raid A dismantled the point; raid B, recorded on it already dismantled, says
    « démantelé » too. A was keyed twice by mistake: cancelling it leaves the point
    dismantled, by B, and the page says so."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    first = _record(analyst, point, outcome="dismantled", days_ago=2)
    second = _record(analyst, point, outcome="dismantled")
    response = client_for("cross13_analyst").post(
        reverse("dealpoints:operation_cancel", args=[point.pk]),
        {"cancel-operation": first.pk, "cancel-reason": "doublon"},
        follow=True,
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    assert point.events.filter(kind=EventKind.STATUS).count() == 1
    first.refresh_from_db()
    assert first.cancelled_at is not None
    said = (
        "Le point reste démantelé : l&#x27;opération du "
        f"{second.occurred_on:%d/%m/%Y} ({second.get_kind_display()}), qui compte toujours, "
        "le dit démantelé aussi."
    )
    assert said in response.content.decode()
    # The map's panel counts the operation that stands only.
    panel = client_for("cross13_analyst").get(reverse("dealpoints:map_panel", args=[point.pk]))
    assert panel.context["operation_count"] == 1

    # B was a mistake too: nothing dismantles the point any more, and nothing changed its
    # status since A did: it goes back to the status before A (new-user audit: it stayed
    # « Démantelé » with both raids struck out).
    services.operation_cancel(actor=analyst, operation=second, reason="doublon aussi")
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED
    restored = point.events.filter(kind=EventKind.STATUS).latest("pk")
    assert (restored.from_status, restored.to_status) == ("dismantled", "reported")
    assert restored.details["operation_cancelled"] == second.pk


def test_a_dismantling_the_point_came_back_from_no_longer_keeps_it_dismantled(persona):
    """New-user review: raid A dismantled the point, it came back (« résurgent »), raid B
    dismantled it again; B cancelled, the point stayed « démantelé », « by A », which the
    resurgence had already answered. It goes back to « résurgent »."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    _record(analyst, point, outcome="dismantled", days_ago=5)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="resurgent")
    again = _record(analyst, point, outcome="dismantled")
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    cancelled = services.operation_cancel(actor=analyst, operation=again, reason="erreur")
    assert cancelled.dismantled_by is None
    assert cancelled.status_restored == DealPointStatus.RESURGENT
    point.refresh_from_db()
    assert point.status == DealPointStatus.RESURGENT


def test_exports_count_only_the_operations_that_stand(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    first = _record(analyst, point)
    _record(analyst, point, days_ago=1)
    services.operation_cancel(actor=analyst, operation=first, reason="doublon")
    counted = exchange.with_counts(DealPoint.objects.filter(pk=point.pk), actor=analyst).get()
    assert exchange.row_values(counted)["operations_count"] == 1


# --- the record page -----------------------------------------------------------------------------


def test_an_operation_is_cancelled_from_the_record(client_for, persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    client = client_for("cross13_analyst")
    url = reverse("dealpoints:detail", args=[point.pk])
    page = client.get(url).content.decode()
    assert 'id="operation-cancel-form"' not in page  # nothing to cancel yet
    operation = _record(analyst, point, outcome="dismantled")
    page = client.get(url).content.decode()
    form = page[page.index('id="operation-cancel-form"') :]
    form = form[: form.index("</form>")]
    assert "Annuler une opération saisie par erreur" in form
    label = f"{operation.get_kind_display()} du {operation.occurred_on:%d/%m/%Y}"
    assert label in form
    cancel = reverse("dealpoints:operation_cancel", args=[point.pk])
    # No reason, no operation: each said on its field, nothing changed.
    response = client.post(cancel, {"cancel-operation": "", "cancel-reason": ""})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Choisissez l&#x27;opération à annuler." in body
    assert "Dites pourquoi l&#x27;opération est annulée" in body
    # Another point's operation (or a stale one) is not a choice.
    response = client.post(cancel, {"cancel-operation": operation.pk + 999, "cancel-reason": "x"})
    assert response.status_code == 400
    assert "ne peut plus être annulée" in response.content.decode()
    operation.refresh_from_db()
    assert operation.cancelled_at is None
    response = client.post(
        cancel, {"cancel-operation": operation.pk, "cancel-reason": "Mauvais point"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert ") : elle reste au dossier mais ne compte plus." in page
    assert "Plus aucune opération qui compte ne dit le point démantelé" in page
    assert "il est de nouveau « Signalé »." in page
    table = page[
        page.index('id="operations"') : page.index("</table>", page.index('id="operations"'))
    ]
    assert (
        "Annulée" in table
        and f"<del>{operation.get_kind_display()}</del>" in table
        and "Mauvais point" in table
    )
    history = page[page.index('id="history-title"') :]
    assert "Opération annulée (saisie par erreur) : elle ne compte plus" in history
    assert (
        "À la suite de l&#x27;annulation d&#x27;une opération : plus aucune ne le dit démantelé"
        in history
    )
    # Nothing left to cancel: the form is gone; a GET changes nothing.
    assert 'id="operation-cancel-form"' not in page
    assert client.get(cancel).status_code == 405


def test_the_cancel_form_is_not_offered_to_who_may_not_cancel(client_for, persona):
    from cartostup.access.services import demo_organisations_ensure

    organisations = demo_organisations_ensure()
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    _record(analyst, point, service=organisations["police13"])
    gendarme = client_for("gendarmerie13_investigator")
    page = gendarme.get(reverse("dealpoints:detail", args=[point.pk])).content.decode()
    assert 'id="operation-form"' in page and 'id="operation-cancel-form"' not in page
    police = client_for("police13_investigator")
    page = police.get(reverse("dealpoints:detail", args=[point.pk])).content.decode()
    assert 'id="operation-cancel-form"' in page


# --- API -----------------------------------------------------------------------------------------


def test_an_operation_is_cancelled_through_the_api(client_for, persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    operation = _record(analyst, point, outcome="dismantled")
    client = client_for("cross13_analyst")
    url = f"/api/v1/operations/{operation.pk}/cancel/"
    refused = client.post(url, {}, content_type="application/json")
    assert refused.status_code == 400
    assert "reason" in refused.json()["errors"]
    unknown = client.post(
        url, {"reason": "x", "status": "reported"}, content_type="application/json"
    )
    assert unknown.status_code == 400 and "status" in unknown.json()["errors"]
    done = client.post(url, {"reason": "mauvais point"}, content_type="application/json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["id"] == operation.pk and body["cancelled_at"] is not None
    assert body["cancel_reason"] == "mauvais point"
    assert body["status_restored"] == "reported"
    again = client.post(url, {"reason": "mauvais point"}, content_type="application/json")
    assert again.status_code == 400
    assert "déjà été annulée" in again.json()["errors"]["operation"][0]
    listed = client.get("/api/v1/operations/", {"cancelled": "true"}).json()["results"]
    assert [row["id"] for row in listed] == [operation.pk]
    assert client.get("/api/v1/operations/", {"cancelled": "false"}).json()["results"] == []
    assert client.get("/api/v1/operations/", {"cancelled": "oui"}).status_code == 400
    # Another département's CROSS does not see the point: 404, as for any invisible record.
    other = client_for("cross93_analyst").post(
        url, {"reason": "x"}, content_type="application/json"
    )
    assert other.status_code == 404
    assert (
        client_for("landlord_13h")
        .post(url, {"reason": "x"}, content_type="application/json")
        .status_code
        == 404
    )


def test_an_operation_of_a_merged_point_is_cancelled_once_the_merge_is_undone(persona):
    analyst = persona("cross13_analyst")
    source = dealpoint(actor=analyst, latitude=43.3453, longitude=5.3950)
    target = dealpoint(actor=analyst, name="La bonne fiche")
    operation = _record(analyst, source, outcome="dismantled", days_ago=1)
    services.dealpoint_merge(actor=analyst, source=source, target=target)
    with pytest.raises(ValidationError) as refused:
        services.operation_cancel(actor=analyst, operation=operation, reason="mauvais point")
    assert refused.value.message_dict["operation"] == [
        "Ce point a été fusionné dans un autre : annulez d'abord la fusion (depuis sa fiche), "
        "puis l'opération."
    ]
    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    cancelled = services.operation_cancel(actor=analyst, operation=operation, reason="mauvais")
    assert cancelled.status_restored == DealPointStatus.REPORTED


def test_a_mistaken_return_corrected_does_not_end_the_dismantling(persona):
    """Code review: raid A dismantled the point, raid B was recorded on it, a mistaken
    « résurgent » was corrected back. Cancelling A said nothing kept the point dismantled,
    though B still stood: the correction does not end the dismantling A began."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    first = _record(analyst, point, outcome="dismantled", days_ago=3)
    second = _record(analyst, point, outcome="dismantled", days_ago=1)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="resurgent")
    point.refresh_from_db()
    mistake = services.status_last_change(point)
    assert mistake is not None
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="dismantled", corrects=mistake.pk, note="erreur"
    )
    cancelled = services.operation_cancel(actor=analyst, operation=first, reason="doublon")
    assert cancelled.dismantled_by == second
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
