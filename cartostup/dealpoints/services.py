"""Writes on deal points: create, edit, life cycle, operations, attaching reports, merge,
unmerge and split (issue 4).

Every service is keyword-only, runs in one transaction, authorises through `access.policy`,
validates with `full_clean()`, appends to the point's history (`DealPointEvent`, never changed)
and writes its audit event inside the transaction. `actor=None` is the platform itself (the
automatic matching); it is recorded as such in the history and the audit log.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from typing import Any

import h3
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from cartostup.access import policy
from cartostup.access.choices import Distribution, Marking
from cartostup.access.models import Building, Organisation, SharingGroup, User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.reports.choices import Status as ReportStatus
from cartostup.reports.models import Report
from cartostup.reports.services import report_owner_for
from cartostup.territories import locator
from cartostup.territories.models import Commune, PriorityNeighbourhood

from . import locks, matching
from .choices import (
    ACTIVE_STATUSES,
    ATTACHED_DECISIONS,
    STATUS_TRANSITIONS,
    UNTIED_DECISIONS,
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
    ProposalStatus,
    TimeOfDay,
    Weekday,
    list_in_order,
)
from .models import (
    H3_DEPARTEMENT,
    H3_NATIONAL,
    H3_POINT,
    H3_TOWN,
    Alert,
    DealPoint,
    DealPointEvent,
    DealPointSequence,
    Operation,
    Proposal,
    ReportLink,
)
from .selectors import EDIT_VERSION_KINDS

# --- input ---------------------------------------------------------------------------------------

# Operations older than this are typing errors (a raid "in 1990" on a point opened today).
OPERATION_OLDEST = date(2000, 1, 1)
# The largest number of arrests one operation records (the form, the API and the service say
# the same; more is a typing error).
OPERATION_MAX_ARRESTS = 1000


@dataclass(frozen=True)
class DealPointInput:
    """What an analyst says about a deal point (forms, API and imports parse into this)."""

    latitude: float | None = None
    longitude: float | None = None
    precision: str = Precision.BUILDING
    name: str = ""
    address: str = ""
    building_label: str = ""
    stairwell_label: str = ""
    building_id: int | None = None
    channel: str = DistributionChannel.FIXED
    products: list[str] = field(default_factory=list)
    opening_hours: list[str] = field(default_factory=list)
    observed_roles: list[str] = field(default_factory=list)
    estimated_daily_turnover: int | None = None
    confidence: str = Confidence.LOW
    notes: str = ""


# Fields of DealPointInput copied as they are onto the model (the position is handled apart).
_PLAIN_FIELDS = (
    "precision",
    "name",
    "address",
    "building_label",
    "stairwell_label",
    "channel",
    "products",
    "opening_hours",
    "observed_roles",
    "estimated_daily_turnover",
    "confidence",
    "notes",
)

OPENING_HOUR_TOKENS = frozenset(
    f"{day}:{time}" for day in Weekday.values for time in TimeOfDay.values
)


def input_from_dealpoint(dealpoint: DealPoint) -> DealPointInput:
    """The input that describes a point as it is (to edit it, or to copy it in a split)."""
    return DealPointInput(
        latitude=dealpoint.latitude,
        longitude=dealpoint.longitude,
        building_id=dealpoint.building_id,
        **{name: getattr(dealpoint, name) for name in _PLAIN_FIELDS},
    )


def accepted_values(choices: Any) -> str:
    """The values a choice accepts, as an error message lists them: « code (Libellé) »."""
    return ", ".join(f"{value} ({label})" for value, label in choices.choices)


def accepted_opening_hours() -> str:
    """How an opening hour is written: a day and a time of day."""
    return _("jour:moment, jour parmi %(days)s ; moment parmi %(times)s (ex. mon:evening)") % {
        "days": accepted_values(Weekday),
        "times": accepted_values(TimeOfDay),
    }


def _input_errors(data: DealPointInput) -> dict[str, list[str]]:
    """Every error of the fields, each checked on its own (the position is checked apart)."""
    errors: dict[str, list[str]] = {}

    def unknown(name: str, values: Iterable[Any], allowed: Iterable[str], accepted: str) -> None:
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            errors.setdefault(name, []).append(_("Valeur invalide."))
            return
        wrong = sorted(set(values) - set(allowed))
        if wrong:
            errors.setdefault(name, []).append(
                _("Valeurs inconnues : %(values)s (valeurs acceptées : %(accepted)s).")
                % {"values": ", ".join(wrong), "accepted": accepted}
            )

    def choose(name: str, value: Any, choices: Any, message: str) -> None:
        if value not in choices.values:
            errors.setdefault(name, []).append(
                _("%(message)s (valeurs acceptées : %(accepted)s).")
                % {"message": message, "accepted": accepted_values(choices)}
            )

    unknown("products", data.products, Product.values, accepted_values(Product))
    unknown(
        "observed_roles", data.observed_roles, ObservedRole.values, accepted_values(ObservedRole)
    )
    unknown("opening_hours", data.opening_hours, OPENING_HOUR_TOKENS, accepted_opening_hours())
    choose("precision", data.precision, Precision, _("Choisissez une précision"))
    choose("channel", data.channel, DistributionChannel, _("Choisissez un mode de distribution"))
    choose("confidence", data.confidence, Confidence, _("Choisissez un niveau de fiabilité"))
    turnover = data.estimated_daily_turnover
    if turnover is not None and (
        isinstance(turnover, bool) or not isinstance(turnover, int) or not 0 <= turnover <= 10**8
    ):
        errors.setdefault("estimated_daily_turnover", []).append(
            _("Indiquez un montant en euros, entre 0 et 100 000 000.")
        )
    for name in ("name", "address", "building_label", "stairwell_label", "notes"):
        value = getattr(data, name) or ""
        if "\x00" in value:
            errors.setdefault(name, []).append(_("Ce texte contient un caractère invalide."))
        # Checked here with the rest (not by `full_clean` alone, after every other check):
        # an import reports every error of a line at once.
        limit = text_max_length(name)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            errors.setdefault(name, []).append(
                _("Ce texte dépasse %(limit)s caractères (il en compte %(length)s).")
                % {"limit": limit, "length": len(value)}
            )
    return errors


def text_max_length(name: str) -> int | None:
    """The most characters a text field of a deal point holds (the import page says it)."""
    limit = getattr(DealPoint._meta.get_field(name), "max_length", None)
    return limit if isinstance(limit, int) else None


@dataclass(frozen=True)
class _Place:
    latitude: float
    longitude: float
    commune: Commune
    qpv: PriorityNeighbourhood | None


def _in_territory(actor: User | None, place: _Place) -> bool:
    """Whether the place's département is in the actor's territory (the platform's own acts,
    `actor` None, are everywhere)."""
    if actor is None:
        return True
    departement = place.commune.departement
    return policy.restrict(
        type(departement).objects.filter(pk=departement.pk), actor=actor
    ).exists()


def _place(latitude: Any, longitude: Any) -> _Place:
    if latitude is None or longitude is None:
        # Said on the coordinate that is missing (both: on the latitude, the first asked).
        missing = "longitude" if latitude is not None else "latitude"
        raise ValidationError({missing: _("Indiquez la position du point (latitude, longitude).")})
    try:
        latitude, longitude = locator.validate_coordinates(latitude, longitude)
        location = locator.locate(latitude, longitude)
    except locator.LocateError as error:
        # The locator's words name the position (« Ce point (43.3, -3) est hors du territoire
        # français. »): said on the latitude, the longitude typed alone was not named (review).
        raise ValidationError({"latitude": str(error)}) from error
    commune = Commune.objects.select_related("departement").get(code=location.commune_code)
    qpv = (
        PriorityNeighbourhood.objects.filter(code=location.qpv_code).first()
        if location.qpv_code
        else None
    )
    return _Place(latitude, longitude, commune, qpv)


def proposal_place_set(proposal: Proposal, reports: Sequence[Report]) -> None:
    """Place `proposal` (not saved) on `reports` (`proposal_place`)."""
    for name, value in proposal_place(reports).items():
        setattr(proposal, name, value)


def proposal_place(reports: Sequence[Report]) -> dict[str, Any]:
    """Position (the weighted medoid: a real report's position, hence its commune), best
    precision and H3 cells of a proposal of a new point made of `reports`."""
    index = matching.medoid(
        [r.latitude for r in reports],
        [r.longitude for r in reports],
        [matching.precision_weight(r.precision) for r in reports],
    )
    centre = reports[index]
    return {
        "latitude": centre.latitude,
        "longitude": centre.longitude,
        "commune_id": centre.commune_id,
        "precision": matching.best_precision(r.precision for r in reports),
        **cells_for(centre.latitude, centre.longitude),
    }


def cells_for(latitude: float, longitude: float) -> dict[str, str]:
    """The H3 cells stored beside a position (see `models.H3Cells`): the position's own at
    each resolution, and the parents of its res 9 cell along H3's hierarchy."""
    town = h3.latlng_to_cell(latitude, longitude, H3_TOWN)
    return {
        "h3_cell": h3.latlng_to_cell(latitude, longitude, H3_POINT),
        "h3_r5": h3.latlng_to_cell(latitude, longitude, H3_NATIONAL),
        "h3_r7": h3.latlng_to_cell(latitude, longitude, H3_DEPARTEMENT),
        "h3_r9": town,
        "h3_p5": h3.cell_to_parent(town, H3_NATIONAL),
        "h3_p7": h3.cell_to_parent(town, H3_DEPARTEMENT),
    }


def _set_position(dealpoint: DealPoint, place: _Place) -> None:
    dealpoint.latitude = place.latitude
    dealpoint.longitude = place.longitude
    dealpoint.commune = place.commune
    dealpoint.departement = place.commune.departement
    dealpoint.priority_neighbourhood = place.qpv
    for name, value in cells_for(place.latitude, place.longitude).items():
        setattr(dealpoint, name, value)


def _building(actor: User | None, building_id: int | None) -> Building | None:
    """A landlord's building the actor may see (deal points are tied to the housing stock)."""
    if building_id is None:
        return None
    queryset = Building.objects.filter(pk=building_id)
    if actor is not None:
        queryset = policy.restrict(queryset, actor=actor)
    building = queryset.first()
    if building is None:
        raise ValidationError(
            {"building_id": _("Ce bâtiment n'existe pas ou ne vous est pas visible.")}
        )
    return building


# A point tied to a landlord's building is at that building: at most this far from the
# building's recorded position (its centre; a long bar of an estate is about 100 m). The tie
# decides what the landlord sees (`policy`: a landlord sees the points on its buildings), so
# a wrong building would show a point to a landlord it is not about.
BUILDING_REACH_M = 150.0


def building_in_reach(building: Building, latitude: float, longitude: float) -> bool:
    """Whether a point at this position may be tied to the building (`BUILDING_REACH_M`)."""
    return not _building_reach_errors(building, latitude, longitude)


def building_distance_m(building: Building, latitude: float, longitude: float) -> float:
    """How far a position is from a building, as its reach is measured (the edit form's list
    says it so: it said 158 m where the refusal said 157, review)."""
    return float(
        h3.great_circle_distance(
            (latitude, longitude), (building.latitude, building.longitude), unit="m"
        )
    )


def metres_said(metres: float) -> str:
    """A distance in whole metres, thousands set apart as French prints them (« 3 532 »)."""
    return formats.number_format(round(metres), force_grouping=True)


def _building_reach_errors(
    building: Building | None, latitude: float | None, longitude: float | None
) -> dict[str, list[str]]:
    if building is None or latitude is None or longitude is None:
        return {}
    distance = building_distance_m(building, latitude, longitude)
    if distance <= BUILDING_REACH_M:
        return {}
    return {
        "building_id": [
            _(
                "Ce bâtiment est à %(distance)s m de la position du point : un point rattaché à "
                "un bâtiment doit se trouver à moins de %(reach)s m. Corrigez la position ou "
                "choisissez un autre bâtiment."
            )
            % {"distance": metres_said(distance), "reach": int(BUILDING_REACH_M)}
        ]
    }


def reference_sequences_lock(positions: Iterable[tuple[Any, Any]]) -> None:
    """Lock, in pk order, the reference sequences of the départements these positions fall
    in (those that fall in none are skipped: their row is refused later). For a transaction
    that creates several points (an import): each creation writes an audit event, which holds
    the audit chain's head until the transaction ends, so a sequence locked after the first
    one would wait on a creation holding that sequence and waiting for the head (`locks`)."""
    communes: set[str] = set()
    for latitude, longitude in positions:
        if latitude is None or longitude is None:
            continue
        try:
            latitude, longitude = locator.validate_coordinates(latitude, longitude)
            communes.add(locator.locate(latitude, longitude).commune_code)
        except (locator.LocateError, TypeError, ValueError):
            continue
    codes = set(
        Commune.objects.filter(code__in=communes).values_list("departement__code", flat=True)
    )
    for code in sorted(codes):
        DealPointSequence.objects.get_or_create(departement_code=code)
    locks.lock(DealPointSequence.objects.filter(departement_code__in=codes))


def _next_reference(departement_code: str) -> str:
    sequence, _created = DealPointSequence.objects.get_or_create(departement_code=departement_code)
    (sequence,) = locks.lock(DealPointSequence.objects.filter(pk=sequence.pk))
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return f"PD-{departement_code}-{sequence.last_value:04d}"


# --- history and audit ---------------------------------------------------------------------------


def _event(
    *,
    dealpoint: DealPoint,
    kind: str,
    actor: User | None,
    from_status: str = "",
    to_status: str = "",
    details: dict[str, Any] | None = None,
    note: str = "",
    at: datetime | None = None,
) -> DealPointEvent:
    event = DealPointEvent(
        dealpoint=dealpoint,
        kind=kind,
        occurred_at=at or timezone.now(),
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        details=details or {},
        note=note.strip(),
    )
    event.full_clean()
    event.save()
    return event


def _audit(
    *,
    actor: User | None,
    action: str,
    dealpoint: DealPoint,
    details: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=dealpoint,
        details={"reference": dealpoint.reference, **(details or {})},
    )


def _may_change(*, actor: User | None, dealpoint: DealPoint) -> None:
    """Authorise a change of the point (404 otherwise). Apart from the lock because the
    policy's queryset is DISTINCT, which PostgreSQL refuses to lock."""
    if actor is not None:
        policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
        policy.access_object(
            DealPoint.objects.all(), actor=actor, pk=dealpoint.pk, action=policy.Action.CHANGE
        )


def _unmerged(dealpoint: DealPoint, *, actor: User | None = None) -> DealPoint:
    if dealpoint.merged_into_id is not None:
        # The point that replaces it, named where the actor may see it: the message named
        # none, and the analyst had to look for it (review).
        reference = _merged_into_named(actor=actor, dealpoint=dealpoint)
        if reference:
            raise ValidationError(
                _(
                    "Ce point a été fusionné dans %(reference)s : modifiez %(reference)s, qui le "
                    "remplace."
                )
                % {"reference": reference}
            )
        raise ValidationError(
            _("Ce point a été fusionné dans un autre : modifiez le point qui le remplace.")
        )
    return dealpoint


def _for_change(
    *, actor: User | None, dealpoint: DealPoint, reports: Iterable[Report] = ()
) -> DealPoint:
    """Authorise the change (404 otherwise), then lock until the transaction ends `reports`,
    the point and the points those reports are attached to (`locks`, in that order). Returns
    the point locked."""
    _may_change(actor=actor, dealpoint=dealpoint)
    locked = locks.lock_reports_and_points(
        reports=[report.pk for report in reports], points=[dealpoint.pk]
    )
    return _unmerged(locked.points[dealpoint.pk], actor=actor)


class ChangedMeanwhile(ValidationError):
    """A change refused because the point changed since the actor read it (another analyst,
    another tab): nothing is written, so that neither change is silently lost. `name` is the
    service's parameter that carried what was read (`version`, `from_status`), `current` what
    it is now (a form shows it, so that sending again, after reading, is a deliberate choice),
    `events` the history entries written meanwhile."""

    def __init__(
        self, message: str, *, name: str, current: Any, events: Sequence[DealPointEvent]
    ) -> None:
        super().__init__(message, code="changed_meanwhile")
        self.name = name
        self.current = current
        self.events = list(events)


def _who(actor: User | None, person: User | None) -> str:
    if person is None:
        return _("Cartostup")
    if actor is not None and person.pk == actor.pk:
        # Said between commas: the messages put the date after it, never in parentheses
        # of its own (« par vous-même (dans une autre page) (le …) »).
        return _("vous-même, dans une autre page")
    return person.get_full_name() or person.get_username()


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y à %H:%M")


def _changed_field_names(events: Iterable[DealPointEvent]) -> list[str]:
    names: list[str] = []
    for event in events:
        for name in event.details or {}:
            if name == "position":
                label = _("position")
            else:
                try:
                    field = DealPoint._meta.get_field(name.removesuffix("_id"))
                    label = str(getattr(field, "verbose_name", name))
                except FieldDoesNotExist:  # a field since removed: named as stored
                    label = name
            if label not in names:
                names.append(label)
    return names


def _edit_version_check(*, actor: User | None, dealpoint: DealPoint, version: int) -> None:
    """Refuse an edit read at `version` (`selectors.dealpoint_edit_version`) when the point
    was edited since; called with the row locked, so no edit can come in between. A version
    the point never had (another point's, a number typed at random, one ahead of the point's)
    is refused as such: it passed the check, and an edit made since was overwritten."""
    if version and not dealpoint.events.filter(kind__in=EDIT_VERSION_KINDS, pk=version).exists():
        raise ValidationError(
            {
                "version": _(
                    "Cette version n'a jamais été celle de ce point : relisez-le et envoyez "
                    "la version qu'il donne (« version » de sa fiche dans l'API)."
                )
            }
        )
    events = list(
        dealpoint.events.filter(kind__in=EDIT_VERSION_KINDS, pk__gt=version)
        .select_related("actor")
        .order_by("pk")
    )
    if not events:
        return
    people = list(dict.fromkeys(_who(actor, event.actor) for event in events))
    raise ChangedMeanwhile(
        _(
            "%(reference)s a été modifié après que vous avez ouvert ce formulaire, par "
            "%(people)s, le %(when)s : %(fields)s. Rien n'a été enregistré, pour ne pas "
            "effacer ces changements."
        )
        % {
            "reference": dealpoint.reference,
            "people": ", ".join(people),
            "when": _when(events[-1].occurred_at),
            "fields": ", ".join(_changed_field_names(events)),
        },
        name="version",
        current=events[-1].pk,
        events=events,
    )


def status_last_change(dealpoint: DealPoint) -> DealPointEvent | None:
    """The point's last status change, if its status is still the one it gave: the change a
    correction (`dealpoint_change_status(corrects=...)`) undoes, back to its `from_status`."""
    last = (
        dealpoint.events.filter(kind=EventKind.STATUS)
        .select_related("actor")
        .order_by("-occurred_at", "-pk")
        .first()
    )
    if last is None or last.to_status != dealpoint.status or not last.from_status:
        return None
    return last


def _since_before(change: DealPointEvent | None) -> datetime | None:
    """When the status a change replaced had begun (None for a change recorded before this was
    kept: the correction is then dated now)."""
    since = (change.details or {}).get("since_before") if change is not None else None
    return datetime.fromisoformat(since) if isinstance(since, str) else None


def _change_said(change: DealPointEvent) -> str:
    return _("« %(before)s » → « %(after)s »") % {
        "before": DealPointStatus(change.from_status).label,
        "after": DealPointStatus(change.to_status).label,
    }


def _status_change_check(dealpoint: DealPoint, corrects: int) -> None:
    """Refuse a `corrects` that was never one of the point's status changes: not a change that
    came since (a 409 sent the client to read the point again, to send the same wrong
    number)."""
    if not dealpoint.events.filter(pk=corrects, kind=EventKind.STATUS).exists():
        raise ValidationError(
            {
                "corrects": _(
                    "Ce n'est pas un changement de statut de ce point : indiquez l'identifiant "
                    "de son dernier changement de statut (« id » dans son historique)."
                )
            }
        )


def _correction_check(
    *, actor: User | None, dealpoint: DealPoint, status: str, corrects: int
) -> None:
    """Refuse a correction unless `corrects` is still the point's last status change (the
    point locked) and `status` the one before it."""
    last = status_last_change(dealpoint)
    if last is None:
        raise ValidationError(
            {"status": _("Ce point n'a pas encore changé de statut : il n'y a rien à corriger.")}
        )
    _status_change_check(dealpoint, corrects)
    if last.pk != corrects:
        raise ChangedMeanwhile(
            _(
                "Le statut de %(reference)s a changé depuis que vous avez ouvert sa fiche : le "
                "dernier changement est maintenant %(change)s, par %(who)s, le %(when)s. Rien "
                "n'a été corrigé : relisez-le, puis corrigez de nouveau si besoin."
            )
            % {
                "reference": dealpoint.reference,
                "change": _change_said(last),
                "who": _who(actor, last.actor),
                "when": _when(last.occurred_at),
            },
            name="change_id",
            current=last.pk,
            events=[last],
        )
    if last.from_status != status:
        raise ValidationError(
            {
                "status": _(
                    "Corriger le dernier changement (%(change)s) remet le point à « %(before)s »."
                )
                % {"change": _change_said(last), "before": DealPointStatus(last.from_status).label}
            }
        )


def _successor_taken(*, actor: User | None, dealpoint: DealPoint, corrects: int) -> DealPoint:
    """For a correction back to "moved": the successor the corrected change took away, if the
    actor still sees it (a French refusal otherwise, never a 404 on the point being read)."""
    change = dealpoint.events.filter(pk=corrects, kind=EventKind.STATUS).first()
    taken = (change.details or {}).get("previous_successor") if change is not None else None
    found = DealPoint.objects.filter(reference=taken).first() if taken else None
    if found is not None and (
        actor is None
        or policy.restrict(DealPoint.objects.filter(pk=found.pk), actor=actor).exists()
    ):
        return found
    raise ValidationError(
        {
            "status": _(
                "Le point successeur d'avant ne vous est plus accessible : passez le point à "
                "« Déplacé » avec « Changer le statut », en désignant son successeur."
            )
        }
    )


def _status_read_check(*, actor: User | None, dealpoint: DealPoint, from_status: str) -> None:
    """Refuse a status change chosen while the point had another status (a page read before
    someone changed it): the choice was made against a status that is no longer the point's."""
    if from_status == dealpoint.status:
        return
    events = list(
        dealpoint.events.filter(kind=EventKind.STATUS).select_related("actor").order_by("-pk")[:1]
    )
    said = {
        "reference": dealpoint.reference,
        "read": DealPointStatus(from_status).label
        if from_status in DealPointStatus.values
        else from_status,
        "current": dealpoint.get_status_display(),
    }
    last = events[0] if events else None
    if last is not None and last.from_status == from_status:
        message = _(
            "Le statut de %(reference)s a changé depuis que vous avez ouvert sa fiche : "
            "« %(read)s » → « %(current)s », par %(who)s, le %(when)s. Rien n'a été enregistré : "
            "vérifiez le statut actuel, puis choisissez de nouveau."
        ) % {**said, "who": _who(actor, last.actor), "when": _when(last.occurred_at)}
    elif last is not None:
        # Not the change from the status read (an older one, or a status the point never
        # had, an API client's): the last change as it was (API review).
        labels = dict(DealPointStatus.choices)
        message = _(
            "Le statut de %(reference)s est « %(current)s », non « %(read)s » : son dernier "
            "changement, « %(before)s » → « %(after)s », est de %(who)s, le %(when)s. Rien "
            "n'a été enregistré : vérifiez le statut actuel, puis choisissez de nouveau."
        ) % {
            **said,
            "before": labels.get(last.from_status, "—"),
            "after": labels.get(last.to_status, "—"),
            "who": _who(actor, last.actor),
            "when": _when(last.occurred_at),
        }
    else:
        message = (
            _(
                "Le statut de %(reference)s est « %(current)s », non « %(read)s » : rien n'a été "
                "enregistré ; vérifiez le statut actuel, puis choisissez de nouveau."
            )
            % said
        )
    raise ChangedMeanwhile(message, name="from_status", current=dealpoint.status, events=events)


def _reports_for(
    *, actor: User | None, reports: Iterable[Report], field: str = "reports"
) -> list[Report]:
    """Reports the actor may see and that were accepted in triage; refused on `field`, the
    name the caller gives them (« report » for one: the API said under `reports` what was
    wrong with the `report` sent; user audit)."""
    ids = {report.pk for report in reports}
    if not ids:
        return []
    queryset = Report.objects.filter(pk__in=ids)
    if actor is not None:
        queryset = policy.restrict(queryset, actor=actor)
    found = list(queryset.order_by("pk"))
    if len(found) != len(ids):
        raise ValidationError(
            {field: _("Un des signalements n'existe pas ou ne vous est pas visible.")}
        )
    for report in found:
        if report.status != ReportStatus.ACCEPTED:
            raise ValidationError(
                {
                    field: _("Le signalement %(reference)s n'a pas été accepté au tri.")
                    % {"reference": report.reference}
                }
            )
    return found


def _visible_reference(*, actor: User | None, pk: int | None) -> str | None:
    """The reference of a point, for a refusal to name it, if the actor may see it (None
    otherwise: « un autre point »)."""
    into = DealPoint.objects.filter(pk=pk or 0)
    if actor is not None:
        into = policy.restrict(into, actor=actor)
    return into.values_list("reference", flat=True).first()


def _merged_into_named(*, actor: User | None, dealpoint: DealPoint) -> str | None:
    """Where a merged point's record lives now, for a refusal that asks to name that point
    instead: the point at the end of its merges (`merged_root`; its direct `merged_into` may
    be merged in turn, and would be refused again), if the actor may see it."""
    return _visible_reference(actor=actor, pk=dealpoint.merged_root_id or dealpoint.merged_into_id)


def _merged_tree(dealpoint: DealPoint) -> set[int]:
    """The point and every point merged into it, directly or through another."""
    found = {dealpoint.pk}
    frontier = [dealpoint.pk]
    while frontier:
        frontier = list(
            DealPoint.objects.filter(merged_into__in=frontier)
            .exclude(pk__in=found)
            .values_list("pk", flat=True)
        )
        found.update(frontier)
    return found


def _refresh_activity(dealpoint: DealPoint) -> None:
    """First report, last report and last activity, recomputed from what they are made of:
    the attached reports (those a merged point lent included), the operations that count (the
    activity only) and what an imported map said, those two of the point and of the points
    merged into it (one place: a raid recorded on the duplicate record was a raid there).
    Nothing else: a report detached or an operation cancelled leaves no date behind, and a
    point with none of them has none."""
    attached = Report.objects.filter(
        dealpoint_links__dealpoint=dealpoint, dealpoint_links__decision__in=ATTACHED_DECISIONS
    ).aggregate(first=Min("received_at"), last=Max("received_at"))
    tree = _merged_tree(dealpoint)
    last_operation = (
        Operation.objects.standing()
        .filter(dealpoint_id__in=tree)
        .aggregate(last=Max("occurred_on"))["last"]
    )
    imported = DealPoint.objects.filter(pk__in=tree).aggregate(
        first=Min("imported_first_reported_at"),
        first_latest=Max("imported_first_reported_at"),
        activity=Max("imported_last_activity_at"),
    )
    _activity_set(
        dealpoint,
        reports=(attached["first"], attached["last"]),
        imported=(imported["first"], imported["first_latest"], imported["activity"]),
        last_operation=last_operation,
    )
    dealpoint.save(
        update_fields=["first_reported_at", "last_activity_at", "last_reported_at", "updated_at"]
    )


def _activity_set(
    dealpoint: DealPoint,
    *,
    reports: tuple[datetime | None, datetime | None],
    imported: tuple[datetime | None, datetime | None, datetime | None],
    last_operation: date | None,
) -> None:
    """The point's activity dates from what they are made of (`_refresh_activity`): its
    reports' first and last reception, what imported maps said (first report, the latest of
    those, last activity) and the last operation that counts."""
    first_imported, latest_imported, imported_activity = imported
    firsts = [moment for moment in (reports[0], first_imported) if moment]
    reported = [moment for moment in (reports[1], latest_imported) if moment]
    moments = [*reported, *([imported_activity] if imported_activity else [])]
    if last_operation is not None:
        moments.append(timezone.make_aware(datetime.combine(last_operation, datetime.min.time())))
    dealpoint.first_reported_at = min(firsts, default=None)
    dealpoint.last_activity_at = max(moments, default=None)
    # What a landlord is told: the reports only, never an operation.
    dealpoint.last_reported_at = max(reported, default=None)


def _link(
    *,
    actor: User | None,
    dealpoint: DealPoint,
    report: Report,
    decision: str,
    score: float | None = None,
    distance_m: float | None = None,
) -> tuple[ReportLink, list[DealPoint]]:
    """Tie `report` to `dealpoint`; returns the link and the points the report left (an
    attachment moves a report: it is attached to one point at most). The caller has locked the
    report, hence the points it is attached to (`locks`)."""
    left: list[DealPoint] = []
    if decision in ATTACHED_DECISIONS:
        # Other attachments and proposals give way, before this link is attached (the
        # database refuses a report attached twice, even for a moment).
        others = list(
            ReportLink.objects.filter(report=report)
            .exclude(dealpoint=dealpoint)
            .filter(decision__in=[*ATTACHED_DECISIONS, LinkDecision.PROPOSED])
        )
        _ties_kept_check(actor=actor, report=report, others=others)
        was = {other.dealpoint_id: other.decision for other in others}
        # An attachment it leaves is refused there; a proposal only falls: no one decided it,
        # and a report sent back to the matching later (detached, a resurgence corrected) may
        # be proposed there again (new-user review: it was « Écarté par un analyste », and
        # never proposed to that point again).
        ReportLink.objects.filter(
            pk__in=[other.pk for other in others if other.decision in ATTACHED_DECISIONS]
        ).update(decision=LinkDecision.REJECTED, decided_by=actor, decided_at=timezone.now())
        ReportLink.objects.filter(
            pk__in=[other.pk for other in others if other.decision == LinkDecision.PROPOSED]
        ).update(decision=LinkDecision.WITHDRAWN, decided_by=actor, decided_at=timezone.now())
        left = list(
            DealPoint.objects.filter(
                pk__in=[pk for pk, decided in was.items() if decided in ATTACHED_DECISIONS]
            ).order_by("pk")
        )
    link, _created = ReportLink.objects.update_or_create(
        report=report,
        dealpoint=dealpoint,
        defaults={
            "decision": decision,
            "score": score,
            "distance_m": distance_m,
            "decided_by": actor,
            "decided_at": timezone.now() if decision != LinkDecision.PROPOSED else None,
        },
    )
    for point in left:
        # The point the report leaves says where it went, like any detachment.
        _event(
            dealpoint=point,
            kind=EventKind.REPORT_DETACHED,
            actor=actor,
            details={
                "report": report.reference,
                "was": was[point.pk],
                "moved_to": dealpoint.reference,
            },
        )
        _refresh_activity(point)
        _audit(
            actor=actor,
            action=AuditAction.UPDATE,
            dealpoint=point,
            details={
                "report": report.reference,
                "link": LinkDecision.REJECTED,
                "moved_to": dealpoint.reference,
            },
        )
    if decision in ATTACHED_DECISIONS:
        _open_proposals_left(actor=actor, report=report)
    if decision in ATTACHED_DECISIONS and report.awaiting_matching:
        report.awaiting_matching = False
        report.save(update_fields=["awaiting_matching"])
    if decision == LinkDecision.CONFIRMED:
        _alerts_answered(actor=actor, dealpoint=dealpoint, report=report)
    return link, left


def _ties_kept_check(*, actor: User | None, report: Report, others: list[ReportLink]) -> None:
    """Refuse an analyst's attachment that would take the report from a point the analyst
    may not change (attached there, or proposed: the attachment moves it, refuses the
    proposal and writes in that point's history), without naming that point. A new-user
    audit (2026-12-06): an Ofast antenna, attaching a report to a point it reads, took it from
    a point its CROSS kept to itself, and was told that point's reference."""
    if actor is None or not others:
        return
    changeable = set(
        policy.restrict(
            DealPoint.objects.filter(pk__in=[other.dealpoint_id for other in others]),
            actor=actor,
            action=policy.Action.CHANGE,
        ).values_list("pk", flat=True)
    )
    kept = [other for other in others if other.dealpoint_id not in changeable]
    if not kept:
        return
    if any(other.decision in ATTACHED_DECISIONS for other in kept):
        message = _(
            "Le signalement %(report)s est rattaché à un point que votre profil ne voit pas : "
            "il ne se rattache pas ailleurs tant qu'il y est rattaché. Demandez à l'équipe "
            "qui suit ce point de l'en détacher ; rien n'a été changé."
        )
    else:
        message = _(
            "Le signalement %(report)s est proposé pour un point que votre profil ne voit "
            "pas : demandez à l'équipe qui suit ce point de trancher ce rapprochement avant de "
            "le rattacher ailleurs ; rien n'a été changé."
        )
    raise ValidationError({"report": message % {"report": report.reference}})


def _open_proposals_left(*, actor: User | None, report: Report) -> None:
    """A report attached to a point is no longer free: it leaves the open proposals of new
    points that held it (created from them, a point would have had none of it), and a
    proposal left with no report is closed (« écartée »: there is no point left to make of
    it); one that goes on is placed again on the reports left. Each is audited. The report
    and its open proposals are locked by the caller (`locks.lock_reports_and_points`); a
    proposal being accepted is no longer open."""
    through = Proposal.reports.through
    held = list(
        through.objects.filter(
            report_id=report.pk, proposal__status=ProposalStatus.OPEN
        ).values_list("proposal_id", flat=True)
    )
    if not held:
        return
    for proposal in locks.lock(Proposal.objects.filter(pk__in=held)):
        through.objects.filter(report_id=report.pk, proposal_id=proposal.pk).delete()
        remaining = list(proposal.reports.order_by("pk"))
        emptied = not remaining
        if emptied:
            proposal.status = ProposalStatus.DISMISSED
            proposal.decided_by = actor
            proposal.decided_at = timezone.now()
        else:
            # Placed again on those left (the report that left may have been its centre).
            proposal_place_set(proposal, remaining)
        proposal.full_clean()
        proposal.save()
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=proposal,
            details={
                "proposal": proposal.pk,
                "report_left": report.reference,
                **({"status": proposal.status, "reason": "emptied"} if emptied else {}),
            },
        )


