"""Writes on reports: intake (public web and mobile, call platform, landlords), follow-up with
a receipt, triage by the CROSS, and the retention purge (design §5).

Every service is keyword-only, runs in one transaction, validates with `full_clean()` and
writes its audit event inside the transaction. Nothing that identifies a reporter reaches
these functions: they never receive the request, only the parsed input.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import h3
import shapely
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from cartostup.access import policy
from cartostup.access.choices import Distribution, Marking, OrganisationKind
from cartostup.access.models import Building, Organisation, User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.territories import locator
from cartostup.territories.models import Commune, Departement, PriorityNeighbourhood

from . import photos, receipts
from .choices import (
    PUBLIC_STATUS,
    REJECTED,
    Activity,
    Channel,
    MessageAuthor,
    PeopleCount,
    Precision,
    Product,
    Status,
    TimeOfDay,
    Weekday,
)
from .models import Report, ReportMessage, ReportSequence, RetainedCount

logger = logging.getLogger(__name__)

# About 4 m: a stairwell (design §2).
H3_RESOLUTION = 13
DESCRIPTION_MAX_LENGTH = 3000
MESSAGE_MAX_LENGTH = 2000
OPEN_STATUSES = frozenset({Status.NEW, Status.QUESTION})
# Erased by the retention purge once old enough: never confirmed, or rejected.
PURGEABLE_STATUSES = (Status.NEW, Status.QUESTION, Status.SPAM, Status.UNFOUNDED)
PURGE_BATCH = 500


class ReceiptInvalid(Exception):
    """A receipt that matches no report (unknown, mistyped, or erased). `str(error)` is a
    French message; it never says which part was wrong."""


@dataclass(frozen=True)
class ReportInput:
    """What a reporter (or an operator, or a landlord) tells: the place and what was seen.

    Either `latitude`/`longitude` (a pin), or an `address` with its `commune_code` (then the
    position is the commune's representative point and the precision at most "street")."""

    latitude: float | None = None
    longitude: float | None = None
    address: str = ""
    commune_code: str | None = None
    precision: str = ""
    place_label: str = ""
    activities: list[str] = field(default_factory=list)
    online_account: str = ""
    products: list[str] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    times_of_day: list[str] = field(default_factory=list)
    people_count: str = "unknown"
    description: str = ""
    photo: UploadedFile | None = None


@dataclass(frozen=True)
class SubmittedReport:
    """A new report and its receipt in plain text: shown (or read back) once, never stored."""

    report: Report
    receipt: str


@dataclass(frozen=True)
class FollowUpMessage:
    author: str  # choices.MessageAuthor
    author_label: str
    text: str
    sent_on: date


@dataclass(frozen=True)
class FollowUp:
    """What a reporter sees with a receipt: a coarse status, never timing or triage details."""

    status: str  # choices.PublicStatus
    status_label: str
    messages: list[FollowUpMessage]
    # True while the analyst's last message is a question not answered yet.
    question_pending: bool


@dataclass(frozen=True)
class PurgeResult:
    reports: int
    messages: int
    photos: int


def report_owner_for(*, departement: Departement) -> Organisation:
    """The organisation that owns (triages) reports of a département: its active CROSS; if
    none, the active Ofast antenna covering it; else Ofast central."""
    active = Organisation.objects.filter(is_active=True).order_by("pk")
    for kind in (OrganisationKind.CROSS, OrganisationKind.OFAST_ANTENNA):
        owner = active.filter(kind=kind, national_scope=False, departements=departement).first()
        if owner is not None:
            return owner
    owner = active.filter(kind=OrganisationKind.OFAST_CENTRAL).first()
    if owner is None:
        # A configuration gap, but the reporter gets a clear answer, not a server error.
        logger.error("No organisation receives reports for département %s", departement.code)
        raise ValidationError(
            _(
                "Les signalements ne sont pas encore ouverts pour ce département. Pour une "
                "urgence, appelez le 17."
            )
        )
    return owner


# --- validation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Position:
    latitude: float
    longitude: float
    location: locator.Location
    precision: str
    at_commune: bool = False


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _day(moment: datetime) -> datetime:
    """The start of the moment's day, in local time: a reply sent at 00:30 in Paris is of that
    day, not of the day before in UTC (before the question it answers)."""
    return timezone.localtime(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def _choices_errors(data: ReportInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def unknown(name: str, values: Iterable[str], allowed: Iterable[str]) -> None:
        if not isinstance(values, list | tuple) or set(values) - set(allowed):
            errors.setdefault(name, []).append(_("Choix invalide."))

    if data.precision not in Precision.values:
        errors["precision"] = [_("Choisissez la précision du lieu indiqué.")]
    if not data.activities:
        errors["activities"] = [_("Cochez au moins une activité constatée.")]
    else:
        unknown("activities", data.activities, Activity.values)
    unknown("products", data.products, Product.values)
    unknown("days", data.days, Weekday.values)
    unknown("times_of_day", data.times_of_day, TimeOfDay.values)
    if data.people_count not in PeopleCount.values:
        errors["people_count"] = [_("Choix invalide.")]
    if (
        isinstance(data.activities, list | tuple)
        and Activity.ONLINE in data.activities
        and not data.online_account.strip()
    ):
        errors["online_account"] = [
            _("Indiquez le compte ou le pseudonyme de vente en ligne que vous avez vu.")
        ]
    lengths = {
        "description": DESCRIPTION_MAX_LENGTH,
        "address": 300,
        "place_label": 120,
        "online_account": 200,
    }
    for name, limit in lengths.items():
        if len(getattr(data, name) or "") > limit:
            errors.setdefault(name, []).append(
                _("Ce texte est trop long (%(limit)s caractères au plus).") % {"limit": limit}
            )
    for name in ("description", "address", "place_label", "online_account"):
        if "\x00" in (getattr(data, name) or ""):
            errors.setdefault(name, []).append(_("Ce texte contient un caractère invalide."))
    return errors


def _commune_point(commune: Commune) -> tuple[float, float] | None:
    """A point surely inside the commune (Paris, Lyon and Marseille: inside their
    arrondissements, which carry the geometry)."""
    blobs: list[bytes | memoryview] = [commune.geometry] if commune.geometry else []
    if not blobs:
        blobs = [
            arrondissement.geometry
            for arrondissement in commune.arrondissements.exclude(geometry__isnull=True)
            if arrondissement.geometry is not None
        ]
    if not blobs:
        return None
    geometry = shapely.union_all(shapely.from_wkb([locator.as_bytes(blob) for blob in blobs]))
    point = geometry.point_on_surface()
    return point.y, point.x


def _position(data: ReportInput) -> _Position:
    """Where the report is: the pin, or the point of the typed address's commune."""
    has_pin = data.latitude is not None or data.longitude is not None
    if has_pin:
        if data.latitude is None or data.longitude is None:
            raise ValidationError(
                {"latitude": _("Indiquez la latitude et la longitude du lieu, ou une adresse.")}
            )
        try:
            latitude, longitude = locator.validate_coordinates(data.latitude, data.longitude)
            location = locator.locate(latitude, longitude)
        except locator.OutsideTerritoryError as error:
            raise ValidationError(
                {"latitude": _("Le lieu indiqué doit se trouver en France.")}
            ) from error
        except locator.LocateError as error:
            raise ValidationError({"latitude": str(error)}) from error
        return _Position(latitude, longitude, location, data.precision)
    if not data.address.strip() and not data.commune_code:
        raise ValidationError(
            {"latitude": _("Placez un repère sur la carte, ou indiquez une adresse et sa commune.")}
        )
    if not data.commune_code:
        raise ValidationError({"commune_code": _("Choisissez la commune de cette adresse.")})
    if not data.address.strip():
        raise ValidationError({"address": _("Indiquez l'adresse ou le lieu dans cette commune.")})
    commune = Commune.objects.filter(code=data.commune_code.strip().upper()).first()
    point = _commune_point(commune) if commune is not None else None
    if point is None:
        raise ValidationError({"commune_code": _("Cette commune est inconnue.")})
    try:
        location = locator.locate(*point)
    except locator.LocateError as error:
        raise ValidationError({"commune_code": _("Cette commune est inconnue.")}) from error
    # The position is only the commune's (or the arrondissement's), kilometres from the place:
    # the coarsest precision, and marked so that no matching reads it as a place.
    return _Position(point[0], point[1], location, Precision.AREA, at_commune=True)


def _errors_merge(errors: dict[str, list[str]], error: ValidationError) -> None:
    for name, messages in error.message_dict.items():
        errors.setdefault(name, []).extend(messages)


def report_content_check(*, data: ReportInput, position: bool = True) -> None:
    """Raise `ValidationError` (French, per field) if the input cannot make a report: choices,
    the online account when "online selling" is ticked, and (if `position`) a pin in France or
    an address with a known commune. The forms call it; every submission service does too."""
    errors = _choices_errors(data)
    if position:
        try:
            _position(data)
        except ValidationError as error:
            _errors_merge(errors, error)
    if errors:
        raise ValidationError(errors)


def _validated(data: ReportInput) -> tuple[_Position, ContentFile | None]:
    """Everything checked before anything is written: choices, place, photo."""
    errors = _choices_errors(data)
    position = None
    try:
        position = _position(data)
    except ValidationError as error:
        _errors_merge(errors, error)
    photo = None
    if data.photo is not None:
        try:
            photo = photos.photo_reencode(data.photo)
        except ValidationError as error:
            errors.setdefault("photo", []).extend(error.messages)
    if errors or position is None:
        raise ValidationError(errors)
    return position, photo


# --- creation ------------------------------------------------------------------------------------


def _next_reference(departement: Departement) -> str:
    """`SIG-<département>-<number>`: the département's counter row is locked until the
    transaction ends, so concurrent submissions get distinct numbers."""
    sequence, _created = ReportSequence.objects.select_for_update().get_or_create(
        departement=departement
    )
    ReportSequence.objects.filter(pk=sequence.pk).update(last_value=F("last_value") + 1)
    sequence.refresh_from_db(fields=["last_value"])
    return f"SIG-{departement.code}-{sequence.last_value:06d}"


@dataclass(frozen=True)
class _Receipt:
    plain: str
    key: str
    secret_hash: str


def _receipt_new() -> _Receipt:
    # Computed before the transaction: Argon2 is slow on purpose and must not hold locks.
    while True:
        plain = receipts.receipt_generate()
        parsed = receipts.receipt_parse(plain)
        if not Report.objects.filter(receipt_key=parsed.key).exists():
            return _Receipt(plain, parsed.key, receipts.secret_hash(parsed.secret))


def h3_cells(latitude: float, longitude: float) -> dict[str, str]:
    """The H3 cell of a report's position (res 13) and its parents the map counts on."""
    # Each resolution from the position itself, as for deal points (`dealpoints.services.
    # cells_for`): the parent of a fine cell is not always the coarse cell of the position.
    return {
        "h3_cell": h3.latlng_to_cell(latitude, longitude, H3_RESOLUTION),
        "h3_r5": h3.latlng_to_cell(latitude, longitude, 5),
        "h3_r7": h3.latlng_to_cell(latitude, longitude, 7),
        "h3_r9": h3.latlng_to_cell(latitude, longitude, 9),
    }


def _report_create(
    *,
    data: ReportInput,
    channel: str,
    position: _Position,
    photo: ContentFile | None,
    receipt: _Receipt | None,
    actor: User | None,
    building: Building | None = None,
    address: str | None = None,
) -> Report:
    location = position.location
    commune = Commune.objects.select_related("departement").get(code=location.commune_code)
    departement = commune.departement
    qpv = (
        PriorityNeighbourhood.objects.filter(code=location.qpv_code).first()
        if location.qpv_code
        else None
    )
    stored_photo: str | None = None
    try:
        with transaction.atomic():
            report = Report(
                owner_organisation=report_owner_for(departement=departement),
                commune=commune,
                departement=departement,
                distribution=Distribution.CROSS,
                marking=Marking.AMBER,
                reference=_next_reference(departement),
                channel=channel,
                status=Status.NEW,
                received_at=_hour(timezone.now()),
                latitude=position.latitude,
                longitude=position.longitude,
                address=(data.address if address is None else address).strip(),
                precision=position.precision,
                placed_at_commune=position.at_commune,
                place_label=data.place_label.strip(),
                **h3_cells(position.latitude, position.longitude),
                priority_neighbourhood=qpv,
                building=building,
                activities=list(dict.fromkeys(data.activities)),
                online_account=data.online_account.strip(),
                products=list(dict.fromkeys(data.products)),
                days=list(dict.fromkeys(data.days)),
                times_of_day=list(dict.fromkeys(data.times_of_day)),
                people_count=data.people_count,
                description=data.description.strip(),
                receipt_key=receipt.key if receipt else None,
                receipt_hash=receipt.secret_hash if receipt else "",
            )
            report.full_clean()
            if photo is not None:
                # Written only now that everything is valid; removed below if the transaction
                # does not commit.
                report.photo.save(photo.name or "photo.jpg", photo, save=False)
                stored_photo = report.photo.name
                _file_time_coarsen(report.photo, report.received_at)
            report.save()
            # The hour only, like received_at (a phone call's exact time could identify the
            # caller through telephone records).
            audit_record(
                actor=actor,
                action=AuditAction.CREATE,
                target=report,
                details={"reference": report.reference},
                coarse_time=True,
            )
    except BaseException:
        if stored_photo:
            report.photo.storage.delete(stored_photo)
        raise
    return report


def _file_time_coarsen(field_file: Any, moment: datetime) -> None:
    """Set the stored file's times to the report's hour: a file's modification time would
    otherwise keep the exact submission time."""
    try:
        path = field_file.path
    except NotImplementedError:  # storage without local files
        return
    timestamp = moment.timestamp()
    os.utime(path, (timestamp, timestamp))


def report_submit_public(*, data: ReportInput, channel: Channel | str) -> SubmittedReport:
    """An anonymous resident reports through the web form (`Channel.WEB`) or the public API
    (`Channel.MOBILE`). Returns the report and its plain receipt (shown once).

    Raises `ValidationError` (French message per field) and stores nothing on invalid input.
    The caller has already checked the proof of work and the rate limits; it must not pass
    anything about the request (address, headers). The audit event has no actor and names
    only the report."""
    if channel not in {Channel.WEB, Channel.MOBILE}:
        raise ValueError(f"not a public channel: {channel}")
    position, photo = _validated(data)
    receipt = _receipt_new()
    report = _report_create(
        data=data, channel=channel, position=position, photo=photo, receipt=receipt, actor=None
    )
    return SubmittedReport(report=report, receipt=receipt.plain)


def report_submit_by_operator(*, actor: User, data: ReportInput) -> SubmittedReport:
    """A call-platform operator keys in a phone call (`Capability.KEY_IN_CALLS`, 404
    otherwise). The receipt is returned to be read back to the caller; nothing about the
    caller is asked or stored."""
    policy.require(actor, policy.Capability.KEY_IN_CALLS)
    position, photo = _validated(data)
    receipt = _receipt_new()
    report = _report_create(
        data=data,
        channel=Channel.PHONE,
        position=position,
        photo=photo,
        receipt=receipt,
        actor=actor,
    )
    return SubmittedReport(report=report, receipt=receipt.plain)


def report_submit_by_landlord(*, actor: User, building: Building, data: ReportInput) -> Report:
    """A landlord referent reports on one of its own buildings (404 otherwise). The position,
    commune and address come from the building; `data.place_label` names the stairwell. No
    receipt: the landlord follows its reports in the application."""
    building = policy.access_object(
        Building, actor=actor, pk=building.pk, action=policy.Action.CHANGE
    )
    precision = data.precision or Precision.BUILDING
    data = replace(data, precision=precision, latitude=None, longitude=None)
    errors = _choices_errors(data)
    photo = None
    if data.photo is not None:
        try:
            photo = photos.photo_reencode(data.photo)
        except ValidationError as error:
            errors.setdefault("photo", []).extend(error.messages)
    if errors:
        raise ValidationError(errors)
    try:
        location = locator.locate(building.latitude, building.longitude)
    except locator.LocateError as error:
        raise ValidationError({"building": str(error)}) from error
    position = _Position(building.latitude, building.longitude, location, precision)
    return _report_create(
        data=data,
        channel=Channel.LANDLORD,
        position=position,
        photo=photo,
        receipt=None,
        actor=actor,
        building=building,
        address=building.address,
    )


# --- follow-up with a receipt --------------------------------------------------------------------


def _wrong_receipt() -> ReceiptInvalid:
    return ReceiptInvalid(
        _(
            "Ce numéro de suivi ne correspond à aucun signalement en cours. Vérifiez-le "
            "(24 caractères) ; un signalement non retenu est effacé après quelques mois."
        )
    )


def report_for_receipt(receipt: str) -> Report:
    """The report a receipt opens; `ReceiptInvalid` otherwise (same message whether the key
    or the secret is wrong, and the same Argon2 time)."""
    try:
        parsed = receipts.receipt_parse(receipt)
    except receipts.MalformedReceipt as error:
        raise ReceiptInvalid(str(error)) from error
    report = Report.objects.filter(receipt_key=parsed.key).first()
    if not receipts.secret_verify(report.receipt_hash if report else None, parsed.secret):
        raise _wrong_receipt()
    assert report is not None
    return report


def report_followup(*, receipt: str) -> FollowUp:
    """The coarse status and the messages of the report a receipt opens (read-only).

    Raises `ReceiptInvalid` (French message) for a wrong receipt; the caller rate-limits."""
    report = report_for_receipt(receipt)
    public = PUBLIC_STATUS[Status(report.status)]
    messages = [
        FollowUpMessage(
            author=message.author,
            author_label=str(MessageAuthor(message.author).label),
            text=message.text,
            sent_on=timezone.localdate(message.sent_at),
        )
        for message in report.messages.all()
    ]
    return FollowUp(
        status=public.value,
        status_label=str(public.label),
        messages=messages,
        question_pending=bool(messages) and messages[-1].author == MessageAuthor.ANALYST,
    )


def _message_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Écrivez votre message.")})
    if len(text) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {
                "text": _("Ce texte est trop long (%(limit)s caractères au plus).")
                % {"limit": MESSAGE_MAX_LENGTH}
            }
        )
    if "\x00" in text:
        raise ValidationError({"text": _("Ce texte contient un caractère invalide.")})
    return text


def _next_message_sequence(report: Report) -> int:
    """The rank of the next message in the report's thread (its row locked by the caller)."""
    last = ReportMessage.objects.filter(report=report).aggregate(last=Max("sequence"))["last"]
    return (last or 0) + 1


@transaction.atomic
def report_messages_read(*, actor: User, report: Report) -> bool:
    """An analyst who may triage the report opened it: the reporter's messages are read.
    Returns whether there were unread ones (audited then)."""
    policy.require(actor, policy.Capability.TRIAGE_REPORTS)
    policy.access_object(
        Report.objects.all(), actor=actor, pk=report.pk, action=policy.Action.CHANGE
    )
    read = Report.objects.filter(pk=report.pk, message_unread=True).update(message_unread=False)
    if read:
        report.message_unread = False
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=report,
            details={"reference": report.reference, "messages_read": True},
        )
    return bool(read)


def report_reply(*, receipt: str, text: str) -> ReportMessage:
    """The reporter writes to the analyst (typically answering a question), at any time while
    the report exists. Raises `ReceiptInvalid` or `ValidationError`. The message's date is
    kept to the day."""
    text = _message_text(text)
    report = report_for_receipt(receipt)
    with transaction.atomic():
        # Locked so that two replies at once do not take the same rank in the thread.
        report = Report.objects.select_for_update().get(pk=report.pk)
        message = ReportMessage(
            report=report,
            sequence=_next_message_sequence(report),
            author=MessageAuthor.REPORTER,
            text=text,
            sent_at=_day(timezone.now()),
        )
        message.full_clean()
        message.save()
        report.message_unread = True
        report.save(update_fields=["message_unread"])
        audit_record(
            actor=None,
            action=AuditAction.CREATE,
            target=message,
            details={"reference": report.reference},
            coarse_time=True,
        )
    return message


# --- triage --------------------------------------------------------------------------------------


def _report_for_triage(*, actor: User, report: Report) -> Report:
    """Authorise (404 otherwise), then lock the row until the transaction ends. Two steps
    because the policy's queryset is DISTINCT, which PostgreSQL refuses to lock."""
    policy.require(actor, policy.Capability.TRIAGE_REPORTS)
    policy.access_object(
        Report.objects.all(), actor=actor, pk=report.pk, action=policy.Action.CHANGE
    )
    locked = Report.objects.select_for_update().get(pk=report.pk)
    if locked.status not in OPEN_STATUSES:
        raise ValidationError(
            {
                "status": _("Ce signalement a déjà été trié (%(status)s).")
                % {"status": locked.get_status_display()}
            }
        )
    return locked


def _triage(*, actor: User, report: Report, status: str, note: str) -> Report:
    previous = report.status
    report.status = status
    report.triaged_at = timezone.now()
    report.triaged_by = actor
    if note.strip():
        report.triage_note = note.strip()
    # A report placed at its commune's point waits for no matching (`Report.placed_at_commune`).
    report.awaiting_matching = status == Status.ACCEPTED and not report.placed_at_commune
    report.full_clean()
    report.save(
        update_fields=["status", "triaged_at", "triaged_by", "triage_note", "awaiting_matching"]
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=report,
        details={"reference": report.reference, "status": status, "previous_status": previous},
    )
    return report


@transaction.atomic
def report_ask_question(*, actor: User, report: Report, text: str) -> ReportMessage:
    """A triaging analyst asks the reporter a question (status QUESTION). The reporter reads
    it with the receipt; a report without receipt (landlord) cannot be asked."""
    text = _message_text(text)
    report = _report_for_triage(actor=actor, report=report)
    if not report.receipt_key:
        raise ValidationError(
            {
                "text": _(
                    "Ce signalement n'a pas de numéro de suivi : personne ne pourrait lire "
                    "la question."
                )
            }
        )
    message = ReportMessage(
        report=report,
        sequence=_next_message_sequence(report),
        author=MessageAuthor.ANALYST,
        analyst=actor,
        text=text,
        sent_at=timezone.now(),
    )
    message.full_clean()
    message.save()
    if report.status != Status.QUESTION:
        _triage(actor=actor, report=report, status=Status.QUESTION, note="")
    else:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=report,
            details={"reference": report.reference, "status": Status.QUESTION},
        )
    return message


