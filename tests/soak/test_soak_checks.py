"""The soak test's verification (`bench.soak`) on a real database: it finds nothing wrong in
records made through the services, and finds each constructed fault (a record stored twice, a
2xx without its row, a row without its 2xx, partial records)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.utils import timezone

from bench.soak import audit_verify, partial_records, stored_once, token_prefix
from cartostup.dealpoints import services
from cartostup.dealpoints.models import DealPoint, DealPointSequence, Operation
from cartostup.dealpoints.tests.factories import dealpoint
from cartostup.reports.models import Report, ReportSequence
from cartostup.reports.tests.factories import submit
from cartostup.territories.models import Departement

RUN = "c0ffee"


def token(number: int) -> str:
    return f"{token_prefix(RUN)}{number}"


@pytest.fixture
def records(db):
    """What a soak run leaves: a report, a deal point, an edit and an operation, each with its
    token, made through the services."""
    report = submit(description=f"Vente ({token(1)}).").report
    point = dealpoint(notes=f"Créé ({token(2)}).")
    services.dealpoint_update(
        actor=None,
        dealpoint=point,
        data=replace(services.input_from_dealpoint(point), address="1 rue de l'Endurance"),
        note=token(3),
    )
    operation = services.operation_record(
        actor=None,
        dealpoint=point,
        data=services.OperationInput(
            kind="raid",
            occurred_on=timezone.localdate(),
            outcome="disrupted",
            arrests=0,
            notes=f"Opération ({token(4)}).",
        ),
    )
    answered = {
        "report": [token(1)],
        "dealpoint": [token(2)],
        "dealpoint_edit": [token(3)],
        "operation": [token(4)],
    }
    return report, point, operation, answered


def test_nothing_wrong_in_records_made_by_the_services(records):
    _report, _point, _operation, answered = records
    assert stored_once(answered, RUN) == {
        "lost": 0,
        "duplicated": 0,
        "refused_stored": 0,
        "stored_unanswered": 0,
    }
    assert partial_records(RUN) == dict.fromkeys(partial_records(RUN), 0)
    assert audit_verify()[0]


def test_lost_stored_without_a_2xx_and_refused_but_stored(records):
    _report, _point, _operation, answered = records
    answered = {**answered, "report": [token(1), token(99)], "operation": []}
    assert stored_once(answered, RUN) == {
        "lost": 1,
        "duplicated": 0,
        "refused_stored": 0,
        "stored_unanswered": 1,
    }
    # The edit's request was one that had to be refused (a garbage upload): stored, it fails.
    answered = {**answered, "dealpoint_edit": []}
    assert stored_once(answered, RUN, refused=[token(3)])["refused_stored"] == 1


def test_a_record_stored_twice_is_duplicated_and_partial(records):
    _report, point, _operation, answered = records
    twin = DealPoint.objects.get(pk=point.pk)
    twin.pk = None
    twin.reference = "PD-13-9999"
    twin.partner_code = "ZZZZZ-ZZZZZ"
    twin.save()  # no creation event, no audit event, a number past the counter
    assert stored_once(answered, RUN)["duplicated"] == 1
    partial = partial_records(RUN)
    assert partial["dealpoint_without_creation_event"] == 1
    assert partial["dealpoint_without_audit_event"] == 1
    assert partial["dealpoint_beyond_sequence"] == 1
    assert sum(partial.values()) == 3


def test_partial_reports_and_operations_are_found(records):
    report, point, _operation, _answered = records
    Report.objects.filter(pk=report.pk).update(
        receipt_hash="", departement=Departement.objects.get(code="93")
    )
    Operation.objects.create(
        dealpoint=point,
        kind="raid",
        occurred_on=timezone.localdate(),
        service=point.owner_organisation,
        outcome="none",
    )
    DealPointSequence.objects.update(last_value=0)
    ReportSequence.objects.update(last_value=0)
    partial = partial_records(RUN)
    assert partial["report_with_half_a_receipt"] == 1
    assert partial["report_of_the_run_without_receipt"] == 1
    assert partial["report_outside_its_departement"] == 1
    assert partial["report_beyond_sequence"] == 1
    assert partial["operation_without_event"] == 1
    assert partial["operation_without_audit_event"] == 1
    assert partial["dealpoint_beyond_sequence"] == 1