def _alerts_answered(*, actor: User | None, dealpoint: DealPoint, report: Report) -> None:
    """An analyst put the report on `dealpoint`: the open resurgence alerts it raised near
    other (dismantled) points are answered, so they are closed as dismissed, with the reason
    in the history of their point and in the audit log. Confirming one of them later would
    silently take the report away again. (An automatic attachment closes nothing: the
    matching raises the alerts and attaches in one go, for the analyst to weigh both.)"""
    open_alerts = Alert.objects.filter(
        kind=AlertKind.RESURGENCE, report=report, status=AlertStatus.OPEN
    ).exclude(dealpoint=dealpoint)
    if actor is not None:
        # Only about points the analyst may change: one about a point kept from them stays
        # open for those who follow it (closing it writes in that point's history).
        changeable = policy.restrict(
            DealPoint.objects.filter(pk__in=open_alerts.values("dealpoint_id")),
            actor=actor,
            action=policy.Action.CHANGE,
        )
        open_alerts = open_alerts.filter(
            dealpoint_id__in=list(changeable.values_list("pk", flat=True))
        )
    for alert in locks.lock(open_alerts.select_related("dealpoint")):
        _alert_status_set(
            actor=actor,
            alert=alert,
            status=AlertStatus.DISMISSED,
            reason="report_attached",
            event={"report": report.reference, "attached_to": dealpoint.reference},
            audit={"attached_to": dealpoint.reference},
        )


