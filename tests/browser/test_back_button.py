"""The browser's Back button after a form was sent (new-user audit of 2026-12-05): Chromium
put back what had been ticked and typed on the page it fetched again, so that sending it again
split off two *other* reports (the boxes are ticked by their place in the list, which the first
split had changed) or recorded the same operation twice. The forms that write something that
cannot be sent twice without harm ask the browser not to restore them (autocomplete="off")."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-map")]

# A point of La Ciotat (away from the demo's) with three reports attached.
LA_CIOTAT = """
from cartostup.access.demo import demo_persona_ensure
from cartostup.dealpoints import services
from cartostup.reports import services as report_services
from cartostup.reports.choices import Channel
analyst = demo_persona_ensure(username="cross13_analyst")
point = services.dealpoint_create(
    actor=analyst,
    data=services.DealPointInput(latitude=43.1748, longitude=5.6046, name="Essai La Ciotat"),
)
for north in (0.0001, 0.0002, 0.0003):
    submitted = report_services.report_submit_public(
        data=report_services.ReportInput(
            latitude=43.1748 + north, longitude=5.6046, precision="building",
            place_label="La Ciotat", activities=["selling"], products=["cannabis"],
            days=["fri"], times_of_day=["evening"], people_count="1-2",
            description="Vente devant l'immeuble.",
        ),
        channel=Channel.WEB,
    )
    report = report_services.report_accept(actor=analyst, report=submitted.report)
    services.report_attach(actor=analyst, dealpoint=point, report=report)
print("CIOTAT", point.pk)
"""
COUNTS = """
from cartostup.dealpoints.models import DealPoint, Operation
point = DealPoint.objects.get(pk={pk})
print("COUNTS", DealPoint.objects.filter(name__startswith="Scission essai").count(),
      Operation.objects.filter(dealpoint=point).count(),
      point.links.filter(decision__in=["automatic", "confirmed"]).count())
"""


def _counts(served_app, pk: str) -> tuple[int, int, int]:
    output = served_app.manage("shell", "-c", COUNTS.format(pk=pk))
    line = next(line for line in output.splitlines() if line.startswith("COUNTS "))
    split, operations, attached = (int(value) for value in line.split()[1:])
    return split, operations, attached


@pytest.fixture(scope="module")
def ciotat(served_app) -> str:
    output = served_app.manage("shell", "-c", LA_CIOTAT)
    return next(line for line in output.splitlines() if line.startswith("CIOTAT ")).split()[1]


def test_back_after_a_split_does_not_split_other_reports(page, served_app, ciotat):
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/points-de-deal/{ciotat}/scinder/")
    form = page.locator("#split-form")
    # DSFR check boxes are ticked through their labels.
    form.locator("label[for='id_reports_0']").click()
    form.get_by_label("Latitude").fill("43.1760")
    form.get_by_label("Longitude").fill("5.6050")
    form.get_by_label("Nom d'usage").fill("Scission essai")
    form.get_by_role("button", name="Scinder").click()
    page.wait_for_url(re.compile(r".*/points-de-deal/\d+/$"))
    assert _counts(served_app, ciotat) == (1, 0, 2)

    page.go_back()
    page.wait_for_url(re.compile(rf".*/points-de-deal/{ciotat}/scinder/$"))
    form = page.locator("#split-form")
    # Nothing ticked nor typed again: sending the page as it comes back splits nothing.
    assert form.locator("input[name='reports']").count() == 2
    assert not any(box.is_checked() for box in form.locator("input[name='reports']").all())
    assert form.get_by_label("Nom d'usage").input_value() == ""
    form.get_by_role("button", name="Scinder").click()
    assert page.get_by_text("Choisissez les signalements du nouveau point.").first.is_visible()
    assert _counts(served_app, ciotat) == (1, 0, 2)
    # The refused form's page answers 400, which the browser logs; nothing else.
    assert [error for error in page.console_errors if "status of 400" not in error] == []


def test_back_after_an_operation_does_not_record_it_twice(page, served_app, ciotat):
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/points-de-deal/{ciotat}/")
    form = page.locator("#operation-form")
    form.get_by_label("Type d'opération").select_option("raid")
    form.get_by_label("Résultat").select_option("arrests")
    form.get_by_label("Personnes interpellées").fill("3")
    form.get_by_role("button", name="Enregistrer l'opération").click()
    page.wait_for_url(re.compile(rf".*/points-de-deal/{ciotat}/$"))
    before = _counts(served_app, ciotat)[1]

    page.go_back()
    form = page.locator("#operation-form")
    form.wait_for()
    # The form comes back as new, not as it was sent.
    assert form.get_by_label("Personnes interpellées").input_value() == "0"
    assert form.get_by_label("Résultat").input_value() != "arrests"
    assert _counts(served_app, ciotat)[1] == before
    assert not page.console_errors
