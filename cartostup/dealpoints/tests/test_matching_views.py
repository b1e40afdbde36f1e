"""The analysts' matching queue and its decisions, per persona."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import flows, matching_selectors
from cartostup.dealpoints.choices import (
    AlertStatus,
    DealPointStatus,
    EventKind,
    LinkDecision,
    ProposalStatus,
)
from cartostup.dealpoints.models import Alert, DealPoint, Proposal, ReportLink
from cartostup.dealpoints.tests.factories import dealpoint
from cartostup.dealpoints.tests.test_flows import dismantled_point, report_near
from cartostup.dealpoints.tests.test_matching import offset
from cartostup.reports.tests.factories import submit


@pytest.fixture
def queue(persona):
    """A proposed link, a proposal of a new point and a resurgence alert in Marseille."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    proposed = report_near(analyst, 85, products=["heroin"], days=["mon"], place_label="")
    flows.report_match(report=proposed)
    report_near(analyst, 1500)
    (proposal,) = flows.reports_cluster()
    old = dismantled_point(analyst, -3000)
    (alert,) = flows.report_match(report=report_near(analyst, -3030)).alerts
    return {
        "point": point,
        "link": ReportLink.objects.get(report=proposed),
        "proposal": proposal,
        "alert": alert,
        "old": old,
    }


def test_queue_lists_what_the_analyst_may_decide(client_for, queue):
    response = client_for("cross13_analyst").get(reverse("dealpoints:matching"))
    assert response.status_code == 200
    page = response.content.decode()
    assert queue["link"].report.reference in page and queue["point"].reference in page
    assert reverse("dealpoints:proposal_accept", args=[queue["proposal"].pk]) in page
    assert reverse("dealpoints:alert_confirm", args=[queue["alert"].pk]) in page
    assert "Confirmer la résurgence" in page
    # Why it was proposed: what the report says against the point's record.
    assert "Concorde : horaires en partie, même mode de vente" in page
    assert "Diffère : autre produit" in page
    event = AuditEvent.objects.filter(action=AuditAction.LIST, object_type="dealpoints.matching")
    assert event.get().details == {"links": 1, "proposals": 1, "alerts": 1, "dismissed": 0}
    # The reports it names (the proposed link's, the proposal's, the alert's) are audited
    # as a listing of reports.
    named = AuditEvent.objects.get(action=AuditAction.LIST, object_type="reports.report")
    assert named.details["view"] == "matching_queue"
    assert queue["link"].report.reference in named.details["reports"]
    assert queue["alert"].report.reference in named.details["reports"]
    assert set(queue["proposal"].reports.values_list("reference", flat=True)) <= set(
        named.details["reports"]
    )


def test_every_decision_of_the_queue_names_what_it_decides(client_for, persona, queue):
    """A screen reader listing the page's buttons and links heard « Confirmer la
    résurgence » and « Créer le point » once per row, with nothing to tell them apart (the
    other decisions named their report and point). Each name begins with the visible text.
    Two reports near one dismantled point gave two alerts whose buttons had the same names."""
    (second,) = flows.report_match(report=report_near(persona("cross13_analyst"), -2990)).alerts
    assert second.dealpoint_id == queue["old"].pk
    page = client_for("cross13_analyst").get(reverse("dealpoints:matching")).content.decode()
    old, proposal = queue["old"], queue["proposal"]
    report = queue["alert"].report.reference
    assert f'aria-label="Confirmer la résurgence de {old.reference} ({report})"' in page
    assert f'aria-label="Écarter la résurgence de {old.reference} ({report})"' in page
    commune = html.escape(proposal.commune.name)
    assert f'aria-label="Créer le point proposé ({commune}, 1 signalement)"' in page
    tables = page[page.index('<table id="links-table"') : page.rindex("</table>")]
    for name in re.findall(r'<(?:button|a)[^>]*class="fr-btn[^"]*"[^>]*>', tables):
        assert "aria-label=" in name, name
    names = re.findall(r'<(?:button|a)[^>]*class="fr-btn[^"]*"[^>]*aria-label="([^"]*)"', tables)
    assert len(names) >= 8 and len(names) == len(set(names)), names


