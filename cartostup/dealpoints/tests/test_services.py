from datetime import date

from cartostup.dealpoints import services
from cartostup.dealpoints.choices import DealPointStatus, EventKind
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint


def test_point_life_cycle_is_kept_in_history(persona):
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    point = dealpoint(actor=analyst, reports=[report])
    assert point.reference.startswith("PD-13-")
    assert point.departement.code == "13"
    assert point.owner_organisation.kind == "cross"
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    services.operation_record(
        actor=analyst,
        dealpoint=point,
        data=services.OperationInput(kind="raid", occurred_on=date.today(), outcome="dismantled"),
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    assert point.events.get(kind=EventKind.CREATED).details == {"reports": [report.reference]}
    kinds = list(point.events.order_by("pk").values_list("kind", flat=True))
    assert kinds == [
        EventKind.CREATED,
        EventKind.STATUS,
        EventKind.OPERATION,
        EventKind.STATUS,
    ]