@transaction.atomic
def alert_decide(*, actor: User, alert: Alert, status: str) -> Alert:
    """An analyst's decision on an open alert, confirmed or dismissed, once `flows`
    (`_alert_for_decision`) has checked the actor may decide it and locked it
    (`flows.alert_confirm` does what a confirmation implies): decided by them, a line in the
    history of the alert's point, which said nothing of a decision taken from the queue, and
    an audit event."""
    if status not in (AlertStatus.CONFIRMED, AlertStatus.DISMISSED):
        raise ValueError(f"An alert is decided confirmed or dismissed, not {status!r}.")
    _alert_status_set(
        actor=actor,
        alert=alert,
        status=status,
        reason="decided",
        event={
            "decided": True,
            **({"candidate": alert.candidate.reference} if alert.candidate else {}),
            **({"report": alert.report.reference} if alert.report else {}),
        },
        audit={},
    )
    return alert


def _alert_status_set(
    *,
    actor: User | None,
    alert: Alert,
    status: str,
    reason: str,
    event: dict[str, Any],
    audit: dict[str, Any] | None = None,
) -> None:
    """Close an open alert that a service's decision answered (`status` confirmed or
    dismissed: decided by its actor), or open it again when that decision is undone (`status`
    OPEN: undecided): an entry in the history of the alert's point (`event`, with what closed
    or reopened it) and an audit event (`audit`, with the `reason`)."""
    reopened = status == AlertStatus.OPEN
    alert.status = status
    alert.decided_by = None if reopened else actor
    alert.decided_at = None if reopened else timezone.now()
    alert.save(update_fields=["status", "decided_by", "decided_at"])
    said: dict[str, Any] = {"reopened": True} if reopened else {"closed": status}
    _event(
        dealpoint=alert.dealpoint,
        kind=EventKind.ALERT,
        actor=actor,
        details={"alert": alert.pk, "kind": alert.kind, **said, **event},
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=alert,
        details={
            "alert": alert.pk,
            "kind": alert.kind,
            "status": status,
            "reason": reason,
            **(audit or {}),
        },
    )


# --- create and edit -----------------------------------------------------------------------------


def _new_point_errors(
    *, actor: User | None, data: DealPointInput
) -> tuple[dict[str, list[str]], _Place | None, Building | None]:
    """Every error of a new point's data at once: each field, the position and whether it is
    inside the actor's territory, the building (visible, and where the point is)."""
    errors = _input_errors(data)
    try:
        place: _Place | None = _place(data.latitude, data.longitude)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
        place = None
    if place is not None and not _in_territory(actor, place):
        errors.setdefault("latitude", []).append(_("Ce lieu est hors de votre territoire."))
    building = None
    try:
        building = _building(actor, data.building_id)
    except ValidationError as error:
        errors.setdefault("building_id", []).extend(error.message_dict["building_id"])
    if place is not None:
        for name, messages in _building_reach_errors(
            building, place.latitude, place.longitude
        ).items():
            errors.setdefault(name, []).extend(messages)
    return errors, place, building


def dealpoint_input_check(*, actor: User | None, data: DealPointInput) -> dict[str, list[str]]:
    """The errors `dealpoint_create` would raise for this data, all at once, without writing
    (an import reports every error of a line, even those it found itself first)."""
    return _new_point_errors(actor=actor, data=data)[0]


@transaction.atomic
def dealpoint_create(
    *,
    actor: User | None,
    data: DealPointInput,
    reports: Sequence[Report] = (),
    status: str = DealPointStatus.REPORTED,
    kind: str = EventKind.CREATED,
    note: str = "",
    origin_reference: str = "",
    origin_fingerprint: str = "",
    sharing: SharingInput | None = None,
    imported_first_reported_at: datetime | None = None,
    imported_last_activity_at: datetime | None = None,
    sharing_inherited: bool = False,
) -> DealPoint:
    """A new deal point where the data says, owned by the CROSS of its département and
    shared as `sharing` says (by default with the law-enforcement services of the territory,
    TLP:AMBER); `reports` (accepted reports the actor may see) are attached to it. An
    imported point keeps the reference it had in its file (`origin_reference`, in its
    history), or the fingerprint of a line without one (`origin_fingerprint`), so that a
    second import knows it, and the first report and last activity its file gave
    (`imported_…`), which count with its reports and operations from then on. A point split
    off another takes its sharing as it is (`sharing_inherited`)."""
    if actor is not None:
        policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
    sharing = sharing or SharingInput()
    errors, place, building = _new_point_errors(actor=actor, data=data)
    sharing_errors, group = _sharing_errors(actor=actor, data=sharing, inherited=sharing_inherited)
    errors = {**errors, **sharing_errors}
    if errors or place is None:
        raise ValidationError(errors)
    if status not in DealPointStatus.values:
        raise ValidationError({"status": _("Statut inconnu.")})
    departement = place.commune.departement
    # The reports, and the points they leave, locked before the reference sequence (`locks`).
    locks.lock_reports_and_points(reports=[report.pk for report in reports])
    found = _reports_for(actor=actor, reports=reports)
    elsewhere = [report.reference for report in found if report.departement_id != departement.pk]
    if elsewhere:
        raise ValidationError(
            {
                "reports": _(
                    "Ces signalements ne sont pas du département du point : %(references)s."
                )
                % {"references": ", ".join(elsewhere)}
            }
        )
    now = timezone.now()
    # An imported map's status held when its file last saw the point, not from the import's
    # day on: a point dismantled in 2019 is no dismantling of today (its resurgence window).
    said = [moment for moment in (imported_last_activity_at, imported_first_reported_at) if moment]
    dealpoint = DealPoint(
        owner_organisation=report_owner_for(departement=departement),
        distribution=sharing.distribution,
        marking=sharing.marking,
        sharing_group=group,
        reference=_next_reference(departement.code),
        status=status,
        status_changed_at=min(max(said), now) if said else now,
        building=building,
        created_by=actor,
        imported_first_reported_at=imported_first_reported_at,
        imported_last_activity_at=imported_last_activity_at,
        **{name: getattr(data, name) for name in _PLAIN_FIELDS},
    )
    _lists_in_order(dealpoint)
    _set_position(dealpoint, place)
    # Its activity before the first save: a new point has no operation and is merged into by
    # none; its reports' dates are known (`_refresh_activity`, which an import paid per line).
    received = [report.received_at for report in found if report.received_at]
    _activity_set(
        dealpoint,
        reports=(min(received, default=None), max(received, default=None)),
        imported=(
            imported_first_reported_at,
            imported_first_reported_at,
            imported_last_activity_at,
        ),
        last_operation=None,
    )
    dealpoint.full_clean()
    dealpoint.save()
    _still_read_check(actor=actor, dealpoint=dealpoint)
    _event(
        dealpoint=dealpoint,
        kind=kind,
        actor=actor,
        to_status=status,
        details={
            "reports": [report.reference for report in found],
            **({"origin_reference": origin_reference} if origin_reference else {}),
            **({"origin_fingerprint": origin_fingerprint} if origin_fingerprint else {}),
            # Shared otherwise than by default: said from the first entry.
            **(
                {
                    "distribution": sharing.distribution,
                    "marking": sharing.marking,
                    "sharing_group": group.name if group else None,
                }
                if sharing != SharingInput()
                else {}
            ),
        },
        note=note,
        at=now,
    )
    for report in found:
        _link(actor=actor, dealpoint=dealpoint, report=report, decision=LinkDecision.CONFIRMED)
    _audit(
        actor=actor,
        action=AuditAction.CREATE if kind != EventKind.IMPORTED else AuditAction.IMPORT,
        dealpoint=dealpoint,
        # Its sharing as created (an import's line may be stricter than the file's).
        details={
            "reports": len(found),
            "marking": dealpoint.marking,
            "distribution": dealpoint.distribution,
        },
    )
    return dealpoint


def _comparable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | list | type(None)) else str(value)


def _lists_in_order(dealpoint: DealPoint) -> None:
    for name in ("products", "opening_hours", "observed_roles"):
        setattr(dealpoint, name, list_in_order(name, getattr(dealpoint, name)))