def test_queue_links_the_points_the_analyst_may_open(client_for, queue):
    """The report's reference was a link, the point's was not: both lead to their page now,
    as decided by the selector (the points of the queue the reader may see)."""
    page = client_for("cross13_analyst").get(reverse("dealpoints:matching")).content.decode()
    point, old = queue["point"], queue["old"]
    assert f'<a href="/points-de-deal/{point.pk}/">{point.reference}</a>' in page
    assert f'<a href="/points-de-deal/{old.pk}/">{old.reference}</a>' in page
    assert client_for("cross13_analyst").get(f"/points-de-deal/{point.pk}/").status_code == 200


def test_queue_selector_names_only_points_the_reader_may_see(persona, queue):
    from cartostup.dealpoints import matching_selectors

    seen = matching_selectors.matching_queue(actor=persona("cross13_analyst"))
    assert {queue["point"].pk, queue["old"].pk} <= seen.visible_dealpoint_ids
    other = matching_selectors.matching_queue(actor=persona("cross93_analyst"))
    assert other.visible_dealpoint_ids == frozenset()


def test_other_territory_sees_an_empty_queue(client_for, queue):
    page = client_for("cross93_analyst").get(reverse("dealpoints:matching")).content.decode()
    assert queue["link"].report.reference not in page
    assert "Aucune proposition de nouveau point." in page and "Aucune alerte ouverte." in page


@pytest.mark.parametrize("who", ["police13_investigator", "landlord_13h", "prefecture_13"])
def test_queue_is_for_analysts_only(client_for, queue, who):
    client = client_for(who)
    assert client.get(reverse("dealpoints:matching")).status_code == 404
    url = reverse("dealpoints:link_confirm", args=[queue["link"].pk])
    assert client.post(url).status_code == 404
    assert ReportLink.objects.get(pk=queue["link"].pk).decision == LinkDecision.PROPOSED


def test_confirm_and_refuse_links(client_for, queue, persona):
    client = client_for("cross13_analyst")
    link = queue["link"]
    response = client.post(reverse("dealpoints:link_confirm", args=[link.pk]))
    # Back to the queue, at its section (the form names no next item).
    assert response.status_code == 302
    assert response["Location"] == reverse("dealpoints:matching") + "?focus=links#messages"
    link.refresh_from_db()
    assert link.decision == LinkDecision.CONFIRMED
    assert link.decided_by == persona("cross13_analyst")


def test_refuse_a_proposed_link(client_for, queue):
    client = client_for("cross13_analyst")
    link = queue["link"]
    response = client.post(reverse("dealpoints:link_refuse", args=[link.pk]))
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.decision == LinkDecision.REJECTED
    link.report.refresh_from_db()
    assert link.report.awaiting_matching