@transaction.atomic
def report_accept(*, actor: User, report: Report, note: str = "") -> Report:
    """The analyst accepts the report (status ACCEPTED) and it waits for deal-point matching
    (`awaiting_matching=True`): the matching of the "Deal points" issue will consume it."""
    report = _report_for_triage(actor=actor, report=report)
    return _triage(actor=actor, report=report, status=Status.ACCEPTED, note=note)


@transaction.atomic
def report_reject(*, actor: User, report: Report, status: Status | str, note: str = "") -> Report:
    """The analyst rejects the report as spam or unfounded (`Status.SPAM` or
    `Status.UNFOUNDED`). Rejected reports are erased by the retention purge."""
    if status not in {Status.SPAM, Status.UNFOUNDED}:
        raise ValidationError({"status": _("Choisissez « indésirable » ou « infondé ».")})
    report = _report_for_triage(actor=actor, report=report)
    return _triage(actor=actor, report=report, status=status, note=note)


# --- placing a report given by its address alone -------------------------------------------------

# Decimals of a placed position (about 0.1 m), as stored and as audited.
PLACE_DECIMALS = 6


@dataclass(frozen=True)
class Placement:
    """Where an analyst places a report given by its address alone: checked, not written
    (`report_place_check`)."""

    latitude: float
    longitude: float
    precision: str
    commune: Commune
    qpv: PriorityNeighbourhood | None

    def fields(self) -> dict[str, Any]:
        """The report's fields this placement sets (H3 cells, commune and QPV included)."""
        return {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "precision": self.precision,
            "commune": self.commune,
            "priority_neighbourhood": self.qpv,
            "placed_at_commune": False,
            "placed_by_analyst": True,
            **h3_cells(self.latitude, self.longitude),
        }