@transaction.atomic
def dealpoint_update(
    *,
    actor: User | None,
    dealpoint: DealPoint,
    data: DealPointInput,
    note: str = "",
    version: int | None = None,
) -> DealPoint:
    """Change what is known of a point (not its status: `dealpoint_change_status`). The
    history keeps every changed field with its old and new value. `version`, the point's edit
    version when the actor read it (`selectors.dealpoint_edit_version`), refuses the change
    (`ChangedMeanwhile`) if the point was edited since: otherwise the later edit would be
    silently overwritten by values read before it."""
    dealpoint = _for_change(actor=actor, dealpoint=dealpoint)
    if version is not None:
        _edit_version_check(actor=actor, dealpoint=dealpoint, version=version)
    errors = _input_errors(data)
    if errors:
        raise ValidationError(errors)
    _lists_in_order(dealpoint)  # as kept since: a list stored in another order is unchanged
    before = {name: getattr(dealpoint, name) for name in (*_PLAIN_FIELDS, "building_id")}
    before_position = (dealpoint.latitude, dealpoint.longitude)
    for name in _PLAIN_FIELDS:
        setattr(dealpoint, name, getattr(data, name))
    _lists_in_order(dealpoint)
    dealpoint.building = _building(actor, data.building_id)
    changes: dict[str, list[Any]] = {
        name: [_comparable(old), _comparable(getattr(dealpoint, name))]
        for name, old in before.items()
        if old != getattr(dealpoint, name)
    }
    if (data.latitude, data.longitude) != before_position:
        place = _place(data.latitude, data.longitude)
        if place.commune.departement_id != dealpoint.departement_id:
            if not _in_territory(actor, place):
                # « Créez-en un nouveau » would send the analyst to a creation refused there.
                raise ValidationError({"latitude": _("Ce lieu est hors de votre territoire.")})
            raise ValidationError(
                {"latitude": _("Un point ne change pas de département : créez-en un nouveau.")}
            )
        _set_position(dealpoint, place)
        changes["position"] = [list(before_position), [place.latitude, place.longitude]]
    if not changes:
        if note.strip():
            # The reason of a change is written with it: alone, it was dropped without a word.
            raise ValidationError(
                {
                    "note": _(
                        "Aucun champ du point ne change : le motif s'inscrit à l'historique "
                        "avec une modification. Modifiez un champ, ou laissez le motif vide."
                    )
                }
            )
        return dealpoint
    if "building_id" in changes or "position" in changes:
        errors = _building_reach_errors(dealpoint.building, dealpoint.latitude, dealpoint.longitude)
        if errors:
            raise ValidationError(errors)
    dealpoint.full_clean()
    dealpoint.save()
    _event(dealpoint=dealpoint, kind=EventKind.EDITED, actor=actor, details=changes, note=note)
    _audit(
        actor=actor,
        action=AuditAction.UPDATE,
        dealpoint=dealpoint,
        details={"fields": sorted(changes)},
    )
    return dealpoint


# --- sharing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharingInput:
    """Who a point is shared with, from which `access.policy` decides who reads it: its
    distribution (by default the law-enforcement services of the territory), its TLP marking
    and, for a sharing group, which one."""

    distribution: str = Distribution.TERRITORY
    marking: str = Marking.AMBER
    sharing_group_id: int | None = None


@dataclass(frozen=True)
class SharingChange:
    """A change of a point's sharing that names only what changes (the API's): what is not
    sent (None; the group: `group_sent` False) stays as the point has it, read once the point
    is locked. (Filled from a read before the lock, a restriction committed in between was
    undone: review.) A group kept so is kept even if the actor's organisation has left it."""

    distribution: str | None = None
    marking: str | None = None
    sharing_group_id: int | None = None
    group_sent: bool = False

    def resolved(self, dealpoint: DealPoint) -> tuple[SharingInput, bool]:
        """The whole sharing of the (locked) point once changed, and whether its group is
        the one it kept."""
        distribution = self.distribution or dealpoint.distribution
        kept = not self.group_sent and distribution == Distribution.SHARING_GROUP
        if self.group_sent:
            group = self.sharing_group_id
        else:
            group = dealpoint.sharing_group_id if kept else None
        return (
            SharingInput(
                distribution=distribution,
                marking=self.marking or dealpoint.marking,
                sharing_group_id=group,
            ),
            kept,
        )


def _sharing_errors(
    *, actor: User | None, data: SharingInput, inherited: bool = False
) -> tuple[dict[str, list[str]], SharingGroup | None]:
    """The errors of a sharing, and its group: one the actor may distribute to
    (`policy.distributable_sharing_groups`), the group of the point a new one is split off
    included when the sharing is `inherited` from it."""
    errors: dict[str, list[str]] = {}
    if data.distribution not in Distribution.values:
        errors["distribution"] = [
            _("Diffusion inconnue (valeurs acceptées : %(values)s).")
            % {"values": accepted_values(Distribution)}
        ]
    if data.marking not in Marking.values:
        errors["marking"] = [
            _("Marquage inconnu (valeurs acceptées : %(values)s).")
            % {"values": accepted_values(Marking)}
        ]
    group = None
    if data.distribution == Distribution.SHARING_GROUP:
        groups = (
            policy.distributable_sharing_groups(
                actor, kept=data.sharing_group_id if inherited else None
            )
            if actor is not None
            else SharingGroup.objects.all()
        )
        group = groups.filter(pk=data.sharing_group_id).first() if data.sharing_group_id else None
        if group is None:
            errors["sharing_group_id"] = [
                _("Choisissez un groupe de partage dont votre organisation est membre.")
            ]
    elif data.sharing_group_id is not None:
        errors["sharing_group_id"] = [
            _("Un groupe de partage ne s'indique qu'avec la diffusion « Groupe de partage ».")
        ]
    return errors, group


def _still_read_check(*, actor: User | None, dealpoint: DealPoint) -> None:
    """Refuse (rolled back with the caller's transaction) a point created or shared so that
    its author could no longer read it: « Organisation propriétaire seulement » chosen by an
    Ofast analyst keeps it to its CROSS, and Ofast, which changes only what it reads, could
    then neither see nor share it again (review, 2026-12-06)."""
    if (
        actor is None
        or policy.restrict(DealPoint.objects.filter(pk=dealpoint.pk), actor=actor).exists()
    ):
        return
    raise ValidationError(
        {
            "distribution": _(
                "Avec cette diffusion, votre organisation ne lirait plus ce point ni ne "
                "pourrait en changer la diffusion : son organisation propriétaire est "
                "« %(owner)s ». Choisissez une diffusion qui inclut votre organisation."
            )
            % {"owner": dealpoint.owner_organisation.name}
        }
    )


def sharing_input_check(*, actor: User | None, data: SharingInput) -> dict[str, list[str]]:
    """The errors `dealpoint_create` would raise for this sharing, without writing (an import
    checks the sharing it gives every point once, before its lines)."""
    return _sharing_errors(actor=actor, data=data)[0]


def sharing_from_dealpoint(dealpoint: DealPoint) -> SharingInput:
    return SharingInput(
        distribution=dealpoint.distribution,
        marking=dealpoint.marking,
        sharing_group_id=dealpoint.sharing_group_id,
    )


@transaction.atomic
def dealpoint_share(
    *,
    actor: User | None,
    dealpoint: DealPoint,
    data: SharingInput | SharingChange,
    note: str = "",
) -> DealPoint:
    """Change who a point is shared with (distribution, marking, sharing group): the whole of
    it (`SharingInput`, a page's form) or what changes (`SharingChange`). Restricting it takes
    it away at once from those the policy no longer lets read it (a landlord, the services of
    the territory...). The history keeps the old and new values."""
    dealpoint = _for_change(actor=actor, dealpoint=dealpoint)
    kept = False
    if isinstance(data, SharingChange):
        data, kept = data.resolved(dealpoint)
    errors, group = _sharing_errors(actor=actor, data=data, inherited=kept)
    if errors:
        raise ValidationError(errors)
    before = {
        "distribution": dealpoint.distribution,
        "marking": dealpoint.marking,
        "sharing_group": dealpoint.sharing_group.name if dealpoint.sharing_group else None,
    }
    dealpoint.distribution = data.distribution
    dealpoint.marking = data.marking
    dealpoint.sharing_group = group
    after = {
        "distribution": dealpoint.distribution,
        "marking": dealpoint.marking,
        "sharing_group": group.name if group else None,
    }
    changes = {name: [before[name], after[name]] for name in before if before[name] != after[name]}
    if not changes:
        return dealpoint
    dealpoint.full_clean()
    dealpoint.save(update_fields=["distribution", "marking", "sharing_group", "updated_at"])
    _still_read_check(actor=actor, dealpoint=dealpoint)
    _event(dealpoint=dealpoint, kind=EventKind.EDITED, actor=actor, details=changes, note=note)
    _audit(
        actor=actor,
        action=AuditAction.UPDATE,
        dealpoint=dealpoint,
        details={"fields": sorted(changes), **after},
    )
    return dealpoint


# --- life cycle ----------------------------------------------------------------------------------


def status_transition_check(
    *, dealpoint: DealPoint, status: str, from_status: str | None = None
) -> None:
    """Refuse (on `status`) a step the life cycle does not take from the point's status, or
    from `from_status`, the status the actor read, when given (a status changed since is
    said by the change itself: `ChangedMeanwhile`). Checked before anything the step needs
    (a successor), as the page's form offers only the steps it may take."""
    current = from_status if from_status in DealPointStatus.values else dealpoint.status
    if status in STATUS_TRANSITIONS.get(current, frozenset()):
        return
    new = DealPointStatus(status).label if status in DealPointStatus.values else status
    raise ValidationError(
        {
            "status": _("Un point « %(current)s » ne peut pas passer à « %(new)s ».")
            % {"current": DealPointStatus(current).label, "new": new}
        }
    )


def _status_set(
    *,
    actor: User | None,
    dealpoint: DealPoint,
    status: str,
    note: str = "",
    details: dict[str, Any] | None = None,
    correction: bool = False,
    since: datetime | None = None,
) -> DealPoint:
    """Set the status (a transition, or a correction checked by the caller), with its history
    entry, its audit event and the alerts it answers. `since`, when the new status began (an
    operation's day; what a corrected change had replaced), never in the future; by default
    now. The history entry keeps the date it replaces (`since_before`), for a correction."""
    previous = dealpoint.status
    if not correction:
        status_transition_check(dealpoint=dealpoint, status=status)
    now = timezone.now()
    # A point that leaves "moved" (by any path: a status change, a confirmed resurgence) has
    # no successor any more; the history entry keeps which it was, and the successor's says
    # it no longer has this predecessor.
    successor_left = None
    if status != DealPointStatus.MOVED and dealpoint.successor_id is not None:
        successor_left = DealPoint.objects.get(pk=dealpoint.successor_id)
        dealpoint.successor = None
        details = {**(details or {}), "previous_successor": successor_left.reference}
    replaced_since = dealpoint.status_changed_at.isoformat()
    dealpoint.status = status
    dealpoint.status_changed_at = min(since, now) if since is not None else now
    dealpoint.full_clean()
    dealpoint.save(update_fields=["status", "status_changed_at", "successor", "updated_at"])
    if successor_left is not None:
        _event(
            dealpoint=successor_left,
            kind=EventKind.SUCCESSOR,
            actor=actor,
            details={"predecessor": dealpoint.reference, "ended": status},
            at=now,
        )
    _event(
        dealpoint=dealpoint,
        kind=EventKind.STATUS,
        actor=actor,
        from_status=previous,
        to_status=status,
        details={**(details or {}), "since_before": replaced_since},
        note=note,
        at=now,
    )
    _audit(
        actor=actor,
        action=AuditAction.UPDATE,
        dealpoint=dealpoint,
        details={"status": status, "previous_status": previous, **(details or {})},
    )
    _successor_alerts_answered(actor=actor, dealpoint=dealpoint)
    return dealpoint


def _successor_alerts_answered(*, actor: User | None, dealpoint: DealPoint) -> None:
    """Open "moved?" alerts whose question a status change has answered are closed, with the
    reason in the history of their point and the audit log: a point that came back
    (resurgent...) has not moved (dismissed); a moved point has moved to its successor (that
    alert confirmed), not to the other candidates (dismissed); a point dismantled or moved
    itself is no successor (dismissed)."""
    inactive = {DealPointStatus.DISMANTLED, DealPointStatus.MOVED}
    answered = Q(dealpoint=dealpoint)
    if dealpoint.status == DealPointStatus.DISMANTLED:
        answered = Q(pk__in=[])
    if dealpoint.status in inactive:
        answered |= Q(candidate=dealpoint)
    stale = Alert.objects.filter(answered, kind=AlertKind.SUCCESSOR, status=AlertStatus.OPEN)
    for alert in locks.lock(stale.select_related("dealpoint", "candidate")):
        confirmed = (
            alert.dealpoint_id == dealpoint.pk
            and dealpoint.status == DealPointStatus.MOVED
            and alert.candidate_id == dealpoint.successor_id
        )
        _alert_status_set(
            actor=actor,
            alert=alert,
            status=AlertStatus.CONFIRMED if confirmed else AlertStatus.DISMISSED,
            reason="status_changed",
            event={
                "candidate": alert.candidate.reference if alert.candidate else None,
                "status_changed": dealpoint.reference,
            },
            audit={"point": dealpoint.reference, "point_status": dealpoint.status},
        )


def _resurgence_alerts_corrected(*, actor: User | None, dealpoint: DealPoint, before: str) -> None:
    """After a correction from "dismantled" (or "moved") back to an active status: the point
    was never dismantled, so the resurgence alerts raised meanwhile have no question left (the
    point locked, the alert after it: `locks`)."""
    inactive = {DealPointStatus.DISMANTLED, DealPointStatus.MOVED}
    if before not in inactive or dealpoint.status in inactive:
        return
    for alert in locks.lock(
        Alert.objects.filter(
            dealpoint=dealpoint, kind=AlertKind.RESURGENCE, status=AlertStatus.OPEN
        ).select_related("dealpoint")
    ):
        _alert_status_set(
            actor=actor,
            alert=alert,
            status=AlertStatus.DISMISSED,
            reason="status_corrected",
            event={"status_corrected": True},
            audit={"status_corrected": dealpoint.reference},
        )


def _resurgence_reports(dealpoint: DealPoint) -> list[int]:
    """The reports of the point's confirmed resurgence alerts: those a correction of its
    return may detach (`_resurgences_undone`), to lock before the point."""
    return list(
        Alert.objects.filter(
            dealpoint=dealpoint,
            kind=AlertKind.RESURGENCE,
            status=AlertStatus.CONFIRMED,
            report__isnull=False,
        ).values_list("report_id", flat=True)
    )


def _resurgences_undone(
    *,
    actor: User | None,
    dealpoint: DealPoint,
    before: str,
    corrects: int,
    note: str,
    reports: list[int],
) -> None:
    """After a correction from "resurgent" back to "dismantled" (or "moved"): the point had
    not come back, so the resurgence alerts confirmed since the corrected change are answered
    « no ». Each report such a confirmation attached, if still attached there, leaves the
    point as a refused link does (`flows.link_refuse`: the pair is refused, the report waits
    for the matching again unless tied to another point); the alert is closed as dismissed.
    A report attached by hand, not through an alert, stays. The reports and the point are
    locked by the caller (`locks`), the alerts here, after them: only the alerts of `reports`,
    those locked (one confirmed meanwhile, its report not locked, stays as decided: locking
    its report after the point's audit event could deadlock)."""
    inactive = {DealPointStatus.DISMANTLED, DealPointStatus.MOVED}
    if before != DealPointStatus.RESURGENT or dealpoint.status not in inactive:
        return
    change = dealpoint.events.filter(pk=corrects, kind=EventKind.STATUS).first()
    if change is None:
        return
    confirmed = Alert.objects.filter(
        dealpoint=dealpoint,
        kind=AlertKind.RESURGENCE,
        status=AlertStatus.CONFIRMED,
        report_id__in=reports,
        decided_at__gte=change.occurred_at,
    )
    for alert in locks.lock(confirmed.select_related("dealpoint", "report")):
        report = alert.report
        assert report is not None  # filtered above
        if ReportLink.objects.filter(
            report=report, dealpoint=dealpoint, decision=LinkDecision.CONFIRMED
        ).exists():
            report_detach(actor=actor, dealpoint=dealpoint, report=report, note=note)
        _alert_status_set(
            actor=actor,
            alert=alert,
            status=AlertStatus.DISMISSED,
            reason="resurgence_corrected",
            event={"report": report.reference, "status_corrected": True, "undone": True},
            audit={"status_corrected": dealpoint.reference, "report": report.reference},
        )