def test_each_decision_names_the_item_the_queue_goes_on_with(client_for, queue, persona):
    """After a decision the page came back at its top: each row now has an anchor, and each
    decision's form names the next row of its section (the previous one for the last, the
    section when it was alone), where the queue is shown again."""
    analyst = persona("cross13_analyst")
    flows.report_match(
        report=report_near(analyst, 80, products=["heroin"], days=["mon"], place_label="")
    )
    first, second = (row.link for row in matching_selectors.matching_queue(actor=analyst).link_rows)
    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:matching")).content.decode()
    assert 'src="/static/dealpoints/matching_queue.js"' in page
    rows = dict(re.findall(r'<tr id="(link-\d+)">(.*?)</tr>', page, re.S))
    assert list(rows) == [f"link-{first.pk}", f"link-{second.pk}"]
    focus = r'<input type="hidden" name="focus" value="([^"]+)">'
    assert set(re.findall(focus, rows[f"link-{first.pk}"])) == {f"link-{second.pk}"}
    assert set(re.findall(focus, rows[f"link-{second.pk}"])) == {f"link-{first.pk}"}
    alert = page[page.index(f'<tr id="alert-{queue["alert"].pk}">') :].split("</tr>", 1)[0]
    assert set(re.findall(focus, alert)) == {"alerts"}

    response = client.post(
        reverse("dealpoints:link_refuse", args=[first.pk]), {"focus": f"link-{second.pk}"}
    )
    assert response["Location"] == f"/rapprochements/?focus=link-{second.pk}#messages"
    page = client.get(response["Location"]).content.decode()
    # The message the page comes back at, and the row the script goes on with from there.
    assert '<div class="cartostup-messages" role="status" id="messages" tabindex="-1">' in page
    assert "Rattachement écarté" in page and f'<tr id="link-{second.pk}">' in page
    assert f'matching_queue.js" data-next="link-{second.pk}" defer>' in page
    page = client.get(reverse("dealpoints:matching"), {"focus": "javascript:x"})
    assert 'matching_queue.js" data-next="" defer>' in page.content.decode()
    # Anything else than one of the queue's anchors is its section.
    for focus_value in (
        "https://example.org/",
        "link-1#x",
        "links\r\nX-Test: 1",
        "links\n",
        "report-3",
    ):
        response = client.post(
            reverse("dealpoints:link_refuse", args=[second.pk]), {"focus": focus_value}
        )
        # Decided (the first time), or refused as already decided (then: itself).
        assert response["Location"] in (
            "/rapprochements/?focus=links#messages",
            f"/rapprochements/?focus=link-{second.pk}#messages",
        )
        assert response["Location"].endswith("links#messages") == (
            focus_value == "https://example.org/"
        )
    # An item no longer on the page (decided meanwhile): the queue goes on with its section.
    page = client.get(response["Location"]).content.decode()
    assert f'<tr id="link-{second.pk}">' not in page
    assert 'matching_queue.js" data-next="links" defer>' in page