def _report_for_placing(*, actor: User, report: Report, lock: bool) -> Report:
    """Authorise (404 otherwise) and read the report (locked until the transaction ends if
    `lock`); refuse it unless it stands at its commune's point or was placed by an analyst
    (placed again: a wrong placing is corrected), never a reporter's pin."""
    policy.require(actor, policy.Capability.TRIAGE_REPORTS)
    policy.access_object(
        Report.objects.all(), actor=actor, pk=report.pk, action=policy.Action.CHANGE
    )
    # The report's row only: no join, which PostgreSQL would lock too (a département's row).
    report = (Report.objects.select_for_update() if lock else Report.objects).get(pk=report.pk)
    if not (report.placed_at_commune or report.placed_by_analyst):
        # The reporter's pin is part of the report.
        raise ValidationError(
            _(
                "Seul un signalement donné par son adresse seulement se place. Celui-ci a un "
                "repère posé par le signalant : c'est un élément du signalement, il ne se "
                "déplace pas."
            ),
            code="pinned",
        )
    if report.status in REJECTED:
        raise ValidationError(
            _("Ce signalement est rejeté (%(status)s) : il n'y a rien à placer.")
            % {"status": report.get_status_display()},
            code="rejected",
        )
    return report


def _placement(*, report: Report, latitude: Any, longitude: Any, precision: str) -> Placement:
    """Validate a placing (French message per field): a position in France, in the report's
    département, and a precision among the choices."""
    errors: dict[str, list[str]] = {}
    if precision not in Precision.values:
        errors["precision"] = [_("Choisissez la précision du lieu placé.")]
    location = None
    if latitude is None or longitude is None:
        errors["latitude"] = [
            _(
                "Cliquez sur la carte à l'adresse indiquée, ou saisissez la latitude et la "
                "longitude."
            )
        ]
    else:
        try:
            latitude, longitude = locator.validate_coordinates(latitude, longitude)
            location = locator.locate(latitude, longitude)
        except locator.OutsideTerritoryError:
            errors["latitude"] = [_("Le lieu placé doit se trouver en France.")]
        except locator.LocateError as error:
            errors["latitude"] = [str(error)]
    commune = None
    if location is not None:
        commune = Commune.objects.select_related("departement").get(code=location.commune_code)
        if commune.departement_id != report.departement_id:
            # The département decides who triages and who sees the report: placing it
            # elsewhere would hand it to others. An address of another département is a
            # report to reject, or to have given again there.
            errors["latitude"] = [
                _(
                    "Ce lieu est dans le département %(placed)s (%(commune)s), pas dans celui du "
                    "signalement (%(departement)s) : un signalement reste dans le département qui "
                    "le trie. Vérifiez l'adresse indiquée et placez le repère dans le "
                    "%(departement)s."
                )
                % {
                    "placed": commune.departement.code,
                    "commune": commune.name,
                    "departement": report.departement.code,
                }
            ]
    if errors or commune is None:
        raise ValidationError(errors)
    qpv = (
        PriorityNeighbourhood.objects.filter(code=location.qpv_code).first()
        if location is not None and location.qpv_code
        else None
    )
    return Placement(
        latitude=round(latitude, PLACE_DECIMALS),
        longitude=round(longitude, PLACE_DECIMALS),
        precision=precision,
        commune=commune,
        qpv=qpv,
    )