def _closures_undone(
    *, actor: User | None, dealpoint: DealPoint, before: str, corrects: int
) -> None:
    """After a correction: the "moved?" alerts the corrected change dismissed (about this
    point, which came back or moved; about a new point beside another, this one being no
    successor once dismantled) open again while their question stands
    (`_alert_question_stands`). A resurgence confirmed by mistake closed the alert about a new
    point 429 m away; corrected, the point dismantled again, that alert stayed closed and the
    lead was lost (review). The closures between the corrected change and the correction's
    own entry only. A move corrected: the alerts about this point are `_moves_undone`'s,
    which says so; those about others (this point their new point nearby) are reopened here."""
    change = dealpoint.events.filter(pk=corrects, kind=EventKind.STATUS).first()
    correction = dealpoint.events.filter(kind=EventKind.STATUS).order_by("-pk").first()
    if change is None or correction is None:
        return
    closed = DealPointEvent.objects.filter(
        kind=EventKind.ALERT,
        pk__gt=change.pk,
        pk__lt=correction.pk,
        details__status_changed=dealpoint.reference,
        details__closed=AlertStatus.DISMISSED,
    ).values_list("details", flat=True)
    ids = {details["alert"] for details in closed if isinstance(details.get("alert"), int)}
    alerts = Alert.objects.filter(
        pk__in=ids, kind=AlertKind.SUCCESSOR, status=AlertStatus.DISMISSED
    ).select_related("dealpoint", "candidate")
    if before == DealPointStatus.MOVED:
        alerts = alerts.exclude(dealpoint=dealpoint)
    for alert in locks.lock(alerts):
        if _alert_question_stands(alert):
            _alert_status_set(
                actor=actor,
                alert=alert,
                status=AlertStatus.OPEN,
                reason="status_corrected",
                event={
                    "candidate": alert.candidate.reference if alert.candidate else None,
                    "status_changed": dealpoint.reference,
                    "status_corrected": True,
                },
            )


def _moves_undone(*, actor: User | None, dealpoint: DealPoint, before: str, corrects: int) -> None:
    """After a correction of « moved »: the point had not moved to the successor the corrected
    change named, so the "moved?" alerts that change answered are answered again (new-user
    review and code review: the confirmation stayed « confirmée », and the other candidates'
    alerts « écartées », each question being asked once per pair of points). The alert that
    confirmed it, from the queue just before the change or by the change itself, is dismissed,
    the history saying the confirmation was undone; those the change dismissed for other
    candidates open again while their question stands (`_alert_question_stands`)."""
    if before != DealPointStatus.MOVED or dealpoint.status == DealPointStatus.MOVED:
        return
    change = dealpoint.events.filter(pk=corrects, kind=EventKind.STATUS).first()
    named = (change.details or {}).get("successor") if change is not None else None
    if change is None or not named:
        return
    previous = (
        dealpoint.events.filter(kind=EventKind.STATUS, pk__lt=change.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    ) or 0
    answered: set[int] = set()
    for pk, details in dealpoint.events.filter(kind=EventKind.ALERT, pk__gt=previous).values_list(
        "pk", "details"
    ):
        details = details or {}
        if details.get("kind") != AlertKind.SUCCESSOR or not isinstance(details.get("alert"), int):
            continue
        # Closed by the change itself (after it), or confirmed from the queue (before it).
        by_change = pk > change.pk and details.get("status_changed") == dealpoint.reference
        from_queue = (
            pk < change.pk and details.get("decided") and details.get("closed") == "confirmed"
        )
        if by_change or from_queue:
            answered.add(details["alert"])
    alerts = Alert.objects.filter(pk__in=answered, dealpoint=dealpoint, kind=AlertKind.SUCCESSOR)
    for alert in locks.lock(alerts.select_related("dealpoint", "candidate")):
        candidate = alert.candidate.reference if alert.candidate else None
        if alert.status == AlertStatus.CONFIRMED and candidate == named:
            _alert_status_set(
                actor=actor,
                alert=alert,
                status=AlertStatus.DISMISSED,
                reason="move_corrected",
                event={"candidate": named, "move_undone": True},
                audit={"status_corrected": dealpoint.reference, "candidate": named},
            )
        elif alert.status == AlertStatus.DISMISSED and _alert_question_stands(alert):
            _alert_status_set(
                actor=actor,
                alert=alert,
                status=AlertStatus.OPEN,
                reason="move_corrected",
                event={"move_undone": True, "candidate": candidate, "successor": named},
            )


@transaction.atomic
def dealpoint_change_status(
    *,
    actor: User | None,
    dealpoint: DealPoint,
    status: str,
    note: str = "",
    successor: DealPoint | None = None,
    from_status: str | None = None,
    corrects: int | None = None,
) -> DealPoint:
    """Move a point along its life cycle (`choices.STATUS_TRANSITIONS`). "Moved" needs the
    successor point (active, in the same département, visible to the actor). `from_status`,
    the status the actor saw when choosing, refuses the change (`ChangedMeanwhile`) if the
    point's status is another one now.

    `corrects`, the history entry of the point's last status change (a mistake: « démantelé »
    on the wrong point), undoes it: back to the status before it, whatever the transitions,
    with the reason in `note` (required). Refused (`ChangedMeanwhile`) if another change came
    since. It is a change of its own in the history, never an erasure; back to "moved", the
    successor is the one that change took away, unless another is given."""
    _may_change(actor=actor, dealpoint=dealpoint)
    correction = corrects is not None
    if correction and not note.strip():
        raise ValidationError(
            {"note": _("Dites pourquoi le statut est corrigé (erreur de saisie, mauvais point…).")}
        )
    if corrects is not None and status == DealPointStatus.MOVED and successor is None:
        # Said on `corrects` before the successor it would have taken is looked for.
        _status_change_check(dealpoint, corrects)
        successor = _successor_taken(actor=actor, dealpoint=dealpoint, corrects=corrects)
    moving_to = successor if status == DealPointStatus.MOVED else None
    if moving_to is not None and actor is not None:
        policy.access_object(DealPoint.objects.all(), actor=actor, pk=moving_to.pk)
    # The reports a corrected resurgence may give back first (`_resurgences_undone`), then
    # the point and the successor, whose status is checked (in pk order: `locks`).
    given_back = _resurgence_reports(dealpoint) if correction else []
    locked = locks.lock_reports_and_points(
        reports=given_back,
        points=[dealpoint.pk, moving_to.pk if moving_to is not None else None],
    ).points
    dealpoint = _unmerged(locked[dealpoint.pk], actor=actor)
    if from_status is not None:
        _status_read_check(actor=actor, dealpoint=dealpoint, from_status=from_status)
    if corrects is not None:
        _correction_check(actor=actor, dealpoint=dealpoint, status=status, corrects=corrects)
    else:
        # The step before its successor (« moved » on a reported point asked for a successor,
        # then refused the step: user audit).
        status_transition_check(dealpoint=dealpoint, status=status)
    details: dict[str, Any] = {}
    if status == DealPointStatus.MOVED:
        if successor is None:
            raise ValidationError({"successor": _("Indiquez le point qui a pris le relais.")})
        successor = locked[successor.pk]
        if successor.pk == dealpoint.pk:
            raise ValidationError(
                {
                    "successor": _(
                        "Un point ne peut pas être son propre successeur : indiquez le point qui "
                        "a pris le relais ailleurs."
                    )
                }
            )
        if successor.merged_into_id is not None:
            named = _merged_into_named(actor=actor, dealpoint=successor)
            said = (
                _(
                    "%(successor)s a été fusionné dans %(into)s : indiquez plutôt %(into)s "
                    "comme successeur."
                )
                if named
                else _("%(successor)s a été fusionné dans un autre point : indiquez celui-ci.")
            )
            raise ValidationError(
                {"successor": said % {"successor": successor.reference, "into": named}}
            )
        if successor.status not in ACTIVE_STATUSES:
            raise ValidationError(
                {
                    "successor": _(
                        "Le successeur doit être un point actif : %(reference)s est « %(status)s »."
                    )
                    % {"reference": successor.reference, "status": successor.get_status_display()}
                }
            )
        if successor.departement_id != dealpoint.departement_id:
            raise ValidationError(
                {"successor": _("Le successeur doit être dans le même département.")}
            )
        dealpoint.successor = successor
        details["successor"] = successor.reference
    elif successor is not None:
        raise ValidationError(
            {"successor": _("Un successeur ne se désigne que pour un déplacement.")}
        )
    if correction:
        details["correction"] = True
    before = dealpoint.status
    dealpoint = _status_set(
        actor=actor,
        dealpoint=dealpoint,
        status=status,
        note=note,
        details=details,
        correction=correction,
        # Undone, a change gives back the date of the status it had replaced.
        since=(
            _since_before(DealPointEvent.objects.filter(pk=corrects).first())
            if corrects is not None
            else None
        ),
    )
    if corrects is not None:
        _resurgence_alerts_corrected(actor=actor, dealpoint=dealpoint, before=before)
        _resurgences_undone(
            actor=actor,
            dealpoint=dealpoint,
            before=before,
            corrects=corrects,
            note=note,
            reports=given_back,
        )
        _closures_undone(actor=actor, dealpoint=dealpoint, before=before, corrects=corrects)
        _moves_undone(actor=actor, dealpoint=dealpoint, before=before, corrects=corrects)
    if successor is not None:
        _event(
            dealpoint=successor,
            kind=EventKind.SUCCESSOR,
            actor=actor,
            details={"predecessor": dealpoint.reference},
        )
    return dealpoint


@dataclass(frozen=True)
class OperationInput:
    kind: str = OperationKind.RAID
    occurred_on: date | None = None
    outcome: str = OperationOutcome.NONE
    arrests: int = 0
    notes: str = ""
    service_id: int | None = None
    # The token of the form that sent it: a form sent twice records one operation.
    submission: str = ""


class OperationAlreadyRecorded(ValidationError):
    """The same form was sent twice: the operation it records is already there."""

    def __init__(self, operation_id: int) -> None:
        super().__init__(
            _(
                "Cette opération était déjà enregistrée (le formulaire a été envoyé deux "
                "fois) : rien n'a été ajouté."
            ),
            code="already_recorded",
        )
        self.operation_id = operation_id


def operation_default_service(
    *, actor: User | None, services: QuerySet[Organisation]
) -> Organisation | None:
    """The service an operation is credited to when none is named: the actor's own first."""
    own = services.filter(memberships__user=actor) if actor is not None else services
    return own.order_by("pk").first() or services.order_by("pk").first()


def _operation_details(operation: Operation) -> dict[str, Any]:
    """What a history entry says of an operation (recorded, or cancelled)."""
    return {
        "operation": operation.pk,
        "kind": operation.kind,
        "outcome": operation.outcome,
        "date": operation.occurred_on.isoformat(),
    }


# Said by the cancellation's form and by the service.
OPERATION_CANCEL_REASON_REQUIRED = _lazy(
    "Dites pourquoi l'opération est annulée (saisie sur le mauvais point, opération qui n'a "
    "pas eu lieu…)."
)


@transaction.atomic
def operation_record(
    *, actor: User | None, dealpoint: DealPoint, data: OperationInput
) -> Operation:
    """Record an operation on a point the actor may see (a raid, arrests, a search), in the
    name of the service that carried it out (`policy.operation_services`: the actor's own, or
    for a CROSS or Ofast any law-enforcement service of the département; by default the
    actor's first); an outcome of "dismantled" also dismantles the point, unless it is
    already dismantled or has moved (`operation.status_kept` then names the status kept)."""
    if actor is not None:
        policy.require(actor, policy.Capability.RECORD_OPERATIONS)
        policy.access_object(DealPoint.objects.all(), actor=actor, pk=dealpoint.pk)
    dealpoint = locks.lock_reports_and_points(points=[dealpoint.pk]).points[dealpoint.pk]
    if data.submission:
        # The point's row is locked: a second send of the same form waits, then finds the
        # first one's operation.
        sent = (
            DealPointEvent.objects.filter(
                dealpoint=dealpoint,
                kind=EventKind.OPERATION,
                details__submission=data.submission,
            )
            .values_list("details", flat=True)
            .first()
        )
        if isinstance(sent, dict):
            raise OperationAlreadyRecorded(int(sent.get("operation") or 0))
    if dealpoint.merged_into_id is not None:
        raise ValidationError(_("Ce point a été fusionné dans un autre."))
    services = (
        policy.operation_services(actor, departement_id=dealpoint.departement_id)
        if actor is not None
        else Organisation.objects.filter(pk=dealpoint.owner_organisation_id)
    )
    service = (
        services.filter(pk=data.service_id).first()
        if data.service_id is not None
        else operation_default_service(actor=actor, services=services)
    )
    errors: dict[str, list[str]] = {}
    if service is None:
        errors["service_id"] = [
            _(
                "Choisissez le service qui a mené l'opération parmi ceux que vous pouvez "
                "indiquer : les vôtres ou, pour une CROSS ou l'Ofast, les services répressifs "
                "du département."
            )
        ]
    if data.occurred_on is None:
        errors["occurred_on"] = [_("Indiquez la date de l'opération.")]
    elif data.occurred_on > timezone.localdate():
        errors["occurred_on"] = [_("La date ne peut pas être dans le futur.")]
    elif data.occurred_on < OPERATION_OLDEST:
        errors["occurred_on"] = [
            _("La date semble erronée : une opération antérieure au %(date)s ne s'enregistre pas.")
            % {"date": OPERATION_OLDEST.strftime("%d/%m/%Y")}
        ]
    if not 0 <= data.arrests <= OPERATION_MAX_ARRESTS:
        errors["arrests"] = [
            _("Indiquez un nombre de personnes interpellées entre 0 et %(limit)s.")
            % {"limit": OPERATION_MAX_ARRESTS}
        ]
    elif data.outcome == OperationOutcome.NONE and data.arrests:
        # A result and a count that contradict each other would be counted both ways by the
        # territory's indicators.
        errors["arrests"] = [
            _(
                "Une opération « Sans résultat » n'a interpellé personne : choisissez le "
                "résultat « Interpellations » ou indiquez 0 personne interpellée."
            )
        ]
    elif data.outcome == OperationOutcome.ARRESTS and not data.arrests:
        errors["arrests"] = [
            _(
                "Le résultat « Interpellations » demande le nombre de personnes interpellées "
                "(au moins 1)."
            )
        ]
    if errors:
        raise ValidationError(errors)
    assert data.occurred_on is not None
    operation = Operation(
        dealpoint=dealpoint,
        kind=data.kind,
        occurred_on=data.occurred_on,
        service=service,
        outcome=data.outcome,
        arrests=data.arrests,
        notes=data.notes.strip(),
        recorded_by=actor,
    )
    operation.full_clean()
    operation.save()
    # "Dismantled" dismantles the point when its life cycle allows it; otherwise (already
    # dismantled, or moved: its selling went to its successor) the status stays, and the
    # history and the page say so rather than announce a change that did not happen.
    dismantles = data.outcome == OperationOutcome.DISMANTLED and (
        DealPointStatus.DISMANTLED in STATUS_TRANSITIONS.get(dealpoint.status, frozenset())
    )
    if data.outcome == OperationOutcome.DISMANTLED and not dismantles:
        operation.status_kept = dealpoint.status
    _event(
        dealpoint=dealpoint,
        kind=EventKind.OPERATION,
        actor=actor,
        details={
            **_operation_details(operation),
            **({"status_kept": operation.status_kept} if operation.status_kept else {}),
            **({"submission": data.submission} if data.submission else {}),
        },
    )
    _refresh_activity(dealpoint)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        target=operation,
        details={"dealpoint": dealpoint.reference, "kind": operation.kind},
    )
    if dismantles:
        # Dismantled on the operation's day (a raid entered late is not a dismantling today:
        # the resurgence alerts' window runs from it), never before the status it ends began.
        day = timezone.make_aware(datetime.combine(operation.occurred_on, time.min))
        _status_set(
            actor=actor,
            dealpoint=dealpoint,
            status=DealPointStatus.DISMANTLED,
            details={"operation": operation.pk},
            since=max(day, dealpoint.status_changed_at),
        )
    return operation