def test_a_proposal_accepted_or_cancelled_comes_back_where_the_analyst_was(client_for, queue):
    client = client_for("cross13_analyst")
    proposal = queue["proposal"]
    queue_page = client.get(reverse("dealpoints:matching")).content.decode()
    accept = reverse("dealpoints:proposal_accept", args=[proposal.pk])
    assert f'href="{accept}?focus=proposals"' in queue_page
    page = client.get(accept, {"focus": "proposal-999"}).content.decode()
    assert '<input type="hidden" name="focus" value="proposal-999">' in page
    # « Annuler » and the way back lead to the proposal itself.
    assert page.count(f'href="/rapprochements/#proposal-{proposal.pk}"') == 2
    lat, lon = offset(1490)
    response = client.post(
        accept,
        {
            "focus": "proposal-999",
            "latitude": lat,
            "longitude": lon,
            "precision": "building",
            "channel": "fixed",
            "confidence": "medium",
            "sharing-distribution": "cross",
            "sharing-marking": "amber",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/rapprochements/?focus=proposal-999#messages"
    # Already decided: the queue, at the same place.
    again = client.get(accept, {"focus": "proposal-999"})
    assert again["Location"] == "/rapprochements/?focus=proposal-999#messages"


def test_dismissing_and_reopening_come_back_at_their_section(client_for, queue):
    client = client_for("cross13_analyst")
    proposal = queue["proposal"]
    dismissed = client.post(reverse("dealpoints:proposal_dismiss", args=[proposal.pk]))
    assert dismissed["Location"] == "/rapprochements/?focus=proposals#messages"
    page = client.get(reverse("dealpoints:matching")).content.decode()
    assert f'<tr id="dismissed-{proposal.pk}">' in page
    reopened = client.post(
        reverse("dealpoints:proposal_reopen", args=[proposal.pk]), {"focus": "dismissed"}
    )
    assert reopened["Location"] == "/rapprochements/?focus=dismissed#messages"
    alert = client.post(
        reverse("dealpoints:alert_dismiss", args=[queue["alert"].pk]), {"focus": "alerts"}
    )
    assert alert["Location"] == "/rapprochements/?focus=alerts#messages"


def _history_kinds(point):
    return list(point.events.order_by("pk").values_list("kind", flat=True))


def test_a_stale_refuse_does_not_undo_a_confirmed_link(client_for, queue):
    """Two tabs: "Rattacher" in one, then "Écarter" on the same row in the other (not
    reloaded): the second is refused with a French message, nothing changes."""
    client = client_for("cross13_analyst")
    link, point = queue["link"], queue["point"]
    client.post(reverse("dealpoints:link_confirm", args=[link.pk]))
    history = _history_kinds(point)
    response = client.post(
        reverse("dealpoints:link_refuse", args=[link.pk]),
        {"focus": "link-999999"},  # where the page would have gone on after a decision
        follow=True,
    )
    link.refresh_from_db()
    assert link.decision == LinkDecision.CONFIRMED
    assert _history_kinds(point) == history  # no "report_detached"
    # Refused: back to the item itself, not past it.
    assert response.redirect_chain[0][0].endswith(f"?focus=link-{link.pk}#messages")
    page = html.unescape(response.content.decode())
    assert "Ce rapprochement a déjà été traité (rattaché par un analyste)" in page
    assert "Rattachement écarté" not in page


def test_a_stale_confirm_does_not_attach_a_refused_report(client_for, queue):
    client = client_for("cross13_analyst")
    link, point = queue["link"], queue["point"]
    client.post(reverse("dealpoints:link_refuse", args=[link.pk]))
    history = _history_kinds(point)
    response = client.post(reverse("dealpoints:link_confirm", args=[link.pk]), follow=True)
    link.refresh_from_db()
    assert link.decision == LinkDecision.REJECTED
    assert _history_kinds(point) == history  # no "report_attached"
    assert "Ce rapprochement a déjà été traité (écarté par un analyste)" in html.unescape(
        response.content.decode()
    )


def test_other_territory_cannot_decide(client_for, queue):
    client = client_for("cross93_analyst")
    assert (
        client.post(reverse("dealpoints:link_confirm", args=[queue["link"].pk])).status_code == 404
    )
    url = reverse("dealpoints:proposal_dismiss", args=[queue["proposal"].pk])
    assert client.post(url).status_code == 404
    assert (
        client.post(reverse("dealpoints:alert_confirm", args=[queue["alert"].pk])).status_code
        == 404
    )
    assert Proposal.objects.get(pk=queue["proposal"].pk).status == ProposalStatus.OPEN
    assert Alert.objects.get(pk=queue["alert"].pk).status == AlertStatus.OPEN


def test_create_a_point_from_a_proposal(client_for, queue):
    client = client_for("cross13_analyst")
    proposal = queue["proposal"]
    url = reverse("dealpoints:proposal_accept", args=[proposal.pk])
    page = client.get(url).content.decode()
    assert f'value="{round(proposal.latitude, 6)}"' in page
    # The whole description of a new point: small map, landlord building, hours, roles,
    # sharing.
    for part in ('id="dealpoint-picker"', 'name="building"', 'name="opening_hours"'):
        assert part in page, part
    assert 'name="observed_roles"' in page and 'name="sharing-distribution"' in page
    before = DealPoint.objects.count()
    bad = client.post(url, {"latitude": "48.0", "longitude": "-40.0", "precision": "street"})
    assert bad.status_code == 400 and "erreurs" in bad.content.decode()
    assert DealPoint.objects.count() == before
    lat, lon = offset(1490)
    response = client.post(
        url,
        {
            "latitude": lat,
            "longitude": lon,
            "precision": "building",
            "name": "Tour 3",
            "channel": "fixed",
            "products": ["cannabis"],
            "confidence": "medium",
            "opening_hours": ["fri:evening", "sat:evening"],
            "observed_roles": ["lookouts"],
            "sharing-distribution": "cross",
            "sharing-marking": "amber",
        },
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED
    point = proposal.dealpoint
    assert point.name == "Tour 3" and point.latitude == pytest.approx(lat)
    assert point.opening_hours == ["fri:evening", "sat:evening"]
    assert point.observed_roles == ["lookouts"] and point.distribution == "cross"
    assert point.links.filter(decision=LinkDecision.CONFIRMED).count() == 1


def test_create_the_point_is_prefilled_from_the_reports_of_the_proposal(client_for, persona):
    """« Créer le point »: products, channel, opening hours and roles are read from the
    proposal's reports (`matching.describe`), so the analyst does not type them again, and
    may still change them before creating the point."""
    analyst = persona("cross13_analyst")
    report_near(
        analyst,
        1500,
        products=["cannabis"],
        days=["fri", "sat"],
        times_of_day=["evening"],
        activities=["selling", "lookouts"],
        place_label="Bât. B, cage 2",
    )
    report_near(
        analyst,
        1510,
        products=["cocaine"],
        days=["sat"],
        times_of_day=["night"],
        activities=["lookouts", "storage"],
        place_label="bat b esc 2",
    )
    (proposal,) = flows.reports_cluster()
    assert proposal.reports.count() == 2
    client = client_for("cross13_analyst")
    url = reverse("dealpoints:proposal_accept", args=[proposal.pk])
    response = client.get(url)
    initial = response.context["form"].initial
    assert initial["products"] == ["cannabis", "cocaine"]
    assert initial["channel"] == "fixed"
    assert initial["opening_hours"] == ["fri:evening", "sat:evening", "sat:night"]
    assert initial["observed_roles"] == ["lookouts", "sellers", "stash_flat"]
    # The building and stairwell both name, however written (new-user review: empty).
    assert (initial["building_label"], initial["stairwell_label"]) == ("B", "2")
    page = response.content.decode()
    checked = {
        name: set(re.findall(rf'name="{name}" value="([\w:]+)"[^>]*checked', page))
        for name in ("products", "observed_roles", "opening_hours")
    }
    assert checked == {
        "products": {"cannabis", "cocaine"},
        "observed_roles": {"lookouts", "sellers", "stash_flat"},
        "opening_hours": {"fri:evening", "sat:evening", "sat:night"},
    }
    assert "préremplis d'après ce que disent ses signalements" in page
    # The analyst keeps the prefill but unchecks cocaine and the stash flat.
    response = client.post(
        url,
        {
            "latitude": round(proposal.latitude, 6),
            "longitude": round(proposal.longitude, 6),
            "precision": proposal.precision,
            "channel": initial["channel"],
            "products": ["cannabis"],
            "opening_hours": initial["opening_hours"],
            "observed_roles": ["lookouts", "sellers"],
            "confidence": initial["confidence"],
            "sharing-distribution": "cross",
            "sharing-marking": "amber",
        },
    )
    assert response.status_code == 302
    proposal.refresh_from_db()
    point = proposal.dealpoint
    assert point is not None
    assert point.products == ["cannabis"] and point.channel == "fixed"
    assert point.opening_hours == ["fri:evening", "sat:evening", "sat:night"]
    assert point.observed_roles == ["lookouts", "sellers"]
    assert point.links.filter(decision=LinkDecision.CONFIRMED).count() == 2


def test_a_proposal_shows_and_prefills_only_the_reports_the_analyst_may_see(
    client_for, persona, queue
):
    """A proposal's reports go through the policy (`matching_selectors.proposal_reports`) on
    the queue and on the page that creates the point: a report the analyst may not see (one
    of the CROSS 93, forced into a proposal of the 13 here) is neither listed nor read into
    the form's prefill (its address, its products), and the references shown are audited."""
    from cartostup.dealpoints.tests.factories import accepted_report

    proposal = queue["proposal"]
    proposal.reports.update(address="")
    hidden = accepted_report(
        analyst=persona("cross93_analyst"),
        latitude=48.936,
        longitude=2.357,
        address="3 rue Cachée, 93200 Saint-Denis",
        products=["crack"],
    )
    proposal.reports.add(hidden)
    seen = sorted(proposal.reports.exclude(pk=hidden.pk).values_list("reference", flat=True))
    assert seen
    client = client_for("cross13_analyst")
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    page = client.get(reverse("dealpoints:proposal_accept", args=[proposal.pk])).content.decode()
    assert all(reference in page for reference in seen)
    assert hidden.reference not in page and "Cachée" not in page
    checked = set(re.findall(r'name="products" value="(\w+)"[^>]*checked', page))
    assert checked and "crack" not in checked
    (listing,) = AuditEvent.objects.filter(
        pk__gt=last, action=AuditAction.LIST, object_type="reports.report"
    )
    assert listing.details == {"view": "proposal_accept", "proposal": proposal.pk, "reports": seen}
    queue_page = client.get(reverse("dealpoints:matching")).content.decode()
    assert all(reference in queue_page for reference in seen)
    assert hidden.reference not in queue_page
    named = AuditEvent.objects.filter(
        action=AuditAction.LIST, object_type="reports.report", details__view="matching_queue"
    ).get()
    assert set(seen) <= set(named.details["reports"])
    assert hidden.reference not in named.details["reports"]


def test_dismiss_a_proposal(client_for, queue):
    client_for("cross13_analyst").post(
        reverse("dealpoints:proposal_dismiss", args=[queue["proposal"].pk])
    )
    assert Proposal.objects.get(pk=queue["proposal"].pk).status == ProposalStatus.DISMISSED


def test_a_proposal_dismissed_by_mistake_is_reopened_from_the_queue(client_for, queue, persona):
    """« Écarter » was final: the queue now lists the proposals dismissed lately, with
    « Rouvrir », and the dismissal's message says where."""
    client = client_for("cross13_analyst")
    proposal = queue["proposal"]
    page = client.get(reverse("dealpoints:matching")).content.decode()
    assert "Aucune proposition écartée récemment." in page
    response = client.post(reverse("dealpoints:proposal_dismiss", args=[proposal.pk]), follow=True)
    page = response.content.decode()
    assert "Rouvrez-la depuis « Propositions écartées »" in page
    dismissed = page[page.index('id="dismissed"') :]
    reopen = reverse("dealpoints:proposal_reopen", args=[proposal.pk])
    assert reopen in dismissed
    assert f"Rouvrir la proposition ({proposal.commune.name}, écartée le" in dismissed
    assert 'href="#dismissed">Proposition écartée (1)' in page
    # No report of it is named there.
    for reference in proposal.reports.values_list("reference", flat=True):
        assert reference not in dismissed
    # A GET changes nothing; the others do not reach it.
    assert client.get(reopen).status_code == 405
    for username in ("police13_investigator", "cross93_analyst", "prefecture_13"):
        assert client_for(username).post(reopen).status_code == 404
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.DISMISSED
    page = client.post(reopen, follow=True).content.decode()
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.OPEN
    assert "Proposition rouverte avec" in page
    assert reverse("dealpoints:proposal_accept", args=[proposal.pk]) in page
    # Twice: said, nothing changed.
    page = client.post(reopen, follow=True).content.decode()
    assert "Cette proposition n&#x27;est pas écartée" in page


def test_another_departements_dismissed_proposals_are_not_listed(client_for, queue):
    client_for("cross13_analyst").post(
        reverse("dealpoints:proposal_dismiss", args=[queue["proposal"].pk])
    )
    page = client_for("cross93_analyst").get(reverse("dealpoints:matching")).content.decode()
    assert reverse("dealpoints:proposal_reopen", args=[queue["proposal"].pk]) not in page
    assert "Aucune proposition écartée récemment." in page


def test_confirm_and_dismiss_alerts(client_for, queue):
    client = client_for("cross13_analyst")
    assert (
        client.get(reverse("dealpoints:alert_confirm", args=[queue["alert"].pk])).status_code == 405
    )
    client.post(reverse("dealpoints:alert_confirm", args=[queue["alert"].pk]))
    queue["old"].refresh_from_db()
    assert queue["old"].status == DealPointStatus.RESURGENT
    second = Alert.objects.create(
        kind="resurgence",
        dealpoint=queue["old"],
        owner_organisation=queue["old"].owner_organisation,
        commune=queue["old"].commune,
        departement=queue["old"].departement,
        distribution="cross",
    )
    client.post(reverse("dealpoints:alert_dismiss", args=[second.pk]))
    second.refresh_from_db()
    assert second.status == AlertStatus.DISMISSED


def test_a_second_resurgence_alert_of_a_point_says_it_was_already_resurgent(
    client_for, persona, queue
):
    """A new user's audit: two reports near one dismantled point, two alerts. The first
    confirmed, the second said again « Le point … est noté « résurgent » », which it already
    was: it attached its report, and now says so."""
    (second,) = flows.report_match(report=report_near(persona("cross13_analyst"), -2990)).alerts
    client = client_for("cross13_analyst")
    first = client.post(reverse("dealpoints:alert_confirm", args=[queue["alert"].pk]), follow=True)
    old = queue["old"]
    # The first says its report is attached too (new-user review: it said the status only).
    assert [str(message) for message in first.context["messages"]][-1] == (
        f"Le point {old.reference} est noté « résurgent ». Signalement "
        f"{queue['alert'].report.reference} rattaché à {old.reference}."
    )
    assert second.report is not None
    response = client.post(reverse("dealpoints:alert_confirm", args=[second.pk]), follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert said[-1] == (
        f"Le point {old.reference} était déjà noté « résurgent ». Signalement "
        f"{second.report.reference} rattaché à {old.reference}."
    )
    assert ReportLink.objects.get(report=second.report).dealpoint_id == old.pk
    # One status change to « Résurgent », not two.
    assert old.events.filter(kind=EventKind.STATUS, to_status="resurgent").count() == 1
    second.refresh_from_db()
    assert second.status == AlertStatus.CONFIRMED


def test_accepting_in_triage_matches_the_report(client_for, persona):
    point = dealpoint(actor=persona("cross13_analyst"))
    lat, lon = offset(4)
    report = submit(latitude=lat, longitude=lon).report
    client = client_for("cross13_analyst")
    response = client.post(reverse("reports:report_accept", args=[report.pk]), {"note": ""})
    assert response.status_code == 302
    link = ReportLink.objects.get(report=report)
    assert link.dealpoint == point and link.decision == LinkDecision.AUTOMATIC
    page = client.get(response["Location"]).content.decode()
    assert f"accepté et rattaché automatiquement au point {point.reference}" in page


def _accept(client, report):
    response = client.post(reverse("reports:report_accept", args=[report.pk]), follow=True)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_accepting_a_report_says_where_the_matching_put_it(persona, client_for):
    """The triage message and the report's page name the point a report was attached or
    proposed to, the resurgence alert it raised, or that it waits for clustering (the message
    used to say "attached or proposed" without saying which, and the page said nothing)."""
    analyst = persona("cross13_analyst")
    client = client_for("cross13_analyst")
    point = dealpoint(actor=analyst)
    lat, lon = offset(5)
    near = submit(latitude=lat, longitude=lon, precision="stairwell").report
    page = _accept(client, near)
    assert f"accepté et rattaché automatiquement au point {point.reference}" in page
    assert 'id="report-matching"' in page and "Rattaché automatiquement à" in page
    assert reverse("dealpoints:detail", args=[point.pk]) in page

    lat, lon = offset(85)
    between = submit(
        latitude=lat, longitude=lon, products=["heroin"], days=["mon"], place_label=""
    ).report
    page = _accept(client, between)
    assert f"proposé au(x) point(s) {point.reference}" in page
    assert "Proposé au point" in page

    old = dismantled_point(analyst, -3000)
    lat, lon = offset(-3030)
    resurgent = submit(latitude=lat, longitude=lon).report
    page = _accept(client, resurgent)
    assert "Il n'est rattaché à aucun point" in page
    assert f"Alerte de résurgence : point(s) démantelé(s) à proximité, {old.reference}." in page
    assert f"le point démantelé {old.reference} est à" in page
    # The page, read again later, says the same.
    page = html.unescape(
        client.get(reverse("reports:report_detail", args=[resurgent.pk])).content.decode()
    )
    assert f"le point démantelé {old.reference} est à" in page


def test_the_report_page_names_only_points_the_reader_may_see(persona, client_for):
    """The report's matching names only the points the reader may see (`policy.restrict`):
    the CROSS of the 93 is told nothing of a point of the 13."""
    from cartostup.dealpoints import selectors

    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    report = report_near(analyst, 5, precision="stairwell")
    flows.report_match(report=report)
    found = selectors.report_matching(actor=analyst, report=report)
    assert found.attached is not None and found.attached.dealpoint == point
    found = selectors.report_matching(actor=persona("cross93_analyst"), report=report)
    assert found.attached is None and found.proposed == [] and found.alerts == []


def test_the_points_a_report_page_names_are_audited(persona):
    """The points named on a report's page are protected reads: one listing event names them;
    a reader told of no point leaves no such event."""
    from cartostup.dealpoints import selectors

    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    report = report_near(analyst, 5, precision="stairwell")
    flows.report_match(report=report)
    selectors.report_matching(actor=analyst, report=report)
    (event,) = AuditEvent.objects.filter(
        action=AuditAction.LIST, details__view="report_matching", actor_username="cross13_analyst"
    )
    assert event.details["points"] == [point.reference]
    assert event.details["report"] == report.reference
    selectors.report_matching(actor=persona("cross93_analyst"), report=report)
    assert not AuditEvent.objects.filter(
        details__view="report_matching", actor_username="cross93_analyst"
    ).exists()


def test_a_full_section_says_how_many_wait_beyond_it(client_for, persona, monkeypatch):
    """New-user audit: past the newest 100 of a section, nothing said that older ones wait
    nor how many."""
    from cartostup.dealpoints.tests.test_flows import dismantled_point, report_near

    analyst = persona("cross13_analyst")
    dismantled_point(analyst)
    for north in (10, 20, 30):
        flows.report_match(report=report_near(analyst, north))
    monkeypatch.setattr(matching_selectors, "QUEUE_LIMIT", 2)
    queue = matching_selectors.matching_queue(actor=analyst)
    assert len(queue.alerts) == 2 and queue.totals == {"alerts": 3}
    page = client_for("cross13_analyst").get(reverse("dealpoints:matching")).content.decode()
    assert "Les 2 plus récents sur 3 sont affichés" in page
    monkeypatch.setattr(matching_selectors, "QUEUE_LIMIT", 3)
    assert matching_selectors.matching_queue(actor=analyst).totals == {}


def test_a_point_created_says_its_move_alerts_and_a_proposal_decided_names_its_point(
    client_for, persona, queue
):
    """User audit: the creation's message did not say that the new point raised a move
    alert for a point dismantled nearby (an acceptance says its resurgence alerts), and the
    proposal opened again (Back, a double click) only said « déjà traitée »."""
    analyst = persona("cross13_analyst")
    moved_from = dismantled_point(analyst, 1450)
    client = client_for("cross13_analyst")
    proposal = queue["proposal"]
    url = reverse("dealpoints:proposal_accept", args=[proposal.pk])
    lat, lon = offset(1490)
    created = client.post(
        url,
        {
            "latitude": lat,
            "longitude": lon,
            "precision": "building",
            "channel": "fixed",
            "confidence": "medium",
            "sharing-distribution": "territory",
            "sharing-marking": "amber",
        },
        follow=True,
    ).content.decode()
    proposal.refresh_from_db()
    point = proposal.dealpoint
    assert point is not None
    assert Alert.objects.filter(dealpoint=moved_from, candidate=point).exists()
    assert f"Point de deal {point.reference} créé avec 1 signalement." in created
    assert "Alerte de déplacement possible : point(s) démantelé(s) à proximité, " in created
    assert moved_from.reference in created.split("Alerte de déplacement possible", 1)[1]
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, details__view="move_alerts", actor_id=analyst.pk
    ).exists()
    again = client.get(url, follow=True).content.decode()
    assert f"Cette proposition a déjà été traitée : le point {point.reference} en a été créé." in (
        again.replace("&#x27;", "'")
    )
    # The same on the page that creates a point by hand.
    lat, lon = offset(1460)
    by_hand = client.post(
        reverse("dealpoints:create"),
        {
            "latitude": lat,
            "longitude": lon,
            "precision": "building",
            "channel": "fixed",
            "confidence": "medium",
            "sharing-distribution": "territory",
            "sharing-marking": "amber",
        },
        follow=True,
    ).content.decode()
    assert "Alerte de déplacement possible" in by_hand and moved_from.reference in by_hand