def report_place_check(
    *, actor: User, report: Report, latitude: Any, longitude: Any, precision: str
) -> Placement:
    """What `report_place` would set, authorised (404 otherwise) and checked, without writing:
    a flow reads it to decide the matching before the placing's audit event (`dealpoints.
    locks`). Raises `ValidationError` as `report_place` does."""
    report = _report_for_placing(actor=actor, report=report, lock=False)
    return _placement(report=report, latitude=latitude, longitude=longitude, precision=precision)


@transaction.atomic
def report_place(
    *, actor: User, report: Report, latitude: Any, longitude: Any, precision: str
) -> Report:
    """A triaging analyst places a report given by its address alone (`placed_at_commune`),
    or places again one an analyst placed (`placed_by_analyst`: placed wrongly): the pin read
    from the address, in France and in the report's département, with the precision chosen.
    Its H3 cells, commune and QPV follow; it is no longer marked as placed at its commune,
    and an accepted report waits for the matching again (`awaiting_matching`;
    `dealpoints.flows.report_place_and_match` matches it at once, and refuses to place again
    a report attached to a point). A report pinned by its reporter is refused: the reporter's
    pin is evidence, never moved. The former position is kept in the audit event (`again`
    for a placing corrected). Raises `ValidationError` (French) and writes nothing on
    refusal."""
    report = _report_for_placing(actor=actor, report=report, lock=True)
    placement = _placement(
        report=report, latitude=latitude, longitude=longitude, precision=precision
    )
    again = report.placed_by_analyst
    former = [round(report.latitude, PLACE_DECIMALS), round(report.longitude, PLACE_DECIMALS)]
    fields = placement.fields()
    for name, value in fields.items():
        setattr(report, name, value)
    report.awaiting_matching = report.status == Status.ACCEPTED
    report.full_clean()
    report.save(update_fields=[*fields, "awaiting_matching"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=report,
        details={
            "reference": report.reference,
            "placed": {"from": former, "to": [placement.latitude, placement.longitude]},
            "precision": placement.precision,
            **({"again": True} if again else {}),
        },
    )
    return report


# --- retention -----------------------------------------------------------------------------------


def _month(moment: datetime) -> date:
    return timezone.localtime(moment).date().replace(day=1)


def reports_purge(*, now: datetime | None = None) -> PurgeResult:
    """Erase unconfirmed (NEW, QUESTION) and rejected (SPAM, UNFOUNDED) reports received more
    than `CARTOSTUP_REPORT_RETENTION_DAYS` days ago, with their messages and photo files,
    after adding them to the anonymous `RetainedCount`s. Accepted reports stay.

    Works in batches, one transaction each (counts, deletion and audit event together);
    photo files are deleted once their batch has committed."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CARTOSTUP_REPORT_RETENTION_DAYS)
    total = PurgeResult(reports=0, messages=0, photos=0)
    while True:
        with transaction.atomic():
            rows = list(
                Report.objects.filter(received_at__lt=cutoff, status__in=PURGEABLE_STATUSES)
                .select_for_update()
                .order_by("pk")
                .values_list(
                    "pk", "departement__code", "received_at", "channel", "status", "photo"
                )[:PURGE_BATCH]
            )
            if not rows:
                return total
            pks = [row[0] for row in rows]
            counts = Counter((row[1], _month(row[2]), row[3], row[4]) for row in rows)
            for (departement_code, month, channel, status), count in sorted(counts.items()):
                retained, _created = RetainedCount.objects.select_for_update().get_or_create(
                    departement_code=departement_code, month=month, channel=channel, status=status
                )
                RetainedCount.objects.filter(pk=retained.pk).update(count=F("count") + count)
            messages, _details = ReportMessage.objects.filter(report_id__in=pks).delete()
            Report.objects.filter(pk__in=pks).delete()
            photo_names = [row[5] for row in rows if row[5]]
            audit_record(
                actor=None,
                action=AuditAction.DELETE,
                object_type=Report._meta.label_lower,
                details={
                    "purge": "retention",
                    "reports": len(pks),
                    "messages": messages,
                    "photos": len(photo_names),
                    "received_before": cutoff,
                },
            )
            transaction.on_commit(partial(_photos_delete, photo_names))
        total = PurgeResult(
            reports=total.reports + len(pks),
            messages=total.messages + messages,
            photos=total.photos + len(photo_names),
        )


def _photos_delete(names: list[str]) -> None:
    storage = Report._meta.get_field("photo").storage  # type: ignore[attr-defined]
    for name in names:
        # One failure must not leave the other erased reports' photos on disk.
        try:
            storage.delete(name)
        except OSError:
            logger.exception("Could not delete an erased report's photo file")