def _still_dismantled_by(dealpoint: DealPoint) -> Operation | None:
    """The operation that counts and still says the point dismantled, in its dismantling of
    now: the one whose status change began it (its last change to « démantelé » that was not
    a correction: a mistaken « résurgent » corrected back does not end it), or one recorded on
    it since (`status_kept`). A dismantling the point came back from (« résurgent ») keeps it
    dismantled no more. None when the point is not dismantled."""
    if dealpoint.status != DealPointStatus.DISMANTLED:
        return None
    dismantling = dealpoint.operations.standing().filter(outcome=OperationOutcome.DISMANTLED)
    began = next(
        (
            change
            for change in dealpoint.events.filter(
                kind=EventKind.STATUS, to_status=DealPointStatus.DISMANTLED
            ).order_by("-pk")
            if not (change.details or {}).get("correction")
        ),
        None,
    )
    if began is not None:
        since = dealpoint.events.filter(
            kind=EventKind.OPERATION,
            pk__gt=began.pk,
            details__status_kept=DealPointStatus.DISMANTLED,
        ).values_list("details", flat=True)
        said = {(details or {}).get("operation") for details in since}
        said.add((began.details or {}).get("operation"))
        dismantling = dismantling.filter(pk__in={pk for pk in said if isinstance(pk, int)})
    return dismantling.order_by("-occurred_on", "-pk").first()


@transaction.atomic
def operation_cancel(*, actor: User | None, operation: Operation, reason: str) -> Operation:
    """Cancel an operation recorded by mistake (on the wrong point, or one that did not take
    place), with its reason: it is never deleted. It stays on the record, marked cancelled,
    and no longer counts (the point's activity, the map's layer, exports). Allowed to whoever
    could have recorded it (`policy.cancellable_operations`). If the point's last status change
    is a dismantling by an operation now cancelled (this one, or one cancelled before while
    another still said « démantelé »), the point goes back to the status before it, as a
    correction in the history (`operation.status_restored` names it), unless an operation
    that counts still says « démantelé » in this dismantling (`operation.dismantled_by` names
    it: `_still_dismantled_by`); otherwise the status stays, for the analyst to correct if
    needed."""
    if actor is not None:
        policy.require(actor, policy.Capability.RECORD_OPERATIONS)
        policy.access_object(DealPoint.objects.all(), actor=actor, pk=operation.dealpoint_id)
    point_pk = operation.dealpoint_id
    dealpoint = locks.lock_reports_and_points(points=[point_pk]).points[point_pk]
    # Read again under the point's lock: every write of its operations takes it first.
    operation = Operation.objects.select_related("service").get(pk=operation.pk)
    if (
        actor is not None
        and not policy.cancellable_operations(
            actor,
            Operation.objects.filter(pk=operation.pk),
            departement_id=dealpoint.departement_id,
        ).exists()
    ):
        raise ValidationError(
            {
                "operation": _(
                    "Seuls le service qui a mené cette opération, la CROSS ou l'Ofast du "
                    "département peuvent l'annuler."
                )
            }
        )
    if operation.cancelled_at is not None:
        raise ValidationError(
            {
                "operation": _(
                    "Cette opération a déjà été annulée, le %(when)s : rien n'a été changé."
                )
                % {"when": _when(operation.cancelled_at)}
            }
        )
    if dealpoint.merged_into_id is not None:
        # Its status would have to be restored on a point merged into another (an active
        # point under a dismantled one, which a merge refuses): the merge is undone first.
        raise ValidationError(
            {
                "operation": _(
                    "Ce point a été fusionné dans un autre : annulez d'abord la fusion (depuis "
                    "sa fiche), puis l'opération."
                )
            }
        )
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": str(OPERATION_CANCEL_REASON_REQUIRED)})
    now = timezone.now()
    operation.cancelled_at = now
    operation.cancelled_by = actor
    operation.cancel_reason = reason
    operation.full_clean()
    operation.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
    _event(
        dealpoint=dealpoint,
        kind=EventKind.OPERATION,
        actor=actor,
        details={**_operation_details(operation), "cancelled": True},
        note=reason,
        at=now,
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=operation,
        details={"dealpoint": dealpoint.reference, "cancelled": True},
    )
    _refresh_activity(dealpoint)
    last = status_last_change(dealpoint)
    operation.dismantled_by = _still_dismantled_by(dealpoint)
    dismantling = (last.details or {}).get("operation") if last is not None else None
    if (
        last is not None
        and dismantling is not None
        and operation.dismantled_by is None
        and (
            dismantling == operation.pk
            # Cancelled before, while another operation still said « démantelé »: that one,
            # now cancelled too, was all that kept the point dismantled.
            or Operation.objects.filter(pk=dismantling, cancelled_at__isnull=False).exists()
        )
    ):
        # The dismantling was an operation cancelled now, and nothing changed the status since.
        before = dealpoint.status
        _status_set(
            actor=actor,
            dealpoint=dealpoint,
            status=last.from_status,
            note=reason,
            details={"correction": True, "operation_cancelled": operation.pk},
            correction=True,
            since=_since_before(last),
        )
        _resurgence_alerts_corrected(actor=actor, dealpoint=dealpoint, before=before)
        operation.status_restored = last.from_status
    return operation


# --- reports -------------------------------------------------------------------------------------


@transaction.atomic
def report_attach(
    *,
    actor: User | None,
    dealpoint: DealPoint,
    report: Report,
    decision: str = LinkDecision.CONFIRMED,
    score: float | None = None,
    distance_m: float | None = None,
) -> ReportLink:
    """Attach an accepted report to a point (by an analyst: CONFIRMED; by the matching:
    AUTOMATIC) or propose it (PROPOSED, the matching only). An attachment replaces any other
    attachment or proposal of the same report: a point it leaves records it in its history
    (`link.moved_from` names them), and an analyst's attachment closes the open resurgence
    alerts the report raised near other points."""
    if decision not in {LinkDecision.CONFIRMED, LinkDecision.AUTOMATIC, LinkDecision.PROPOSED}:
        raise ValidationError({"decision": _("Décision inconnue.")})
    if actor is not None and decision != LinkDecision.CONFIRMED:
        raise ValidationError({"decision": _("Seul le rapprochement automatique propose.")})
    # The report first, then the point and those it leaves: the order of the decisions and
    # the matching (`locks`).
    dealpoint = _for_change(actor=actor, dealpoint=dealpoint, reports=[report])
    (report,) = _reports_for(actor=actor, reports=[report], field="report")
    if report.departement_id != dealpoint.departement_id:
        # As for merges: a point's reports are of its département, whose services read its
        # history (a report moved across would name there a point of another département).
        raise ValidationError(
            {
                "report": _(
                    "Le signalement %(report)s n'est pas du département de %(point)s : un "
                    "signalement se rattache à un point de son département."
                )
                % {"report": report.reference, "point": dealpoint.reference}
            }
        )
    existing = ReportLink.objects.filter(report=report, dealpoint=dealpoint).first()
    if existing is not None and existing.decision == LinkDecision.REJECTED and actor is None:
        # An analyst refused this pair: the matching never brings it back.
        return existing
    if existing is not None and actor is not None and existing.decision == decision:
        # Sent twice (Back, a second tab): nothing to record again, the decision of whoever
        # made it stays.
        raise ValidationError(
            {
                "report": _(
                    "Le signalement %(report)s est déjà rattaché à %(point)s : rien n'a été changé."
                )
                % {"report": report.reference, "point": dealpoint.reference}
            }
        )
    if existing is not None and existing.decision == LinkDecision.AUTOMATIC and score is None:
        # An automatic attachment confirmed: what the matching measured stays.
        score, distance_m = existing.score, existing.distance_m
    link, left = _link(
        actor=actor,
        dealpoint=dealpoint,
        report=report,
        decision=decision,
        score=score,
        distance_m=distance_m,
    )
    # Points the actor may change (`_ties_kept_check` refused any other): named to it.
    link.moved_from = tuple(point.reference for point in left)
    if decision in ATTACHED_DECISIONS:
        _event(
            dealpoint=dealpoint,
            kind=EventKind.REPORT_ATTACHED,
            actor=actor,
            details={
                "report": report.reference,
                "decision": decision,
                "score": score,
                **({"moved_from": list(link.moved_from)} if left else {}),
            },
        )
        _refresh_activity(dealpoint)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=dealpoint,
        details={"reference": dealpoint.reference, "report": report.reference, "link": decision},
    )
    return link


@transaction.atomic
def report_link_revise(*, link: ReportLink) -> ReportLink:
    """The matching takes back one of its own automatic attachments (a new point forming
    nearby fits the report better): the link becomes a proposal again, beside the new point's
    proposal, for the analyst to decide. An analyst's attachment is never revised."""
    dealpoint = _for_change(actor=None, dealpoint=link.dealpoint, reports=[link.report])
    link = ReportLink.objects.select_related("report").get(pk=link.pk)
    if link.decision != LinkDecision.AUTOMATIC:
        raise ValidationError({"report": _("Seul un rattachement automatique se révise.")})
    link, _left = _link(
        actor=None,
        dealpoint=dealpoint,
        report=link.report,
        decision=LinkDecision.PROPOSED,
        score=link.score,
        distance_m=link.distance_m,
    )
    _event(
        dealpoint=dealpoint,
        kind=EventKind.REPORT_DETACHED,
        actor=None,
        details={"report": link.report.reference, "revised": "proposed"},
    )
    _refresh_activity(dealpoint)
    _audit(
        actor=None,
        action=AuditAction.UPDATE,
        dealpoint=dealpoint,
        details={"report": link.report.reference, "link": LinkDecision.PROPOSED},
    )
    return link


@transaction.atomic
def report_detach(
    *, actor: User | None, dealpoint: DealPoint, report: Report, note: str = ""
) -> ReportLink:
    """Undo an attachment or refuse a proposal: the link is kept as REJECTED (the matching
    will not propose the pair again) and the report waits for matching again if it is tied
    to no other point."""
    # The report first, then the point (`locks`).
    dealpoint = _for_change(actor=actor, dealpoint=dealpoint, reports=[report])
    link = ReportLink.objects.filter(dealpoint=dealpoint, report_id=report.pk).first()
    if link is None or link.decision in UNTIED_DECISIONS:
        raise ValidationError({"report": _("Ce signalement n'est pas rattaché à ce point.")})
    was = link.decision
    link.decision = LinkDecision.REJECTED
    link.decided_by = actor
    link.decided_at = timezone.now()
    link.save(update_fields=["decision", "decided_by", "decided_at"])
    report = Report.objects.get(pk=report.pk)
    # Tied to no point and proposed for none: it waits for the matching (clustering) again.
    awaiting = not ReportLink.objects.filter(
        report=report, decision__in=[*ATTACHED_DECISIONS, LinkDecision.PROPOSED]
    ).exists()
    if report.awaiting_matching != awaiting:
        report.awaiting_matching = awaiting
        report.save(update_fields=["awaiting_matching"])
    if was in ATTACHED_DECISIONS:
        _event(
            dealpoint=dealpoint,
            kind=EventKind.REPORT_DETACHED,
            actor=actor,
            details={"report": report.reference, "was": was},
            note=note,
        )
        _refresh_activity(dealpoint)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=dealpoint,
        details={"reference": dealpoint.reference, "report": report.reference, "link": "rejected"},
    )
    return link


# --- merge, unmerge, split -----------------------------------------------------------------------


def kilometres_said(metres: float) -> str:
    """A distance beyond `matching.SAME_PLACE_MAX_M` in kilometres, to the tenth, rounded up
    (« à 1,0 km » of places 1,040 m apart read as within the limit): « 2,7 »."""
    return formats.number_format(math.ceil(metres / 100) / 10, 1)


def _same_place_check(*, source: DealPoint, target: DealPoint) -> None:
    """A merge joins two records of one place: two points kilometres apart, or on two
    buildings of a landlord, are two places (new-user review: a reference mistyped merged
    points 2.6 km apart, and a landlord's building lost its point to another building's)."""
    distance = matching.haversine_m(
        source.latitude, source.longitude, target.latitude, target.longitude
    )
    names = {"source": source.reference, "target": target.reference}
    if distance > matching.SAME_PLACE_MAX_M:
        raise ValidationError(
            {
                "target": _(
                    "%(source)s et %(target)s sont à %(distance)s km l'un de l'autre : une "
                    "fusion réunit deux fiches d'un même lieu. Vérifiez la référence saisie ; si "
                    "la position d'une des fiches est fausse, corrigez-la d'abord ; si le point "
                    "s'est déplacé, indiquez-le par son statut (« Déplacé », avec son successeur)."
                )
                % {**names, "distance": kilometres_said(distance)}
            }
        )
    if source.building_id and target.building_id and source.building_id != target.building_id:
        raise ValidationError(
            {
                "target": _(
                    "%(source)s et %(target)s sont sur deux bâtiments de bailleur différents "
                    "(%(source_building)s ; %(target_building)s) : une fusion réunit deux "
                    "fiches d'un même lieu. Si c'est le même, corrigez d'abord le bâtiment de "
                    "l'une des fiches."
                )
                % {
                    **names,
                    "source_building": source.building,
                    "target_building": target.building,
                }
            }
        )


