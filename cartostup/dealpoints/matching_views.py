"""The analysts' matching queue (/rapprochements/): proposed links between reports and deal
points, proposed new points, resurgence and move alerts; and the decisions on them.

Thin: check the capability, read from what the actor may see (`policy.restrict`, audited),
call one flow or service, redirect with a message. What the actor may not see answers 404;
only analysts (EDIT_DEALPOINTS) have the queue.

Each decision brings the analyst back where it was: its form carries `focus`, the anchor of
the next item of the same section (`QueueItem.after`); the queue is shown again at its message
(#messages, focused) and `matching_queue.js` sends Tab from there on to that item.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartostup.access import policy
from cartostup.access.models import User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.reports.models import Report

from . import flows, matching, matching_selectors, selectors
from .choices import (
    ATTACHED_DECISIONS,
    PROPOSAL_REOPEN_DAYS,
    Confidence,
    ProposalStatus,
)
from .forms import DealPointForm, SharingForm
from .models import Alert, DealPoint, Proposal, ReportLink
from .views import attached_text, map_boundaries, map_settings, with_move_alerts

Capability = policy.Capability


class AuthenticatedRequest(HttpRequest):
    user: User


def _start(request: AuthenticatedRequest, *, post: bool = True) -> HttpResponse | None:
    """Only analysts have the queue (404 for others); decisions are POSTs."""
    policy.require(request.user, Capability.EDIT_DEALPOINTS)
    if post and request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return None


def _refused(request: HttpRequest, error: ValidationError) -> None:
    for text in error.messages:
        messages.error(request, text)


# --- where the analyst was -----------------------------------------------------------------------

# The queue's sections (their heading's id) and the prefix of their items' ids.
SECTIONS = {"links": "link", "proposals": "proposal", "alerts": "alert", "dismissed": "dismissed"}
_ANCHOR = re.compile(
    r"(?:{sections}|(?:{items})-[0-9]{{1,18}})".format(
        sections="|".join(SECTIONS), items="|".join(SECTIONS.values())
    )
)


@dataclass(frozen=True)
class QueueItem:
    """One row of a section: what it shows, its anchor (the row's id) and where to go once it
    is decided (`after`: the next row, the previous one for the last, else the section)."""

    row: Any
    anchor: str
    after: str


def _items(rows: Sequence[Any], section: str, pk: Callable[[Any], int]) -> list[QueueItem]:
    anchors = [f"{SECTIONS[section]}-{pk(row)}" for row in rows]
    return [
        QueueItem(
            row=row,
            anchor=anchor,
            after=anchors[index + 1]
            if index + 1 < len(anchors)
            else (anchors[index - 1] if index else section),
        )
        for index, (row, anchor) in enumerate(zip(rows, anchors, strict=True))
    ]


def _anchor(value: str) -> str:
    """`value` if it is one of the queue's anchors, else ""."""
    return value if _ANCHOR.fullmatch(value) else ""


def _focus(request: HttpRequest, section: str) -> str:
    """The item the decision's form names (`focus`), if it is one of the queue's anchors;
    else the decision's section."""
    return _anchor(request.POST.get("focus") or request.GET.get("focus") or "") or section


def _back_to_queue(request: HttpRequest, section: str, *, stay: int | None = None) -> HttpResponse:
    """The queue, at the message saying what was decided (#messages, which the browser
    focuses), naming the item the analyst goes on with (`?focus=`, for the script): after a
    refused decision (`stay`, the item's pk), that item itself, still to decide."""
    focus = f"{SECTIONS[section]}-{stay}" if stay is not None else _focus(request, section)
    query = urlencode({"focus": focus})
    return redirect(f"{reverse('dealpoints:matching')}?{query}#messages")


# --- the queue -----------------------------------------------------------------------------------


def matching_queue(request: AuthenticatedRequest) -> HttpResponse:
    """Proposed links, proposed new points and open alerts the analyst may see."""
    _start(request, post=False)
    focus = _anchor(request.GET.get("focus", ""))
    # The map's link to one proposal: shown even when older than the section's newest.
    asked = re.fullmatch(rf"{SECTIONS['proposals']}-([0-9]+)", focus)
    queue = matching_selectors.matching_queue(
        actor=request.user, proposal_id=int(asked.group(1)) if asked else None
    )
    sections = {
        "link_rows": _items(queue.link_rows, "links", lambda row: row.link.pk),
        "proposals": _items(queue.proposals, "proposals", lambda row: row.proposal.pk),
        "alerts": _items(queue.alerts, "alerts", lambda alert: alert.pk),
        "dismissed": _items(queue.dismissed, "dismissed", lambda proposal: proposal.pk),
    }
    return render(
        request,
        "dealpoints/matching/queue.html",
        {
            "page_title": _("Rapprochements"),
            **sections,
            "dismissed_days": PROPOSAL_REOPEN_DAYS,
            "visible_dealpoint_ids": queue.visible_dealpoint_ids,
            "limit": matching_selectors.QUEUE_LIMIT,
            "totals": queue.totals,
            # The item to go on with after a decision (`_back_to_queue`).
            "focus": _present(
                focus,
                {item.anchor for items in sections.values() for item in items},
            ),
        },
    )


def _present(anchor: str, anchors: set[str]) -> str:
    """`anchor` if that item is on the page, else its section's heading (an item decided
    meanwhile, in another tab: a refused decision comes back to it), or "" for none."""
    if not anchor or anchor in SECTIONS or anchor in anchors:
        return anchor
    prefix = anchor.rsplit("-", 1)[0]
    return next((section for section, item in SECTIONS.items() if item == prefix), "")


# --- proposed links ------------------------------------------------------------------------------


def _link_for(request: AuthenticatedRequest, pk: int) -> ReportLink:
    """A link whose point the actor may change and whose report it may see (404 otherwise)."""
    link = ReportLink.objects.select_related("report", "dealpoint").filter(pk=pk).first()
    if link is None:
        raise Http404
    policy.access_object(
        DealPoint.objects.all(),
        actor=request.user,
        pk=link.dealpoint_id,
        action=policy.Action.CHANGE,
    )
    policy.access_object(Report.objects.all(), actor=request.user, pk=link.report_id)
    return link


def link_confirm(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    refused = _start(request)
    if refused is not None:
        return refused
    link = _link_for(request, pk)
    stay = None
    try:
        # Only a link still proposed: the queue shows no other (a stale page is refused).
        attached = flows.link_confirm(actor=request.user, link=link)
    except ValidationError as error:
        _refused(request, error)
        stay = link.pk
    else:
        messages.success(
            request,
            attached_text(
                report=link.report.reference,
                point=link.dealpoint.reference,
                moved_from=attached.moved_from,
            ),
        )
    return _back_to_queue(request, "links", stay=stay)


def link_refuse(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    refused = _start(request)
    if refused is not None:
        return refused
    link = _link_for(request, pk)
    stay = None
    try:
        flows.link_refuse(actor=request.user, link=link)
    except ValidationError as error:
        _refused(request, error)
        stay = link.pk
    else:
        messages.success(
            request,
            _(
                "Rattachement écarté : le signalement %(report)s ne sera plus proposé pour le "
                "point %(point)s."
            )
            % {"report": link.report.reference, "point": link.dealpoint.reference},
        )
    return _back_to_queue(request, "links", stay=stay)


# --- proposals of new points ---------------------------------------------------------------------


def _proposal_initial(proposal: Proposal, reports: list[Report]) -> dict[str, Any]:
    """The new point's form prefilled from the reports the analyst may see: its products,
    way of selling, opening hours and roles as they say them together (`matching.describe`)."""
    described = matching.describe([matching.ReportFeatures.of(report) for report in reports])
    return {
        "latitude": round(proposal.latitude, 6),
        "longitude": round(proposal.longitude, 6),
        "precision": proposal.precision,
        "channel": described.channel,
        "products": described.products,
        "opening_hours": described.opening_hours,
        "observed_roles": described.observed_roles,
        "confidence": Confidence.MEDIUM if len(reports) > 2 else Confidence.LOW,
        "address": next((r.address for r in reports if r.address), ""),
        **_place_labels(reports),
    }


def _place_labels(reports: list[Report]) -> dict[str, str]:
    """The building and stairwell the reports name most (`matching.parse_place_label`: « Bât.
    B, cage 2 » and « bat b esc 2 » are one), when one is named more than any other (new-user
    review: both reports said « cage 2 », the form's « Cage d'escalier » was empty)."""
    named = [matching.parse_place_label(report.place_label) for report in reports]

    def most(values: list[str]) -> str:
        counts = Counter(value for value in values if value).most_common(2)
        if not counts or (len(counts) == 2 and counts[0][1] == counts[1][1]):
            return ""
        return counts[0][0]

    building = most([found for found, _stairwell in named])
    stairwell = most([found for found_building, found in named if found_building == building])
    return {"building_label": building.upper(), "stairwell_label": stairwell.upper()}


def proposal_accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: the proposal, its reports and the form to create the point; POST: create it."""
    _start(request, post=False)
    proposal = policy.access_object(
        Proposal.objects.select_related("commune"),
        actor=request.user,
        pk=pk,
        action=policy.Action.CHANGE,
    )
    audit_record(
        actor=request.user,
        action=AuditAction.VIEW,
        target=proposal,
        details={"proposal": proposal.pk},
    )
    reports = matching_selectors.proposal_reports(actor=request.user, proposal=proposal)
    data = request.POST if request.method == "POST" else None
    # The same description as any new point (building, hours, roles, sharing...), prefilled.
    form = DealPointForm(
        data,
        initial=_proposal_initial(proposal, reports),
        buildings=selectors.dealpoint_building_choices(
            actor=request.user,
            view="proposal_accept",
            departement_id=proposal.departement_id,
            near=(proposal.latitude, proposal.longitude),
        ),
    )
    sharing_form = SharingForm(data, groups=policy.distributable_sharing_groups(request.user))
    if proposal.status != ProposalStatus.OPEN:
        messages.info(request, _proposal_decided_text(request, proposal))
        return _back_to_queue(request, "proposals")
    if request.method == "POST" and form.is_valid() and sharing_form.is_valid():
        try:
            dealpoint = flows.proposal_accept(
                actor=request.user,
                proposal=proposal,
                data=form.to_input(),
                sharing=sharing_form.to_input(),
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            attached = dealpoint.links.filter(decision__in=ATTACHED_DECISIONS).count()
            text = ngettext(
                "Point de deal %(reference)s créé avec %(count)s signalement.",
                "Point de deal %(reference)s créé avec %(count)s signalements.",
                attached,
            ) % {"reference": dealpoint.reference, "count": attached}
            messages.success(request, with_move_alerts(request.user, dealpoint, text))
            return _back_to_queue(request, "proposals")
    return render(
        request,
        "dealpoints/matching/proposal_accept.html",
        {
            "page_title": _("Créer un point de deal depuis une proposition"),
            "proposal": proposal,
            "reports": reports,
            "form": form,
            "sharing_form": sharing_form,
            "boundary_urls": map_boundaries([proposal.departement.code]),
            # Where the queue is shown again: the next proposal, or this one when cancelled.
            "focus": _focus(request, "proposals"),
            "anchor": f"{SECTIONS['proposals']}-{proposal.pk}",
            "times_of_day": DealPointForm.times_of_day(),
            **map_settings(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _proposal_decided_text(request: AuthenticatedRequest, proposal: Proposal) -> str:
    """What the queue says of a proposal decided meanwhile (Back, a second tab, a double
    click): the point made of it, when the analyst may see it."""
    made = selectors.visible_points(request.user, [proposal.dealpoint_id])
    if proposal.status != ProposalStatus.ACCEPTED or not made:
        return str(_("Cette proposition a déjà été traitée."))
    audit_record(
        actor=request.user,
        action=AuditAction.LIST,
        object_type=DealPoint._meta.label_lower,
        details={"view": "proposal_decided", "points": [made[0].reference]},
    )
    return str(
        _("Cette proposition a déjà été traitée : le point %(reference)s en a été créé.")
        % {"reference": made[0].reference}
    )


def _proposal_action(request: AuthenticatedRequest, pk: int) -> Proposal | HttpResponse:
    refused = _start(request)
    if refused is not None:
        return refused
    return policy.access_object(
        Proposal.objects.all(), actor=request.user, pk=pk, action=policy.Action.CHANGE
    )


def proposal_dismiss(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    proposal = _proposal_action(request, pk)
    if isinstance(proposal, HttpResponse):
        return proposal
    stay = None
    try:
        flows.proposal_dismiss(actor=request.user, proposal=proposal)
    except ValidationError as error:
        _refused(request, error)
        stay = proposal.pk
    else:
        messages.success(
            request,
            _(
                "Proposition écartée. Par erreur ? Rouvrez-la depuis « Propositions écartées », "
                "en bas de cette page."
            ),
        )
    return _back_to_queue(request, "proposals", stay=stay)


def proposal_reopen(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Reopen a dismissed proposal (POST, from the queue's « Propositions écartées »)."""
    proposal = _proposal_action(request, pk)
    if isinstance(proposal, HttpResponse):
        return proposal
    stay = None
    try:
        reopened = flows.proposal_reopen(actor=request.user, proposal=proposal)
    except ValidationError as error:
        _refused(request, error)
        stay = proposal.pk
    else:
        count = reopened.reports.count()
        messages.success(
            request,
            ngettext(
                "Proposition rouverte avec %(count)s signalement : elle est de nouveau à "
                "examiner ci-dessous.",
                "Proposition rouverte avec %(count)s signalements : elle est de nouveau à "
                "examiner ci-dessous.",
                count,
            )
            % {"count": count},
        )
    return _back_to_queue(request, "dismissed", stay=stay)


# --- alerts --------------------------------------------------------------------------------------


def _alert_action(request: AuthenticatedRequest, pk: int) -> Alert | HttpResponse:
    refused = _start(request)
    if refused is not None:
        return refused
    return policy.access_object(
        Alert.objects.select_related("dealpoint", "candidate", "report"),
        actor=request.user,
        pk=pk,
        action=policy.Action.CHANGE,
    )


def alert_confirm(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    alert = _alert_action(request, pk)
    if isinstance(alert, HttpResponse):
        return alert
    stay = None
    try:
        confirmed = flows.alert_confirm(actor=request.user, alert=alert)
    except ValidationError as error:
        _refused(request, error)
        stay = alert.pk
    else:
        if alert.candidate is not None:
            text = _("Le point %(point)s est noté « déplacé » ; son successeur : %(other)s.") % {
                "point": alert.dealpoint.reference,
                "other": alert.candidate.reference,
            }
        elif confirmed.already_resurgent and alert.report is not None:
            # Another alert confirmed the resurgence first: this one attaches its report.
            text = (
                _("Le point %(point)s était déjà noté « résurgent ».")
                % {"point": alert.dealpoint.reference}
                + " "
                + attached_text(
                    report=alert.report.reference,
                    point=alert.dealpoint.reference,
                    moved_from=confirmed.moved_from,
                )
            )
        else:
            text = _("Le point %(point)s est noté « résurgent ».") % {
                "point": alert.dealpoint.reference
            }
            # Its report is attached, whether or not it left another point (new-user review:
            # the message said nothing of it).
            if alert.report is not None:
                text += " " + attached_text(
                    report=alert.report.reference,
                    point=alert.dealpoint.reference,
                    moved_from=confirmed.moved_from,
                )
        messages.success(request, text)
    return _back_to_queue(request, "alerts", stay=stay)


def alert_dismiss(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    alert = _alert_action(request, pk)
    if isinstance(alert, HttpResponse):
        return alert
    stay = None
    try:
        flows.alert_dismiss(actor=request.user, alert=alert)
    except ValidationError as error:
        _refused(request, error)
        stay = alert.pk
    else:
        messages.success(request, _("Alerte écartée."))
    return _back_to_queue(request, "alerts", stay=stay)
