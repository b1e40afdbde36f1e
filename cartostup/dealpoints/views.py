"""Deal-point pages (/points-de-deal/): the list, a point's record, creating and editing a
point, and the analysts' actions (life cycle, operations, merge and split, reports).

Thin: check the capability, fetch through the selectors (404 for what the actor may not see),
call one service, render or redirect with a message. What each actor receives is decided by
the policy (`selectors.dealpoint_list_mode`, `dealpoint_permissions`), never here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartostup.access import policy
from cartostup.access.choices import Distribution, Marking
from cartostup.access.filters import unknown_parameters
from cartostup.access.models import User
from cartostup.core.errors import NotFoundForRole
from cartostup.core.paging import paginate
from cartostup.territories import selectors as territory_selectors
from cartostup.territories.selectors import commune_name_note

from . import flows, map_views, selectors, services
from .choices import (
    AlertKind,
    AlertStatus,
    Confidence,
    DealPointStatus,
    DistributionChannel,
    EventKind,
    LinkDecision,
    ObservedRole,
    OperationKind,
    OperationOutcome,
    Precision,
    Product,
    hours_labels,
)
from .filters import (
    WIDE_FILTERS,
    DealPointPageFilterSet,
    filter_error_messages,
    told_status_field,
)
from .forms import (
    AttachForm,
    DealPointForm,
    MergeForm,
    OperationCancelForm,
    OperationForm,
    SharingForm,
    SplitForm,
    StatusCorrectionForm,
    StatusForm,
)
from .models import DealPoint, DealPointEvent, Operation, ReportLink

Capability = policy.Capability


class AuthenticatedRequest(HttpRequest):
    """Every page here sits behind the login and second-factor middleware."""

    user: User


def map_settings() -> dict[str, str]:
    return {
        "tile_url": settings.CARTOSTUP_TILE_URL,
        "tile_attribution": settings.CARTOSTUP_TILE_ATTRIBUTION,
    }


def _labels(values: Any, choices: Any) -> list[str]:
    """Labels of stored choice values (an unknown value is shown as stored)."""
    names = dict(choices.choices)
    if not isinstance(values, list | tuple):
        values = [values]
    return [str(names.get(value, value)) for value in values]


def _person(user: User | None) -> str:
    if user is None:
        return _("Cartostup (rapprochement automatique)")
    return user.get_full_name() or user.get_username()


def map_boundaries(codes: list[str]) -> str:
    return json.dumps([reverse("territories:departement_geojson", args=[code]) for code in codes])


# --- list ----------------------------------------------------------------------------------------


def dealpoint_list(request: AuthenticatedRequest) -> HttpResponse:
    """The points the actor may see, filtered and paginated: a table with every column for
    those who receive whole records, a reduced one for a landlord, and a pointer to the map
    for those who may only count points (a prefecture, a prosecutor's office)."""
    policy.require(request.user, Capability.VIEW_MAP)
    mode = selectors.dealpoint_list_mode(actor=request.user)
    context: dict[str, Any] = {"page_title": _("Points de deal"), "mode": mode.value}
    if mode == selectors.ListMode.AGGREGATE:
        return render(request, "dealpoints/dealpoint_list.html", context)
    allowed = selectors.dealpoint_allowed_filters(actor=request.user)
    filterset = DealPointPageFilterSet(request.GET or None, queryset=DealPoint.objects.none())
    for name in list(filterset.form.fields):
        if name not in allowed:
            del filterset.form.fields[name]
    # A reduced view (a landlord) filters on the statuses it can be told; any other is
    # refused like an unknown one.
    told_status_field(
        filterset.form,
        choices=selectors.dealpoint_status_choices(actor=request.user),
        message=selectors.unknown_status_message(actor=request.user, codes=False),
    )
    # A filter the actor may not use, or an invalid one (a reversed period), is said above
    # the list, which then lists nothing: the unfiltered points would read as filtered.
    refused = {
        **unknown_parameters(request.GET, DealPointPageFilterSet, export=False),
        **selectors.dealpoint_refused_values(actor=request.user, data=request.GET, codes=False),
        **selectors.dealpoint_refused_filters(actor=request.user, data=request.GET),
    }
    if refused or (filterset.is_bound and not filterset.form.is_valid()):
        page = paginate(request, DealPoint.objects.none())
    else:
        page = paginate(request, selectors.dealpoint_table(actor=request.user, filters=request.GET))
    if mode == selectors.ListMode.REDUCED:
        rows = [
            selectors.dealpoint_reduced(actor=request.user, dealpoint=point)
            for point in page.object_list
        ]
    else:
        rows = [
            {
                "point": point,
                "products": ", ".join(_labels(point.products, Product)) or "—",
            }
            for point in page.object_list
        ]
    map_link, map_unapplied = _map_link(request, allowed=allowed, filterset=filterset)
    withheld = (
        selectors.dealpoint_export_withheld(
            actor=request.user, filters=request.GET, listed=page.paginator.count
        )
        if page.paginator.count and not refused
        else 0
    )
    context.update(
        {
            "export_withheld": withheld,
            "filter_form": filterset.form,
            # « Voir sur la carte » opens the map with the list's filters it applies, and the
            # page says which of them it does not (the map would show more points).
            "map_link": map_link,
            "map_unapplied": map_unapplied,
            "filter_errors": filter_error_messages(filterset, refused),
            # A commune read as an INSEE code that is also another's postal code: which one.
            "commune_note": commune_name_note(request.GET.get("commune", ""))
            if "commune" in allowed
            else "",
            # Lists of check boxes take the width; the other filters share a row. A form
            # without the latter (a landlord's: statuses only) has no empty row above its
            # buttons.
            "wide_fields": [field for field in filterset.form if field.name in WIDE_FILTERS],
            "narrow_fields": [field for field in filterset.form if field.name not in WIDE_FILTERS],
            "page_obj": page,
            "rows": rows,
            "can_create": policy.can(request.user, Capability.EDIT_DEALPOINTS),
        }
    )
    return render(request, "dealpoints/dealpoint_list.html", context)


def _map_link(
    request: AuthenticatedRequest, *, allowed: Any, filterset: DealPointPageFilterSet
) -> tuple[str, str]:
    """The map's address with the list's filters its layers apply (status, product, channel,
    period) and the département it then opens on (one the actor sees), and what to say of the
    list's other filters (text, precision, commune, QPV...), which the map does not take:
    "" when there are none."""
    pairs: list[tuple[str, str]] = []
    unapplied: list[str] = []
    for name in filterset.base_filters:
        values = [value for value in request.GET.getlist(name) if value.strip()]
        if not values or name not in allowed:
            continue
        if name in map_views.FILTER_FIELDS:
            pairs.extend((name, value) for value in values)
            continue
        if name == "departement":
            try:
                code = territory_selectors.departement_get(
                    actor=request.user, code=values[0].strip().upper()
                ).code
            except Http404:
                pass  # unknown, or outside the actor's territory: not a place to open on
            else:
                pairs.append((name, code))
                continue
        unapplied.append(f"« {filterset.base_filters[name].label} »")
    link = reverse("dealpoints:map") + (f"?{urlencode(pairs)}" if pairs else "")
    if not unapplied:
        return link, ""
    return link, ngettext(
        "La carte n’applique pas le filtre %(filters)s de la liste : elle peut montrer des "
        "points que la liste ne montre pas.",
        "La carte n’applique pas les filtres %(filters)s de la liste : elle peut montrer des "
        "points que la liste ne montre pas.",
        len(unapplied),
    ) % {"filters": map_views.join_names(unapplied)}


# --- history -------------------------------------------------------------------------------------

_CHOICE_FIELDS: dict[str, Any] = {
    "distribution": Distribution,
    "marking": Marking,
    "precision": Precision,
    "channel": DistributionChannel,
    "confidence": Confidence,
    "products": Product,
    "observed_roles": ObservedRole,
}


# Fields of the point a history entry may name (anything else in `details` stays internal).
_POINT_FIELDS = frozenset(
    {*_CHOICE_FIELDS, "opening_hours", "name", "address", "building_label", "stairwell_label"}
)


def _value_label(name: str, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if name in _CHOICE_FIELDS:
        return ", ".join(_labels(value, _CHOICE_FIELDS[name]))
    if name == "opening_hours":
        return ", ".join(hours_labels(value))
    if name == "position":
        return ", ".join(f"{float(part):.5f}" for part in value)
    if name == "estimated_daily_turnover" and isinstance(value, int):
        return f"{floatformat(value, '0g')}\u00a0€"  # as the record says it (« 15 000 € »)
    if isinstance(value, list):
        return ", ".join(str(part) for part in value)
    return str(value)


def _field_label(name: str) -> str:
    if name == "position":
        return _("Position")
    try:
        field = DealPoint._meta.get_field(name.removesuffix("_id"))
    except FieldDoesNotExist:
        return name
    return capfirst(str(getattr(field, "verbose_name", name)))


def _undisclosed_count(details: dict[str, Any], key: str) -> int:
    return int((details.get(selectors.UNDISCLOSED_REPORTS) or {}).get(key, 0))


def _references(details: dict[str, Any]) -> list[str]:
    """The reports an entry names, those the reader is not told counted (`dealpoint_history`)."""
    reports = details.get("reports") or []
    hidden = _undisclosed_count(details, "reports")
    if not reports and not hidden:
        return []
    if not reports:
        return [
            ngettext(
                "%(count)s signalement non communiqué",
                "%(count)s signalements non communiqués",
                hidden,
            )
            % {"count": hidden}
        ]
    references = ", ".join(map(str, reports))
    if hidden:
        references += " " + ngettext(
            "et %(count)s non communiqué", "et %(count)s non communiqués", hidden
        ) % {"count": hidden}
    return [_("Signalements : %(references)s") % {"references": references}]


def _named(details: dict[str, Any], key: str, *, point: bool = False) -> str:
    """The reference an entry names under `key`, or that the reader is not told it."""
    if key in (details.get(selectors.UNDISCLOSED) or []):
        return _("(point non communiqué)") if point else _("(non communiqué)")
    return str(details.get(key) or "")


def _day(value: str) -> str:
    """An ISO date of the history as the French read it (kept as stored if it is not one)."""
    try:
        return date_format(date.fromisoformat(value), "d/m/Y")
    except (TypeError, ValueError):
        return str(value)


def _status_label(value: str) -> str:
    return _labels(value, DealPointStatus)[0] if value else "—"


def attached_text(*, report: str, point: str, moved_from: tuple[str, ...] = ()) -> str:
    """What the page says after attaching a report, naming the points it left."""
    text = _("Signalement %(report)s rattaché à %(reference)s.") % {
        "report": report,
        "reference": point,
    }
    if moved_from:
        text += " " + _("Il a quitté %(points)s, dont l'historique le mentionne.") % {
            "points": ", ".join(moved_from)
        }
    return text


# The changes of an edit in the order of the form that makes them (position first).
_EDIT_ORDER = {
    name: index
    for index, name in enumerate(
        (
            "position",
            *(
                "building_id" if field == "building" else field
                for field in DealPointForm.base_fields
            ),
        )
    )
}


def _edit_order(name: str) -> tuple[int, str]:
    return (_EDIT_ORDER.get(name, len(_EDIT_ORDER)), name)


def _event_lines(event: DealPointEvent) -> list[str]:
    """A history entry's details in French words (references and values, never raw JSON)."""
    details = event.details or {}
    kind = event.kind
    if kind in {EventKind.CREATED, EventKind.IMPORTED}:
        return [
            _("Statut : %(status)s") % {"status": _status_label(event.to_status)},
            *(
                f"{_field_label(name)} : {_value_label(name, details[name])}"
                for name in ("distribution", "marking", "sharing_group")
                if details.get(name)
            ),
            *_references(details),
        ]
    if kind == EventKind.EDITED:
        lines = []
        for name, change in sorted(details.items(), key=lambda item: _edit_order(item[0])):
            if name == "building":
                continue  # the names of `building_id`'s change (`selectors.dealpoint_history`)
            if name == "building_id":
                names = details.get("building")
                if not isinstance(names, list):
                    lines.append(_("Bâtiment du bailleur modifié"))
                    continue
                name, change = (
                    "building",
                    [_("(non communiqué)") if value is None else value for value in names],
                )
            old, new = [*change, None, None][:2] if isinstance(change, list) else (None, change)
            lines.append(
                _("%(field)s : %(old)s → %(new)s")
                % {
                    "field": _field_label(name),
                    "old": _value_label(name, old),
                    "new": _value_label(name, new),
                }
            )
        return lines
    if kind == EventKind.STATUS:
        lines = [
            _("%(old)s → %(new)s")
            % {"old": _status_label(event.from_status), "new": _status_label(event.to_status)}
        ]
        if _named(details, "successor"):
            lines.append(
                _("Successeur : %(reference)s")
                % {"reference": _named(details, "successor", point=True)}
            )
        if _named(details, "previous_successor"):
            lines.append(
                _("N'a plus pour successeur %(reference)s (le point n'est plus déplacé)")
                % {"reference": _named(details, "previous_successor", point=True)}
            )
        if details.get("operation"):
            lines.append(_("À la suite d'une opération enregistrée"))
        if details.get("operation_cancelled"):
            lines.append(
                _("À la suite de l'annulation d'une opération : plus aucune ne le dit démantelé")
            )
        elif details.get("correction"):
            lines.append(_("Correction du changement de statut précédent (erreur)"))
        return lines
    if kind == EventKind.OPERATION:
        lines = [
            _("%(kind)s du %(date)s : %(outcome)s")
            % {
                "kind": _labels(details.get("kind", ""), OperationKind)[0],
                "date": _day(details.get("date", "")),
                "outcome": _labels(details.get("outcome", ""), OperationOutcome)[0].lower(),
            }
        ]
        if details.get("status_kept"):
            lines.append(
                _("Statut inchangé : le point était « %(status)s »")
                % {"status": _status_label(details["status_kept"])}
            )
        if details.get("cancelled"):
            lines.append(_("Opération annulée (saisie par erreur) : elle ne compte plus"))
        return lines
    if kind == EventKind.REPORT_ATTACHED:
        lines = [
            _("Signalement %(reference)s : %(decision)s")
            % {
                "reference": _named(details, "report"),
                "decision": _labels(details.get("decision", ""), LinkDecision)[0].lower(),
            }
        ]
        if details.get("moved_from"):
            points = [point or _("(point non communiqué)") for point in details["moved_from"]]
            lines.append(_("Venu de %(points)s") % {"points": ", ".join(map(str, points))})
        return lines
    if kind == EventKind.REPORT_DETACHED:
        if details.get("revised"):
            return [
                _(
                    "Signalement %(reference)s : rattachement automatique révisé (un nouveau "
                    "point proposé à côté lui correspond mieux), proposé à l'analyste"
                )
                % {"reference": _named(details, "report")}
            ]
        if _named(details, "moved_to"):
            return [
                _("Signalement %(reference)s rattaché à %(point)s : il a quitté ce point")
                % {
                    "reference": _named(details, "report"),
                    "point": _named(details, "moved_to", point=True),
                }
            ]
        return [_("Signalement %(reference)s détaché") % {"reference": _named(details, "report")}]
    if kind == EventKind.MERGED:
        if _named(details, "into"):
            line = _("Fusionné dans %(reference)s") % {
                "reference": _named(details, "into", point=True)
            }
        else:
            line = _("%(reference)s fusionné dans ce point") % {
                "reference": _named(details, "from", point=True)
            }
        return [line, *_references(details)]
    if kind == EventKind.UNMERGED:
        lines = [
            _("Fusion avec %(reference)s annulée")
            % {"reference": _named(details, "other", point=True)},
            *_references(details),
        ]
        for reference, now in sorted((details.get("stayed") or {}).items()):
            if f"stayed:{reference}" in (details.get(selectors.UNDISCLOSED) or []):
                now = _("(point non communiqué)")
            if now:
                line = _("%(reference)s reste à %(point)s, où il a été rattaché depuis")
            else:
                line = _("%(reference)s reste détaché, comme décidé depuis la fusion")
            lines.append(line % {"reference": reference, "point": now})
        stayed_hidden = _undisclosed_count(details, "stayed")
        if stayed_hidden:
            lines.append(
                ngettext(
                    "%(count)s signalement non communiqué reste où il a été décidé depuis",
                    "%(count)s signalements non communiqués restent où il a été décidé depuis",
                    stayed_hidden,
                )
                % {"count": stayed_hidden}
            )
        return lines
    if (
        kind == EventKind.ALERT
        and (details.get("closed") or details.get("reopened"))
        and ("merged" in details)
    ):
        names = {
            "merged": _named(details, "merged", point=True),
            "other": _named(details, "into" if details.get("closed") else "other", point=True),
        }
        if details.get("reopened"):
            line = _("Alerte rouverte : la fusion de %(merged)s dans %(other)s a été annulée")
        elif details.get("kind") == AlertKind.SUCCESSOR:
            line = _(
                "Alerte de déplacement possible close : %(merged)s a été fusionné dans %(other)s"
            )
        else:
            line = _("Alerte de résurgence close : %(merged)s a été fusionné dans %(other)s")
        return [line % names]
    if kind == EventKind.ALERT and details.get("closed") and details.get("decided"):
        # An analyst's decision (from the queue or the record).
        names = {
            "candidate": _named(details, "candidate", point=True) or "—",
            "report": _named(details, "report") or "—",
        }
        confirmed = details["closed"] == AlertStatus.CONFIRMED
        if details.get("kind") == AlertKind.SUCCESSOR:
            line = (
                _("Alerte de déplacement possible confirmée : déplacé vers %(candidate)s")
                if confirmed
                else _("Alerte de déplacement possible écartée (nouveau point : %(candidate)s)")
            )
        else:
            line = (
                _("Alerte de résurgence confirmée (signalement %(report)s)")
                if confirmed
                else _("Alerte de résurgence écartée (signalement %(report)s)")
            )
        return [line % names]
    if kind == EventKind.ALERT and details.get("reopened") and details.get("status_corrected"):
        return [
            _(
                "Alerte de déplacement possible rouverte (nouveau point : %(candidate)s) : le "
                "changement de statut de %(point)s qui l'avait close a été corrigé"
            )
            % {
                "candidate": _named(details, "candidate", point=True) or "—",
                "point": _named(details, "status_changed", point=True) or "—",
            }
        ]
    if kind == EventKind.ALERT and details.get("reopened") and details.get("move_undone"):
        return [
            _(
                "Alerte de déplacement possible rouverte (nouveau point : %(candidate)s) : le "
                "déplacement vers %(successor)s a été corrigé"
            )
            % {
                "candidate": _named(details, "candidate", point=True) or "—",
                "successor": _named(details, "successor", point=True) or "—",
            }
        ]
    if kind == EventKind.ALERT and details.get("closed") and details.get("move_undone"):
        return [
            _(
                "Confirmation du déplacement annulée (vers %(candidate)s) : le point n'avait "
                "pas pris ce relais (son statut a été corrigé)"
            )
            % {"candidate": _named(details, "candidate", point=True) or "—"}
        ]
    if kind == EventKind.ALERT and details.get("closed") and details.get("undone"):
        return [
            _(
                "Confirmation de la résurgence annulée (signalement %(report)s) : le point "
                "n'était pas revenu (son statut a été corrigé), le signalement l'a quitté"
            )
            % {"report": _named(details, "report") or "—"}
        ]
    if kind == EventKind.ALERT and details.get("closed") and details.get("report_placed"):
        return [
            _(
                "Alerte de résurgence close : le signalement %(report)s a été placé de nouveau "
                "par un analyste, hors de portée de ce point"
            )
            % {"report": _named(details, "report") or "—"}
        ]
    if kind == EventKind.ALERT and details.get("closed") and details.get("status_corrected"):
        return [
            _(
                "Alerte de résurgence close : le point n'était pas démantelé (son statut a été "
                "corrigé)"
            )
        ]
    if kind == EventKind.ALERT and details.get("closed") and _named(details, "status_changed"):
        if details["closed"] == AlertStatus.CONFIRMED:
            return [
                _("Alerte de déplacement possible confirmée : déplacé vers %(candidate)s")
                % {"candidate": _named(details, "candidate", point=True) or "—"}
            ]
        return [
            _(
                "Alerte de déplacement possible close : %(point)s a changé de statut "
                "(nouveau point proposé : %(candidate)s)"
            )
            % {
                "point": _named(details, "status_changed", point=True),
                "candidate": _named(details, "candidate", point=True) or "—",
            }
        ]
    if kind == EventKind.ALERT and details.get("closed"):
        return [
            _("Alerte de résurgence close : signalement %(reference)s rattaché à %(point)s")
            % {
                "reference": _named(details, "report"),
                "point": _named(details, "attached_to", point=True),
            }
        ]
    if kind == EventKind.SPLIT:
        if _named(details, "new"):
            line = _("Nouveau point issu de la scission : %(reference)s") % {
                "reference": _named(details, "new", point=True)
            }
        else:
            line = _("Issu de la scission de %(reference)s") % {
                "reference": _named(details, "from", point=True)
            }
        return [line, *_references(details)]
    if kind == EventKind.SUCCESSOR and "merged" in details:
        names = {
            key: _named(details, key, point=True)
            for key in ("successor", "predecessor", "merged", "other")
        }
        if "predecessor" in details:
            line = (
                _(
                    "N'est plus le successeur de %(predecessor)s : la fusion de %(merged)s a "
                    "été annulée"
                )
                if details.get("unmerged")
                else _(
                    "Successeur de %(predecessor)s : %(merged)s, son successeur, y a été fusionné"
                )
            )
        elif details.get("unmerged"):
            line = _(
                "Successeur : %(successor)s de nouveau (sa fusion dans %(other)s a été annulée)"
            )
        else:
            line = _("Successeur : %(successor)s (%(merged)s, le successeur, y a été fusionné)")
        return [line % names]
    if kind == EventKind.SUCCESSOR and "ended" in details:
        if details["ended"] is None:
            # Withheld with the predecessor the reader does not see (`selectors`).
            return [
                _("N'est plus le successeur de %(reference)s")
                % {"reference": _named(details, "predecessor", point=True)}
            ]
        return [
            _("N'est plus le successeur de %(reference)s, passé à « %(status)s »")
            % {
                "reference": _named(details, "predecessor", point=True),
                "status": _status_label(details["ended"]),
            }
        ]
    if kind == EventKind.SUCCESSOR:
        return [
            _("Désigné comme successeur de %(reference)s")
            % {"reference": _named(details, "predecessor", point=True)}
        ]
    if kind == EventKind.ALERT:
        return _alert_lines(details)
    # A kind without its own sentence: the point's own fields, labelled in French; other keys
    # (ids of other tables, internal markers) are not the reader's business.
    return [
        f"{_field_label(key)} : {_value_label(key, value)}"
        for key, value in sorted(details.items())
        if key in _POINT_FIELDS
    ]


def _alert_lines(details: dict[str, Any]) -> list[str]:
    """An alert in a sentence: what it suspects and the report or point that raised it (the
    alert's own id is internal)."""
    report, candidate = details.get("report"), details.get("candidate")
    if "report" in (details.get(selectors.UNDISCLOSED) or []):
        report = _("(non communiqué)")
    if details.get("kind") == AlertKind.SUCCESSOR:
        if candidate:
            return [
                _("Alerte de déplacement possible : nouveau point %(reference)s à proximité")
                % {"reference": candidate}
            ]
        return [_("Alerte de déplacement possible : nouveau point à proximité")]
    if report:
        return [_("Alerte de résurgence : signalement %(reference)s") % {"reference": report}]
    if candidate:
        return [_("Alerte de résurgence : point %(reference)s") % {"reference": candidate}]
    return [_("Alerte de résurgence")]


def _history(events: list[DealPointEvent]) -> list[dict[str, Any]]:
    return [
        {
            "when": date_format(timezone.localtime(event.occurred_at), "d/m/Y H:i"),
            "iso": timezone.localtime(event.occurred_at).isoformat(),
            "kind": event.get_kind_display(),
            "actor": _person(event.actor),
            "lines": _event_lines(event),
            "note": event.note,
        }
        for event in events
    ]


# --- detail --------------------------------------------------------------------------------------


def _render_detail(
    request: AuthenticatedRequest,
    dealpoint: DealPoint,
    *,
    bound: dict[str, Any] | None = None,
) -> HttpResponse:
    if policy.visible_fields(request.user, DealPoint) is not None:
        row = selectors.dealpoint_reduced(actor=request.user, dealpoint=dealpoint)
        return render(
            request,
            "dealpoints/dealpoint_detail_reduced.html",
            {
                "page_title": _("Point de deal %(code)s") % {"code": row.get("partner_code")},
                "row": row,
            },
        )
    detail = selectors.dealpoint_detail(actor=request.user, dealpoint=dealpoint)
    permissions = selectors.dealpoint_permissions(actor=request.user, dealpoint=dealpoint)
    forms: dict[str, Any] = {}
    active = dealpoint.merged_into_id is None
    if permissions.change and active:
        forms["status_form"] = StatusForm(dealpoint=dealpoint)
        last_change = services.status_last_change(dealpoint)
        if last_change is not None:
            forms["correction_form"] = StatusCorrectionForm(change=last_change)
        forms["sharing_form"] = SharingForm.for_dealpoint(
            dealpoint, groups=policy.distributable_sharing_groups(request.user)
        )
        forms["merge_form"] = MergeForm()
        forms["attach_form"] = AttachForm()
    if permissions.record_operation:
        choices = selectors.operation_service_choices(actor=request.user, dealpoint=dealpoint)
        forms["operation_form"] = OperationForm(
            services_queryset=choices,
            default_service=services.operation_default_service(
                actor=request.user, services=choices
            ),
        )
        cancellable = selectors.operation_cancel_choices(actor=request.user, dealpoint=dealpoint)
        if cancellable.exists():
            forms["cancel_form"] = OperationCancelForm(operations=cancellable)
    forms.update(bound or {})
    # The action form sent back with its errors (3,000 px below the top): its error summary,
    # focused on load, opens the page (RGAA 11.10, 11.11), as on the create and edit pages.
    error_form = next(
        (form for form in (bound or {}).values() if getattr(form, "errors", None)), None
    )
    facts = {
        "products": ", ".join(_labels(dealpoint.products, Product)) or "—",
        "observed_roles": ", ".join(_labels(dealpoint.observed_roles, ObservedRole)) or "—",
        "opening_hours": ", ".join(hours_labels(dealpoint.opening_hours)) or "—",
    }
    operations = [
        {
            "operation": operation,
            "recorded_by": _person(operation.recorded_by),
            "cancelled_by": _person(operation.cancelled_by),
        }
        for operation in detail.operations
    ]
    return render(
        request,
        "dealpoints/dealpoint_detail.html",
        {
            "page_title": _("Point de deal %(reference)s") % {"reference": dealpoint.reference},
            "dealpoint": dealpoint,
            "detail": detail,
            "facts": facts,
            "operations": operations,
            "history": _history(detail.events),
            "error_form": error_form,
            "correction": _correction_context(forms.get("correction_form")),
            "permissions": permissions,
            "active": active,
            "boundary_urls": map_boundaries([dealpoint.departement.code]),
            **forms,
            **map_settings(),
        },
        status=400 if bound else 200,
    )


def _record_refused(request: AuthenticatedRequest) -> NotFoundForRole | None:
    """What a role that only counts points (a prefecture, a prosecutor's office) is told of
    any record it is sent a link to, found or not: that it receives counts on the map, not
    records (a colleague's link read « Page introuvable », as for a wrong address)."""
    if selectors.dealpoint_list_mode(actor=request.user) != selectors.ListMode.AGGREGATE:
        return None
    return NotFoundForRole(
        _(
            "Votre rôle reçoit le nombre de points de deal par zone de votre territoire, sur la "
            "carte, pas les fiches des points : celle-ci ne vous est pas communiquée, qu'elle "
            "existe ou non."
        ),
        link=reverse("dealpoints:map"),
        link_label=_("Ouvrir la carte"),
    )


def dealpoint_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A point's whole record (reduced for a landlord); the read is audited, and so is the
    refusal of a point that exists."""
    policy.require(request.user, Capability.VIEW_MAP)
    try:
        dealpoint = selectors.access_dealpoint(actor=request.user, pk=pk)
    except Http404:
        raise _record_refused(request) or Http404 from None
    return _render_detail(request, dealpoint)


def dealpoint_by_code(request: AuthenticatedRequest, code: str) -> HttpResponse:
    """A point found by its partner code: the landlord's page of a point, and, for the
    services, the point a landlord quotes; the read is audited."""
    policy.require(request.user, Capability.VIEW_MAP)
    try:
        dealpoint = selectors.access_dealpoint_by_code(actor=request.user, code=code)
    except Http404:
        raise _record_refused(request) or Http404 from None
    return _render_detail(request, dealpoint)


# --- create and edit -----------------------------------------------------------------------------


def _prefill(request: HttpRequest, data: Any = None) -> dict[str, Any]:
    """Position given in the query string (from the map or a proposal), or in `data`, when it
    is sound (a decimal comma read as a point)."""
    data = request.GET if data is None else data
    initial: dict[str, Any] = {}
    for name in ("latitude", "longitude"):
        try:
            initial[name] = float(str(data[name]).replace(",", "."))
        except (KeyError, ValueError):
            continue
    if data.get("precision") in Precision.values:
        initial["precision"] = data["precision"]
    return initial


def _near(initial: dict[str, Any]) -> tuple[float, float] | None:
    """The prefilled position, when there is a sound one (the buildings nearest it first)."""
    latitude, longitude = initial.get("latitude"), initial.get("longitude")
    if latitude is None or longitude is None:
        return None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    return latitude, longitude


def _form_page(
    request: AuthenticatedRequest,
    form: DealPointForm,
    *,
    title: str,
    dealpoint: DealPoint | None,
    codes: list[str],
    sharing_form: SharingForm | None = None,
    changed_meanwhile: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    invalid = form.is_bound and (form.errors or (sharing_form is not None and sharing_form.errors))
    return render(
        request,
        "dealpoints/dealpoint_form.html",
        {
            "page_title": title,
            "form": form,
            "sharing_form": sharing_form,
            "dealpoint": dealpoint,
            "changed_meanwhile": changed_meanwhile or [],
            "boundary_urls": map_boundaries(codes),
            "times_of_day": DealPointForm.times_of_day(),
            **map_settings(),
        },
        status=400 if invalid else 200,
    )


def with_move_alerts(actor: User, dealpoint: DealPoint, text: str) -> str:
    """A creation's message, with the move alerts the new point raised (« déplacement ? »),
    as an acceptance's message says its resurgence alerts."""
    named = selectors.move_alerts_raised(actor=actor, dealpoint=dealpoint)
    if not named:
        return text
    return f"{text} " + _(
        "Alerte de déplacement possible : point(s) démantelé(s) à proximité, %(points)s ; à "
        "examiner dans « Rapprochements »."
    ) % {"points": ", ".join(named)}


def dealpoint_create(request: AuthenticatedRequest) -> HttpResponse:
    """A new point, placed by its latitude and longitude (or on the small map)."""
    policy.require(request.user, Capability.EDIT_DEALPOINTS)
    initial = _prefill(request)
    # The buildings nearest the position sent (the form shown again), else the prefilled one.
    sent = _prefill(request, data=request.POST) if request.method == "POST" else initial
    buildings = selectors.dealpoint_building_choices(
        actor=request.user, view="dealpoint_create", near=_near(sent)
    )
    groups = policy.distributable_sharing_groups(request.user)
    if request.method == "POST":
        form = DealPointForm(request.POST, buildings=buildings)
        sharing_form = SharingForm(request.POST, groups=groups)
        if form.is_valid() and sharing_form.is_valid():
            try:
                dealpoint = flows.dealpoint_add(
                    actor=request.user, data=form.to_input(), sharing=sharing_form.to_input()
                )
            except ValidationError as error:
                _service_errors(error, form, sharing_form)
            else:
                text = _("Point de deal %(reference)s créé.") % {"reference": dealpoint.reference}
                messages.success(request, with_move_alerts(request.user, dealpoint, text))
                nearby = selectors.points_near_created(actor=request.user, dealpoint=dealpoint)
                if nearby:
                    messages.warning(
                        request,
                        _(
                            "Un point existe déjà tout près : %(points)s. S'il s'agit du même "
                            "lieu, fusionnez les deux fiches (« Fusionner », sur la fiche de "
                            "celui qui disparaît)."
                        )
                        % {
                            "points": ", ".join(
                                _("%(reference)s à %(distance)s m")
                                % {
                                    "reference": reference,
                                    "distance": services.metres_said(distance),
                                }
                                for distance, reference in nearby
                            )
                        },
                    )
                return redirect("dealpoints:detail", pk=dealpoint.pk)
    else:
        form = DealPointForm(initial=initial, buildings=buildings)
        sharing_form = SharingForm(groups=groups)
    return _form_page(
        request,
        form,
        title=_("Nouveau point de deal"),
        dealpoint=None,
        codes=selectors.picker_departement_codes(actor=request.user),
        sharing_form=sharing_form,
    )


def _service_errors(error: ValidationError, form: DealPointForm, sharing: SharingForm) -> None:
    """A service's refusal shown on the form that holds the field it names."""
    if not hasattr(error, "error_dict"):
        form.add_service_error(error)
        return
    names = {"distribution", "marking", "sharing_group_id"}
    shared = {name: messages for name, messages in error.message_dict.items() if name in names}
    rest = {name: messages for name, messages in error.message_dict.items() if name not in names}
    if shared:
        sharing.add_service_error(ValidationError(shared))
    if rest:
        form.add_service_error(ValidationError(rest))


def dealpoint_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Change what is known of a point (its status has its own form on the record)."""
    policy.require(request.user, Capability.EDIT_DEALPOINTS)
    dealpoint = selectors.access_dealpoint(
        actor=request.user, pk=pk, action=policy.Action.CHANGE, audit=request.method != "POST"
    )
    # Measured from the position sent when the form comes back (a point moved and a building
    # chosen: the list said « à 0 m » beside a refusal « à 400 m », review), else the point's.
    sent = _prefill(request, data=request.POST) if request.method == "POST" else {}
    buildings = selectors.dealpoint_building_choices(
        actor=request.user,
        view="dealpoint_edit",
        departement_id=dealpoint.departement_id,
        near=_near(sent) or (dealpoint.latitude, dealpoint.longitude),
    )
    changed_meanwhile: list[dict[str, Any]] = []
    if request.method == "POST":
        form = DealPointForm(request.POST, buildings=buildings)
        if form.is_valid():
            # Its edit version moves only with an edit written (not with a report attached
            # meanwhile, which changes the row's `updated_at`).
            version_before = selectors.dealpoint_edit_version(dealpoint=dealpoint)
            try:
                updated = services.dealpoint_update(
                    actor=request.user,
                    dealpoint=dealpoint,
                    data=form.to_input(),
                    note=form.cleaned_data.get("note") or "",
                    version=form.cleaned_data.get("version"),
                )
            except ValidationError as error:
                form.add_service_error(error)
                if isinstance(error, services.ChangedMeanwhile):
                    changed_meanwhile = _history(
                        selectors.dealpoint_history(
                            actor=request.user,
                            dealpoint=dealpoint,
                            events=reversed(error.events),
                            view="dealpoint_edit",
                        )
                    )
            else:
                # Sent without any change: not said « modifié » (nothing was written).
                changed = selectors.dealpoint_edit_version(dealpoint=updated) != version_before
                messages.success(
                    request,
                    (
                        _("Point de deal %(reference)s modifié.")
                        if changed
                        else _("Rien n'a changé : %(reference)s est resté tel quel.")
                    )
                    % {"reference": dealpoint.reference},
                )
                return redirect("dealpoints:detail", pk=dealpoint.pk)
        # Shown again with its errors: the read skipped above is audited now (the service
        # changed its own locked copy, so `dealpoint` still holds the stored record).
        selectors.dealpoint_audit_view(actor=request.user, dealpoint=dealpoint)
    else:
        form = DealPointForm(initial=DealPointForm.initial_from(dealpoint), buildings=buildings)
    return _form_page(
        request,
        form,
        title=_("Modifier le point %(reference)s") % {"reference": dealpoint.reference},
        dealpoint=dealpoint,
        codes=[dealpoint.departement.code],
        changed_meanwhile=changed_meanwhile,
    )


# --- actions (POST) ------------------------------------------------------------------------------


def _action(
    request: AuthenticatedRequest, pk: int, *, capability: Capability = Capability.EDIT_DEALPOINTS
) -> DealPoint | HttpResponse:
    """Common start of the actions: the capability, the point (404 if the actor may not act on
    it), then POST only (405). The service audits what it does."""
    policy.require(request.user, capability)
    action = (
        policy.Action.CHANGE if capability == Capability.EDIT_DEALPOINTS else policy.Action.VIEW
    )
    dealpoint = selectors.access_dealpoint(actor=request.user, pk=pk, action=action, audit=False)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return dealpoint


def _done(request: HttpRequest, dealpoint: DealPoint, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("dealpoints:detail", pk=dealpoint.pk)


def _refused(request: HttpRequest, dealpoint: DealPoint, error: ValidationError) -> HttpResponse:
    for text in error.messages:
        messages.error(request, text)
    return redirect("dealpoints:detail", pk=dealpoint.pk)


def _form_action(
    request: AuthenticatedRequest,
    pk: int,
    *,
    key: str,
    make: Callable[[DealPoint], Any],
    run: Callable[[DealPoint, Any], str],
    capability: Capability = Capability.EDIT_DEALPOINTS,
) -> HttpResponse:
    """An action with a form on the record: run it and come back with a message, or show the
    record again with the form's errors."""
    dealpoint = _action(request, pk, capability=capability)
    if isinstance(dealpoint, HttpResponse):
        return dealpoint
    form = make(dealpoint)
    if form.is_valid():
        try:
            text = run(dealpoint, form)
        except ValidationError as error:
            form.add_service_error(error)
        else:
            return _done(request, dealpoint, text)
    # Shown again with its errors: the record is read again (audited).
    dealpoint = selectors.access_dealpoint(actor=request.user, pk=dealpoint.pk)
    return _render_detail(request, dealpoint, bound={key: form})


def dealpoint_status(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    def run(dealpoint: DealPoint, form: StatusForm) -> str:
        status = form.cleaned_data["status"]
        successor = None
        if status == DealPointStatus.MOVED:
            successor = selectors.dealpoint_named(
                actor=request.user, reference=form.cleaned_data["successor"], field="successor"
            )
        services.dealpoint_change_status(
            actor=request.user,
            dealpoint=dealpoint,
            status=status,
            note=form.cleaned_data.get("note") or "",
            successor=successor,
            from_status=form.cleaned_data.get("from_status") or None,
        )
        return _("Statut de %(reference)s : %(status)s.") % {
            "reference": dealpoint.reference,
            "status": _status_label(status),
        }

    return _form_action(
        request,
        pk,
        key="status_form",
        make=lambda point: StatusForm(request.POST, dealpoint=point),
        run=run,
    )


def _correction_context(form: StatusCorrectionForm | None) -> dict[str, str] | None:
    """What the correction form says of the change it undoes."""
    if form is None or form.last_change is None:
        return None
    change = form.last_change
    return {
        "before": _status_label(change.from_status),
        "after": _status_label(change.to_status),
        "when": date_format(timezone.localtime(change.occurred_at), "d/m/Y H:i"),
        "who": _person(change.actor),
    }


def dealpoint_status_correct(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Undo the point's last status change (POST, from the record)."""

    def make(dealpoint: DealPoint) -> StatusCorrectionForm:
        return StatusCorrectionForm(request.POST, change=services.status_last_change(dealpoint))

    def run(dealpoint: DealPoint, form: StatusCorrectionForm) -> str:
        # The change the page named (`change_id`): the service refuses if another came since
        # (the form then names the new one: `ChangedMeanwhile`), or if there is none.
        current = form.last_change
        status = current.from_status if current is not None else dealpoint.status
        services.dealpoint_change_status(
            actor=request.user,
            dealpoint=dealpoint,
            status=status,
            note=form.cleaned_data["note"],
            corrects=form.cleaned_data["change_id"],
        )
        return _("Statut de %(reference)s corrigé : de nouveau « %(status)s ».") % {
            "reference": dealpoint.reference,
            "status": _status_label(status),
        }

    return _form_action(request, pk, key="correction_form", make=make, run=run)


def dealpoint_operation_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Cancel an operation recorded by mistake (POST, from the record)."""

    def make(dealpoint: DealPoint) -> OperationCancelForm:
        return OperationCancelForm(
            request.POST,
            operations=selectors.operation_cancel_choices(actor=request.user, dealpoint=dealpoint),
        )

    def run(dealpoint: DealPoint, form: OperationCancelForm) -> str:
        operation = services.operation_cancel(
            actor=request.user,
            operation=form.cleaned_data["operation"],
            reason=form.cleaned_data["reason"],
        )
        text = _(
            "Opération annulée (%(kind)s du %(date)s) : elle reste au dossier mais ne compte plus."
        ) % {
            "kind": operation.get_kind_display(),
            "date": date_format(operation.occurred_on, "d/m/Y"),
        }
        if operation.status_restored:
            text += " " + _(
                "Plus aucune opération qui compte ne dit le point démantelé : son démantèlement "
                "est corrigé, il est de nouveau « %(status)s »."
            ) % {"status": _status_label(operation.status_restored)}
        elif operation.dismantled_by is not None and operation.outcome == (
            OperationOutcome.DISMANTLED
        ):
            text += " " + _(
                "Le point reste démantelé : l'opération du %(date)s (%(kind)s), qui compte "
                "toujours, le dit démantelé aussi."
            ) % {
                "date": date_format(operation.dismantled_by.occurred_on, "d/m/Y"),
                "kind": operation.dismantled_by.get_kind_display(),
            }
        elif operation.outcome == OperationOutcome.DISMANTLED:
            dealpoint.refresh_from_db(fields=["status"])
            text += " " + _(
                "Le statut du point ne change pas (« %(status)s ») : corrigez-le si besoin."
            ) % {"status": dealpoint.get_status_display()}
        return text

    return _form_action(
        request,
        pk,
        key="cancel_form",
        make=make,
        run=run,
        capability=Capability.RECORD_OPERATIONS,
    )


def dealpoint_sharing(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    def run(dealpoint: DealPoint, form: SharingForm) -> str:
        services.dealpoint_share(actor=request.user, dealpoint=dealpoint, data=form.to_input())
        return _("Diffusion de %(reference)s enregistrée.") % {"reference": dealpoint.reference}

    return _form_action(
        request,
        pk,
        key="sharing_form",
        make=lambda point: SharingForm(
            request.POST, groups=policy.distributable_sharing_groups(request.user)
        ),
        run=run,
    )


def _dismantled_text(actor: User, operation: Operation, dealpoint: DealPoint) -> str:
    """What an operation whose outcome is "dismantled" did to the point's status: only a
    change that happened is announced; otherwise why the status stays. The successor of a
    moved point is named only to who may see it."""
    if operation.status_kept == DealPointStatus.DISMANTLED:
        return _("Le point était déjà démantelé : son statut ne change pas.")
    if operation.status_kept == DealPointStatus.MOVED:
        dealpoint.refresh_from_db()
        if dealpoint.successor_id is None:
            # Its successor was deleted since (the link is kept empty).
            return _(
                "Le point reste « Déplacé » : un point déplacé ne se démantèle pas. Si le point "
                "a repris ici, il doit d'abord passer à « Résurgent », puis à « Démantelé »."
            )
        successor = selectors.successor_told(actor=actor, dealpoint=dealpoint)
        if successor is None:
            return _(
                "Le point reste « Déplacé » : son activité est passée à un autre point, qui ne "
                "vous est pas communiqué, et un point déplacé ne se démantèle pas. Si le point "
                "a repris ici, il doit d'abord passer à « Résurgent », puis à « Démantelé »."
            )
        return _(
            "Le point reste « Déplacé » : son activité est passée à %(successor)s, et un point "
            "déplacé ne se démantèle pas. Si c'est %(successor)s qui a été démantelé, "
            "enregistrez aussi l'opération sur sa fiche ; si le point a repris ici, passez-le "
            "à « Résurgent », puis à « Démantelé »."
        ) % {"successor": successor}
    if operation.status_kept:
        return _("Le statut du point ne change pas (« %(status)s »).") % {
            "status": _status_label(operation.status_kept)
        }
    return _("Le point est désormais démantelé.")


def dealpoint_operation(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    def run(dealpoint: DealPoint, form: OperationForm) -> str:
        try:
            operation = services.operation_record(
                actor=request.user, dealpoint=dealpoint, data=form.to_input()
            )
        except services.OperationAlreadyRecorded as sent:
            # Not an error to correct: the first send did it; the record shows it.
            return sent.messages[0]
        text = _("Opération du %(date)s enregistrée sur %(reference)s.") % {
            "date": date_format(operation.occurred_on, "d/m/Y"),
            "reference": dealpoint.reference,
        }
        if operation.outcome == OperationOutcome.DISMANTLED:
            text += " " + _dismantled_text(request.user, operation, dealpoint)
        return text

    return _form_action(
        request,
        pk,
        key="operation_form",
        make=lambda point: OperationForm(
            request.POST,
            services_queryset=selectors.operation_service_choices(
                actor=request.user, dealpoint=point
            ),
        ),
        run=run,
        capability=Capability.RECORD_OPERATIONS,
    )


def dealpoint_merge(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    def run(dealpoint: DealPoint, form: MergeForm) -> str:
        target = selectors.dealpoint_named(
            actor=request.user,
            reference=form.cleaned_data["target"],
            field="target",
            action=policy.Action.CHANGE,
        )
        services.dealpoint_merge(
            actor=request.user,
            source=dealpoint,
            target=target,
            note=form.cleaned_data.get("note") or "",
        )
        return _("%(source)s fusionné dans %(target)s. La fusion peut être annulée.") % {
            "source": dealpoint.reference,
            "target": target.reference,
        }

    return _form_action(
        request, pk, key="merge_form", make=lambda point: MergeForm(request.POST), run=run
    )


def dealpoint_attach(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    def run(dealpoint: DealPoint, form: AttachForm) -> str:
        report = selectors.report_named(actor=request.user, reference=form.cleaned_data["report"])
        link = services.report_attach(
            actor=request.user,
            dealpoint=dealpoint,
            report=report,
            decision=LinkDecision.CONFIRMED,
        )
        return attached_text(
            report=report.reference, point=dealpoint.reference, moved_from=link.moved_from
        )

    return _form_action(
        request, pk, key="attach_form", make=lambda point: AttachForm(request.POST), run=run
    )


def dealpoint_unmerge(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    dealpoint = _action(request, pk)
    if isinstance(dealpoint, HttpResponse):
        return dealpoint
    try:
        services.dealpoint_unmerge(
            actor=request.user, dealpoint=dealpoint, note=request.POST.get("note", "").strip()
        )
    except ValidationError as error:
        return _refused(request, dealpoint, error)
    return _done(
        request,
        dealpoint,
        _("Fusion annulée : %(reference)s est de nouveau un point à part entière.")
        % {"reference": dealpoint.reference},
    )


def _from_decision(request: HttpRequest, link: ReportLink) -> str:
    """The link decision the record showed (its forms send it): a decision applies only to a
    link still so. A form without it (a page older than the field) decides on the link as is."""
    value = request.POST.get("from_decision", "")
    return value if value in LinkDecision.values else link.decision


def dealpoint_detach(request: AuthenticatedRequest, pk: int, report_pk: int) -> HttpResponse:
    """Detach an attached report, or refuse a proposed one (the matching will not propose
    the pair again); refused if the link changed since the record was read (another tab)."""
    dealpoint = _action(request, pk)
    if isinstance(dealpoint, HttpResponse):
        return dealpoint
    link = selectors.dealpoint_link(
        actor=request.user, dealpoint=dealpoint, report_pk=report_pk, with_rejected=True
    )
    from_decision = _from_decision(request, link)
    try:
        flows.link_refuse(
            actor=request.user,
            link=link,
            note=request.POST.get("note", "").strip(),
            from_decision=from_decision,
        )
    except ValidationError as error:
        return _refused(request, dealpoint, error)
    if from_decision == LinkDecision.PROPOSED:
        text = _("Rattachement de %(report)s écarté : il ne sera plus proposé pour ce point.")
    else:
        text = _("Signalement %(report)s détaché de ce point.")
    return _done(request, dealpoint, text % {"report": link.report.reference})


def dealpoint_confirm_link(request: AuthenticatedRequest, pk: int, report_pk: int) -> HttpResponse:
    """Confirm a report the matching proposed for this point; refused if it was decided since
    the record was read (another tab, another analyst)."""
    dealpoint = _action(request, pk)
    if isinstance(dealpoint, HttpResponse):
        return dealpoint
    link = selectors.dealpoint_link(
        actor=request.user, dealpoint=dealpoint, report_pk=report_pk, with_rejected=True
    )
    try:
        attached = flows.link_confirm(actor=request.user, link=link)
    except ValidationError as error:
        return _refused(request, dealpoint, error)
    return _done(
        request,
        dealpoint,
        attached_text(
            report=link.report.reference,
            point=dealpoint.reference,
            moved_from=attached.moved_from,
        ),
    )


def dealpoint_split(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Split a point that was two: choose the reports that leave for a new point, and place it."""
    policy.require(request.user, Capability.EDIT_DEALPOINTS)
    dealpoint = selectors.access_dealpoint(
        actor=request.user, pk=pk, action=policy.Action.CHANGE, audit=request.method != "POST"
    )
    links = selectors.dealpoint_attached_links(
        actor=request.user, dealpoint=dealpoint, view="dealpoint_split"
    )
    if request.method == "POST":
        form = SplitForm(request.POST, links=links)
        if form.is_valid():
            chosen = set(form.report_ids())
            try:
                new = flows.dealpoint_split(
                    actor=request.user,
                    dealpoint=dealpoint,
                    reports=[link.report for link in links if link.report_id in chosen],
                    data=form.to_input(dealpoint),
                    note=form.cleaned_data.get("note") or "",
                )
            except ValidationError as error:
                form.add_service_error(error)
            else:
                # The new point may be where a dismantled point nearby moved: said, as for
                # any new point (user audit).
                messages.success(
                    request,
                    with_move_alerts(
                        request.user,
                        new,
                        _("%(reference)s scindé : nouveau point %(new)s.")
                        % {"reference": dealpoint.reference, "new": new.reference},
                    ),
                )
                return redirect("dealpoints:detail", pk=new.pk)
        # Shown again with its errors: the read skipped above is audited now (the service
        # changed its own locked copy, so `dealpoint` still holds the stored record).
        selectors.dealpoint_audit_view(actor=request.user, dealpoint=dealpoint)
    else:
        form = SplitForm(
            initial={
                "latitude": dealpoint.latitude,
                "longitude": dealpoint.longitude,
                "precision": dealpoint.precision,
            },
            links=links,
        )
    return render(
        request,
        "dealpoints/dealpoint_split.html",
        {
            "page_title": _("Scinder le point %(reference)s") % {"reference": dealpoint.reference},
            "dealpoint": dealpoint,
            "form": form,
            "links": links,
            "building_reach": int(services.BUILDING_REACH_M),
            "boundary_urls": map_boundaries([dealpoint.departement.code]),
            **map_settings(),
        },
        status=400 if form.is_bound and form.errors else 200,
    )