@transaction.atomic
def dealpoint_merge(
    *, actor: User | None, source: DealPoint, target: DealPoint, note: str = ""
) -> DealPoint:
    """Merge `source` into `target` (two records of one place): the source's attached
    reports are lent to the target (the source's links become MERGED, the target's links
    CONFIRMED) and the source leaves the map. Reversible (`dealpoint_unmerge`): which reports
    moved, their decisions on the source and the target links they replaced are kept in the
    history."""
    if source.pk == target.pk:
        raise ValidationError({"target": _("Un point ne peut pas être fusionné avec lui-même.")})
    _may_change(actor=actor, dealpoint=source)
    _may_change(actor=actor, dealpoint=target)
    # The reports that move (attached or proposed) are locked first, then both points and
    # those the source succeeds, in pk order (`locks`).
    lent = ReportLink.objects.filter(dealpoint_id=source.pk, decision__in=ATTACHED_DECISIONS)
    proposed = ReportLink.objects.filter(dealpoint_id=source.pk, decision=LinkDecision.PROPOSED)
    predecessors = DealPoint.objects.filter(successor_id=source.pk)
    # The points merged into the source: their `merged_root` is written, so they are locked in
    # the order of every lock (review: an unmerge of one of them deadlocked with this merge).
    children = set(DealPoint.objects.filter(merged_root=source.pk).values_list("pk", flat=True))
    locked = locks.lock_reports_and_points(
        reports=[
            *lent.values_list("report_id", flat=True),
            *proposed.values_list("report_id", flat=True),
        ],
        points=[source.pk, target.pk, *predecessors.values_list("pk", flat=True), *children],
    )
    source = _unmerged(locked.points[source.pk], actor=actor)
    target = locked.points[target.pk]
    if set(DealPoint.objects.filter(merged_root=source.pk).values_list("pk", flat=True)) - set(
        locked.points
    ):
        # Merged into the source between the read and the lock.
        raise ValidationError(
            _(
                "Un point vient d'être fusionné dans %(source)s : rien n'a été fusionné. "
                "Recommencez."
            )
            % {"source": source.reference}
        )
    if target.merged_into_id == source.pk:
        # Merged the other way meanwhile (another page, another analyst).
        raise ValidationError(
            {
                "target": _(
                    "%(target)s vient d'être fusionné dans %(source)s : les deux fiches n'en "
                    "font déjà plus qu'une, rien n'a été fusionné."
                )
                % {"target": target.reference, "source": source.reference}
            }
        )
    if target.merged_into_id is not None:
        # Said of the target: « ce point » would read as the one being merged.
        named = _merged_into_named(actor=actor, dealpoint=target)
        said = (
            _("%(target)s a lui-même été fusionné dans %(into)s : fusionnez plutôt dans %(into)s.")
            if named
            else _("%(target)s a lui-même été fusionné dans un autre point.")
        )
        raise ValidationError({"target": said % {"target": target.reference, "into": named}})
    if source.departement_id != target.departement_id:
        raise ValidationError({"target": _("Les deux points doivent être du même département.")})
    _same_place_check(source=source, target=target)
    if source.status in ACTIVE_STATUSES and target.status not in ACTIVE_STATUSES:
        # The active point would leave the map and its reports count for a point said to be
        # dismantled or moved: the selling place would vanish from the map.
        raise ValidationError(
            {
                "target": _(
                    "%(target)s est « %(target_status)s » : %(source)s, actif (« "
                    "%(source_status)s »), ne s'y fusionne pas, il quitterait la carte et ses "
                    "signalements compteraient pour un point qui n'est plus actif. Fusionnez "
                    "plutôt %(target)s dans %(source)s, depuis la fiche de %(target)s ; ou, si "
                    "le point a repris, passez d'abord %(target)s à « Résurgent »."
                )
                % {
                    "target": target.reference,
                    "target_status": target.get_status_display(),
                    "source": source.reference,
                    "source_status": source.get_status_display(),
                }
            }
        )
    moved: list[str] = []
    # Each moved report's decision on the source, given back on unmerge.
    was: dict[str, str] = {}
    # Links the target already had for a moved report (proposed, rejected): put back on unmerge.
    replaced: dict[str, dict[str, Any]] = {}
    links = list(lent.select_related("report"))
    proposals = list(proposed.select_related("report"))
    heirs = [locked.points.get(pk) for pk in predecessors.values_list("pk", flat=True)]
    if any(point is not None and point.pk == target.pk for point in heirs):
        raise ValidationError(
            {
                "target": _(
                    "%(target)s a pour successeur %(source)s : fusionner ce point-ci dans "
                    "celui-là en ferait son propre successeur. Si les deux fiches décrivent le "
                    "même lieu, corrigez d'abord le statut « déplacé » de %(target)s."
                )
                % {"target": target.reference, "source": source.reference}
            }
        )
    if any(point is None for point in heirs):
        raise ValidationError(
            _(
                "%(source)s vient d'être désigné comme successeur d'un autre point : rien n'a été "
                "fusionné. Recommencez."
            )
            % {"source": source.reference}
        )
    if any(link.report_id not in locked.reports for link in [*links, *proposals]):
        # Attached between the read of the source's reports and their lock: locking it now,
        # after the points, could deadlock.
        raise ValidationError(
            _(
                "Un signalement a été rattaché à %(source)s pendant la fusion : rien n'a été "
                "fusionné. Recommencez."
            )
            % {"source": source.reference}
        )
    for link in links:
        reference = link.report.reference
        was[reference] = link.decision
        # Lent first: a report is never attached to two points, even within the transaction.
        link.decision = LinkDecision.MERGED
        link.save(update_fields=["decision"])
        existing = ReportLink.objects.filter(report=link.report, dealpoint=target).first()
        if existing is not None:
            replaced[reference] = {
                "decision": existing.decision,
                "score": existing.score,
                "distance_m": existing.distance_m,
                "decided_by": existing.decided_by_id,
                "decided_at": existing.decided_at.isoformat() if existing.decided_at else None,
            }
        ReportLink.objects.update_or_create(
            report=link.report,
            dealpoint=target,
            defaults={
                "decision": LinkDecision.CONFIRMED,
                "decided_by": actor,
                "decided_at": timezone.now(),
                "score": link.score,
                "distance_m": link.distance_m,
            },
        )
        moved.append(reference)
    source.merged_into = target
    source.save(update_fields=["merged_into", "updated_at"])
    # The source and the points merged into it now live in the target's record.
    DealPoint.objects.filter(Q(pk=source.pk) | Q(merged_root=source.pk)).update(
        merged_root=target.pk
    )
    followed = {
        "proposed": _proposals_follow(actor=actor, links=proposals, target=target),
        **_alerts_follow(actor=actor, source=source, target=target),
        "succeeded": _successions_follow(
            actor=actor,
            predecessors=[point for point in heirs if point],
            source=source,
            target=target,
        ),
    }
    _event(
        dealpoint=source,
        kind=EventKind.MERGED,
        actor=actor,
        details={
            "into": target.reference,
            "reports": moved,
            "was": was,
            "replaced": replaced,
            "followed": followed,
        },
        note=note,
    )
    _event(
        dealpoint=target,
        kind=EventKind.MERGED,
        actor=actor,
        details={"from": source.reference, "reports": moved},
        note=note,
    )
    _refresh_activity(target)
    _audit(
        actor=actor,
        action=AuditAction.UPDATE,
        dealpoint=target,
        details={
            "merged": source.reference,
            "proposals": len(followed["proposed"]),
            "alerts_moved": sorted(map(int, followed["alerts_moved"])),
            "alerts_dismissed": followed["alerts_dismissed"],
            "succeeded": followed["succeeded"],
        },
    )
    # Found under each record it changed (new-user review: the merged point's own audit
    # trail had its unmerge and not its merge).
    _audit(
        actor=actor,
        action=AuditAction.UPDATE,
        dealpoint=source,
        details={"merged_into": target.reference, "reports": len(moved)},
    )
    return target


def _successions_follow(
    *, actor: User | None, predecessors: list[DealPoint], source: DealPoint, target: DealPoint
) -> list[str]:
    """The points that moved to the source (its predecessors) have moved to the point it is
    merged into: their successor would otherwise be a record off the map, and the target
    would not name them. Both histories say so; `_successions_back` undoes it. The points
    are locked by the caller."""
    for point in predecessors:
        point.successor = target
        point.save(update_fields=["successor", "updated_at"])
        _event(
            dealpoint=point,
            kind=EventKind.SUCCESSOR,
            actor=actor,
            details={"successor": target.reference, "merged": source.reference},
        )
        _audit(
            actor=actor,
            action=AuditAction.UPDATE,
            dealpoint=point,
            details={"successor": target.reference, "merged": source.reference},
        )
        _event(
            dealpoint=target,
            kind=EventKind.SUCCESSOR,
            actor=actor,
            details={"predecessor": point.reference, "merged": source.reference},
        )
    return [point.reference for point in predecessors]


def _successions_back(
    *, actor: User | None, dealpoint: DealPoint, target: DealPoint, predecessors: list[DealPoint]
) -> list[str]:
    """Undo `_successions_follow` for the points still moved to the target (locked by the
    caller): the unmerged point is their successor again. Returns them."""
    back: list[str] = []
    for point in predecessors:
        if point.successor_id != target.pk or point.status != DealPointStatus.MOVED:
            continue
        back.append(point.reference)
        point.successor = dealpoint
        point.save(update_fields=["successor", "updated_at"])
        _audit(
            actor=actor,
            action=AuditAction.UPDATE,
            dealpoint=point,
            details={"successor": dealpoint.reference, "previous_successor": target.reference},
        )
        _event(
            dealpoint=point,
            kind=EventKind.SUCCESSOR,
            actor=actor,
            details={
                "successor": dealpoint.reference,
                "merged": dealpoint.reference,
                "other": target.reference,
                "unmerged": True,
            },
        )
        _event(
            dealpoint=target,
            kind=EventKind.SUCCESSOR,
            actor=actor,
            details={
                "predecessor": point.reference,
                "merged": dealpoint.reference,
                "unmerged": True,
            },
        )
    return back


def _proposals_follow(
    *, actor: User | None, links: list[ReportLink], target: DealPoint
) -> dict[str, str]:
    """The reports proposed to a point being merged are proposed to the point it is merged
    into (the matching queue never shows a merged point's proposals, which could no longer be
    decided): the target gets the proposal where it had no link with the report ("created")
    or keeps its own ("kept"); a report the target's analysts had refused ("refused") waits
    for matching again when nothing else holds it. The source's links are set aside
    (refused, by the merge) and come back on unmerge (`_proposals_back`). The reports are
    locked by the caller."""
    followed: dict[str, str] = {}
    for link in links:
        link.decision = LinkDecision.REJECTED
        link.decided_by = actor
        link.decided_at = timezone.now()
        link.save(update_fields=["decision", "decided_by", "decided_at"])
        on_target = ReportLink.objects.filter(report=link.report, dealpoint=target).first()
        if on_target is None:
            ReportLink.objects.create(
                report=link.report,
                dealpoint=target,
                decision=LinkDecision.PROPOSED,
                score=link.score,
                distance_m=link.distance_m,
            )
            followed[link.report.reference] = "created"
        elif on_target.decision == LinkDecision.PROPOSED:
            followed[link.report.reference] = "kept"
        elif on_target.decision == LinkDecision.REJECTED:
            followed[link.report.reference] = "refused"
            held = ReportLink.objects.filter(
                report=link.report, decision__in=[*ATTACHED_DECISIONS, LinkDecision.PROPOSED]
            ).exists()
            if not held:
                Report.objects.filter(pk=link.report_id).update(awaiting_matching=True)
        # Attached to the target already: the report is where the merge leads.
    return followed


def _proposals_back(
    *, dealpoint: DealPoint, target: DealPoint, followed: dict[str, str]
) -> list[str]:
    """Undo `_proposals_follow` where nothing decided the report since: a report attached to
    no point is proposed to the unmerged point again, and the proposal the merge gave the
    target goes while it is undecided. A report attached since stays where it is. Returns
    the reports proposed again."""
    back: list[str] = []
    for report in Report.objects.filter(reference__in=followed).order_by("pk"):
        if ReportLink.objects.filter(report=report, decision__in=ATTACHED_DECISIONS).exists():
            continue
        if followed[report.reference] == "created":
            ReportLink.objects.filter(
                report=report, dealpoint=target, decision=LinkDecision.PROPOSED
            ).delete()
        ReportLink.objects.filter(
            report=report, dealpoint=dealpoint, decision=LinkDecision.REJECTED
        ).update(decision=LinkDecision.PROPOSED, decided_by=None, decided_at=None)
        if report.awaiting_matching:
            Report.objects.filter(pk=report.pk).update(awaiting_matching=False)
        back.append(report.reference)
    return back


def _alerts_follow(*, actor: User | None, source: DealPoint, target: DealPoint) -> dict[str, Any]:
    """The open alerts of a point being merged (a resurgence or a possible move of it, or
    it as the possible successor of a dismantled point) follow it to the point it is merged
    into when their question still stands there: a resurgence or a move of a target that is
    itself dismantled (or moved, for a resurgence), an active target as the successor.
    Otherwise (the target is active, the alert would ask about the target itself, or the
    target has the same alert already) they are closed, the merge answering them. Both are
    recorded for the unmerge (`_alerts_back`). The points are locked by the caller, the
    alerts after them (`locks`)."""
    moved: dict[str, str] = {}
    dismissed: list[int] = []
    inactive = {DealPointStatus.DISMANTLED, DealPointStatus.MOVED}
    concerned = Alert.objects.filter(
        Q(dealpoint=source) | Q(candidate=source), status=AlertStatus.OPEN
    ).select_related("dealpoint", "candidate")
    for alert in locks.lock(concerned):
        on = "dealpoint" if alert.dealpoint_id == source.pk else "candidate"
        if on == "dealpoint":
            stands = (
                target.status in inactive
                if alert.kind == AlertKind.RESURGENCE
                else target.status == DealPointStatus.DISMANTLED and alert.candidate_id != target.pk
            )
            where = {"dealpoint": target, "candidate_id": alert.candidate_id}
        else:
            stands = target.status in ACTIVE_STATUSES and alert.dealpoint_id != target.pk
            where = {"dealpoint_id": alert.dealpoint_id, "candidate": target}
        same_report = (
            Q(report__isnull=True) if alert.report_id is None else Q(report_id=alert.report_id)
        )
        twin = Alert.objects.filter(same_report, kind=alert.kind, **where)
        if stands and not twin.exists():
            _alert_moved(alert, on, target)
            moved[str(alert.pk)] = on
            continue
        _alert_status_set(
            actor=actor,
            alert=alert,
            status=AlertStatus.DISMISSED,
            reason="merged",
            event={"merged": source.reference, "into": target.reference},
            audit={"merged": source.reference, "into": target.reference},
        )
        dismissed.append(alert.pk)
    return {"alerts_moved": moved, "alerts_dismissed": dismissed}


def _alert_moved(alert: Alert, on: str, dealpoint: DealPoint) -> None:
    """Put `dealpoint` as the alert's point (`on` "dealpoint") or candidate ("candidate"),
    and save it: about a new point, the alert is owned, placed and marked like it (as
    `flows._alert_create` makes it)."""
    setattr(alert, on, dealpoint)
    fields = [on]
    if on == "dealpoint":
        alert.commune_id = dealpoint.commune_id
        alert.owner_organisation_id = dealpoint.owner_organisation_id
        alert.marking = dealpoint.marking
        fields += ["commune", "owner_organisation", "marking"]
    alert.save(update_fields=fields)


def _alert_question_stands(alert: Alert) -> bool:
    """Whether a closed alert's question is still open: for a resurgence, its report attached
    to no point since (an attachment answered it); for a possible move, the dismantled point
    still dismantled and the new point still active and standing on its own."""
    if alert.kind == AlertKind.RESURGENCE:
        return (
            alert.report_id is None
            or not ReportLink.objects.filter(
                report_id=alert.report_id, decision__in=ATTACHED_DECISIONS
            ).exists()
        )
    candidate = alert.candidate
    return (
        alert.dealpoint.status == DealPointStatus.DISMANTLED
        and candidate is not None
        and candidate.status in ACTIVE_STATUSES
        and candidate.merged_into_id is None
    )


def _alerts_back(
    *, actor: User | None, dealpoint: DealPoint, target: DealPoint, followed: dict[str, Any]
) -> dict[str, list[int]]:
    """Undo `_alerts_follow`: the alerts that followed the merged point and are still open
    come back to it; those the merge closed open again while their question stands
    (`_alert_question_stands`). Returns the alerts moved back and those reopened (audited
    with the unmerge)."""
    back: dict[str, list[int]] = {"alerts_moved_back": [], "alerts_reopened": []}
    moved = followed.get("alerts_moved") or {}
    for alert in locks.lock(Alert.objects.filter(pk__in=list(moved), status=AlertStatus.OPEN)):
        on = moved[str(alert.pk)]
        if getattr(alert, f"{on}_id") != target.pk:
            continue
        _alert_moved(alert, on, dealpoint)
        back["alerts_moved_back"].append(alert.pk)
    closed = Alert.objects.filter(
        pk__in=followed.get("alerts_dismissed") or [], status=AlertStatus.DISMISSED
    ).select_related("dealpoint", "candidate")
    for alert in locks.lock(closed):
        if not _alert_question_stands(alert):
            continue
        _alert_status_set(
            actor=actor,
            alert=alert,
            status=AlertStatus.OPEN,
            reason="unmerged",
            event={"merged": dealpoint.reference, "other": target.reference},
        )
        back["alerts_reopened"].append(alert.pk)
    return back


def _merge_undone(
    dealpoint: DealPoint, target: DealPoint
) -> tuple[DealPointEvent | None, set[int]]:
    """The merge of `dealpoint` into `target` that an unmerge undoes (its history entry), and
    the reports whose links the unmerge writes: those the merge lent, those whose proposals
    followed it (`_proposals_follow`), and any lent link left."""
    merge = (
        dealpoint.events.filter(kind=EventKind.MERGED, details__into=target.reference)
        .order_by("-occurred_at", "-pk")
        .first()
    )
    details = merge.details if merge else {}
    followed = (details.get("followed") or {}).get("proposed") or {}
    given = [*details.get("reports", []), *followed]
    reports = set(Report.objects.filter(reference__in=given).values_list("pk", flat=True))
    reports.update(
        dealpoint.links.filter(decision=LinkDecision.MERGED).values_list("report_id", flat=True)
    )
    return merge, reports


@transaction.atomic
def dealpoint_unmerge(*, actor: User | None, dealpoint: DealPoint, note: str = "") -> DealPoint:
    """Undo the merge of `dealpoint` into another point: it comes back on the map, with the
    reports the merge gave the other point that are still attached there (their links on the
    other point go back to what they were). A report detached from it or attached elsewhere
    since stays where it is now. Refused while the other point is itself merged into a third:
    that later merge is undone first (otherwise the reports would be on two points)."""
    _may_change(actor=actor, dealpoint=dealpoint)
    not_merged = ValidationError(_("Ce point n'est fusionné dans aucun autre."))
    # The reports the merge lent, then both points (`locks`): read once to know what to lock,
    # then again with the locks held.
    read = DealPoint.objects.get(pk=dealpoint.pk)
    if read.merged_into_id is None:
        raise not_merged
    _merge, reports = _merge_undone(read, DealPoint.objects.get(pk=read.merged_into_id))
    succeeded = ((_merge.details.get("followed") or {}).get("succeeded") or []) if _merge else []
    heirs = list(DealPoint.objects.filter(reference__in=succeeded).values_list("pk", flat=True))
    # The points merged into this one: their `merged_root` is written (locked in order).
    children = _merged_tree(read) - {read.pk}
    locked = locks.lock_reports_and_points(
        reports=reports, points=[read.pk, read.merged_into_id, *heirs, *children]
    )
    dealpoint = locked.points[read.pk]
    if dealpoint.merged_into_id is None:
        raise not_merged
    target = locked.points[read.merged_into_id]
    merge, reports = _merge_undone(dealpoint, target)
    if (
        dealpoint.merged_into_id != target.pk
        or not reports <= locked.reports.keys()
        or not _merged_tree(dealpoint) <= locked.points.keys()
    ):
        # Unmerged and merged again between the read and the lock (or a point merged into it).
        raise ValidationError(
            _("La fusion de %(reference)s vient de changer : rien n'a été fait. Recommencez.")
            % {"reference": dealpoint.reference}
        )
    if target.merged_into_id is not None:
        # Named to those who may see them (review: a point kept within its CROSS was named
        # to an analyst of the Ofast, who may change the territory's points it sees).
        named = {
            "target": _visible_reference(actor=actor, pk=target.pk),
            "later": _visible_reference(actor=actor, pk=target.merged_into_id),
        }
        if named["target"] and named["later"]:
            said = _(
                "%(target)s a depuis été fusionné dans %(later)s : annulez d'abord cette "
                "fusion-là, depuis la fiche de %(target)s."
            )
        else:
            said = _(
                "Le point dans lequel ce point a été fusionné a depuis été fusionné dans un "
                "autre : cette fusion-là doit être annulée d'abord."
            )
        raise ValidationError(said % named)
    given = list(merge.details.get("reports", [])) if merge else []
    was = dict(merge.details.get("was", {})) if merge else {}
    replaced = dict(merge.details.get("replaced", {})) if merge else {}
    restored: list[str] = []
    # Report → the point it is attached to now ("" for none), for those that stay.
    stayed: dict[str, str] = {}
    for report in Report.objects.filter(reference__in=given).order_by("pk"):
        reference = report.reference
        on_target = ReportLink.objects.filter(report=report, dealpoint=target).first()
        own = ReportLink.objects.filter(report=report, dealpoint=dealpoint).first()
        decided_since = (
            on_target is not None
            and on_target.decided_at is not None
            and merge is not None
            and on_target.decided_at > merge.occurred_at
        )
        if on_target is None or on_target.decision not in ATTACHED_DECISIONS or decided_since:
            # Detached, moved, or detached and attached again since the merge: the later
            # decision stands (new-user review: one re-attached went back all the same).
            now = (
                ReportLink.objects.filter(report=report, decision__in=ATTACHED_DECISIONS)
                .select_related("dealpoint")
                .first()
            )
            stayed[reference] = now.dealpoint.reference if now else ""
            if own is not None and own.decision == LinkDecision.MERGED:
                own.decision = LinkDecision.REJECTED
                own.decided_by = actor
                own.decided_at = timezone.now()
                own.save(update_fields=["decision", "decided_by", "decided_at"])
            continue
        # Still where the merge put it: the target's link goes back to what it was (or
        # goes), then the report's own link is attached again.
        if reference in replaced:
            before = replaced[reference]
            on_target.decision = before["decision"]
            on_target.score = before["score"]
            on_target.distance_m = before["distance_m"]
            on_target.decided_by_id = before["decided_by"]
            on_target.decided_at = (
                datetime.fromisoformat(before["decided_at"]) if before["decided_at"] else None
            )
            on_target.save(
                update_fields=["decision", "score", "distance_m", "decided_by", "decided_at"]
            )
        else:
            on_target.delete()
        # Merges recorded before `was` existed: an analyst's attachment.
        decision = was.get(reference, LinkDecision.CONFIRMED)
        if own is None:
            ReportLink.objects.create(
                report=report,
                dealpoint=dealpoint,
                decision=decision,
                decided_by=actor,
                decided_at=timezone.now(),
            )
        else:
            own.decision = decision
            own.save(update_fields=["decision"])
        restored.append(reference)
    # A lent link the merge's record does not name (a merge before this record, whose target
    # already held the report): a live point never keeps a lent link.
    dealpoint.links.filter(decision=LinkDecision.MERGED).update(
        decision=LinkDecision.REJECTED, decided_by=actor, decided_at=timezone.now()
    )
    root = dealpoint.merged_root_id
    dealpoint.merged_into = None
    dealpoint.merged_root = None
    dealpoint.save(update_fields=["merged_into", "merged_root", "updated_at"])
    # The points merged into this one live in its record again.
    DealPoint.objects.filter(
        pk__in=_merged_tree(dealpoint) - {dealpoint.pk}, merged_root=root
    ).update(merged_root=dealpoint.pk)
    followed = dict(merge.details.get("followed") or {}) if merge else {}
    given_back = {
        "proposals_back": len(
            _proposals_back(
                dealpoint=dealpoint, target=target, followed=followed.get("proposed") or {}
            )
        ),
        **_alerts_back(actor=actor, dealpoint=dealpoint, target=target, followed=followed),
        "succeeded_back": _successions_back(
            actor=actor,
            dealpoint=dealpoint,
            target=target,
            predecessors=[locked.points[pk] for pk in heirs if pk in locked.points],
        ),
    }
    for point, other in ((dealpoint, target), (target, dealpoint)):
        _event(
            dealpoint=point,
            kind=EventKind.UNMERGED,
            actor=actor,
            details={"other": other.reference, "reports": restored, "stayed": stayed},
            note=note,
        )
    _refresh_activity(target)
    _refresh_activity(dealpoint)
    _audit(
        actor=actor,
        action=AuditAction.UPDATE,
        dealpoint=dealpoint,
        details={
            "unmerged": target.reference,
            "reports": restored,
            "stayed": stayed,
            **given_back,
        },
    )
    _audit(
        actor=actor,
        action=AuditAction.UPDATE,
        dealpoint=target,
        details={"unmerged_from": dealpoint.reference, "reports": restored},
    )
    return dealpoint


def _split_place_check(*, dealpoint: DealPoint, data: DealPointInput) -> None:
    """A split point stays in the département of the point it leaves (its reports are of
    that département): a position elsewhere is said on the position, before the creation's
    check of the reports would blame them. A position that cannot be placed is left to the
    creation's own message."""
    try:
        place = _place(data.latitude, data.longitude)
    except ValidationError:
        return
    elsewhere = place.commune.departement
    if elsewhere.pk == dealpoint.departement_id:
        return
    raise ValidationError(
        {
            "latitude": _(
                "Cette position est dans le département %(elsewhere)s, %(reference)s dans le "
                "département %(departement)s : un point scindé reste dans le département du "
                "point qu'il quitte, comme ses signalements. Placez le nouveau point dans le "
                "%(code)s."
            )
            % {
                "elsewhere": str(elsewhere),
                "reference": dealpoint.reference,
                "departement": str(dealpoint.departement),
                "code": dealpoint.departement.code,
            }
        }
    )


# The statuses of a point that its split-off place does not take (`dealpoint_split`).
SPLIT_STATUS_NOT_KEPT = frozenset(
    {DealPointStatus.DISMANTLED, DealPointStatus.RESURGENT, DealPointStatus.MOVED}
)


@transaction.atomic
def dealpoint_split(
    *,
    actor: User | None,
    dealpoint: DealPoint,
    reports: Sequence[Report],
    data: DealPointInput,
    note: str = "",
) -> DealPoint:
    """Split a point that was two: the given attached reports leave it for a new point
    described by `data`, with the same status (but « Signalé » for a point dismantled,
    resurgent or moved: `SPLIT_STATUS_NOT_KEPT`) and shared as the point was (the same source
    material: a split never shares it more widely); both histories say so."""
    # The reports that leave, then the point (`locks`).
    dealpoint = _for_change(actor=actor, dealpoint=dealpoint, reports=reports)
    ids = {report.pk for report in reports}
    attached = set(
        dealpoint.links.filter(decision__in=ATTACHED_DECISIONS).values_list("report_id", flat=True)
    )
    if not ids:
        raise ValidationError({"reports": _("Choisissez les signalements du nouveau point.")})
    if not ids <= attached:
        raise ValidationError(
            {"reports": _("Ces signalements ne sont pas tous rattachés à ce point.")}
        )
    if ids == attached:
        raise ValidationError(
            {
                "reports": _(
                    "Un point scindé garde au moins un signalement : si le point entier a changé "
                    "de lieu, créez le nouveau point puis passez celui-ci à « Déplacé »."
                )
            }
        )
    _split_place_check(dealpoint=dealpoint, data=data)
    moving = list(Report.objects.filter(pk__in=ids))
    ReportLink.objects.filter(dealpoint=dealpoint, report_id__in=ids).update(
        decision=LinkDecision.REJECTED, decided_by=actor, decided_at=timezone.now()
    )
    # What the place was said to be (reported, confirmed, under investigation); a dismantling,
    # a resurgence or a move were the point's, not the new place's, which starts « Signalé »
    # (born « Démantelé », it had no change to correct and no operation to cancel).
    status = (
        DealPointStatus.REPORTED if dealpoint.status in SPLIT_STATUS_NOT_KEPT else dealpoint.status
    )
    new = dealpoint_create(
        actor=actor,
        data=data,
        reports=moving,
        status=status,
        note=note,
        sharing=sharing_from_dealpoint(dealpoint),
        sharing_inherited=True,
    )
    references = [report.reference for report in moving]
    _event(
        dealpoint=dealpoint,
        kind=EventKind.SPLIT,
        actor=actor,
        details={"new": new.reference, "reports": references},
        note=note,
    )
    _event(
        dealpoint=new,
        kind=EventKind.SPLIT,
        actor=actor,
        details={"from": dealpoint.reference, "reports": references},
        note=note,
    )
    _refresh_activity(dealpoint)
    _audit(
        actor=actor,
        action=AuditAction.UPDATE,
        dealpoint=dealpoint,
        details={"split": new.reference},
    )
    return new


def input_fields() -> tuple[str, ...]:
    """The names of `DealPointInput`'s fields (forms and serializers build from them)."""
    return tuple(f.name for f in fields(DealPointInput))
