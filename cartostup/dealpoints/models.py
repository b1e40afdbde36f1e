"""Deal points (points de deal): one place where drugs are sold, built from many reports,
followed from its first report to its dismantling, and watched for its return (issue 4).

Positions are plain WGS84 latitude/longitude with H3 cells indexed at the resolutions the map
aggregates on (design §2): res 5 for France, res 7 for a département, res 9 for a town and for
matching candidates, res 13 (a stairwell) for the point itself.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from cartostup.access.models import Building, Organisation, ProtectedRecord, User
from cartostup.reports.models import Report
from cartostup.territories.models import PriorityNeighbourhood

from .choices import (
    ATTACHED_DECISIONS,
    AlertKind,
    AlertStatus,
    Confidence,
    DealPointStatus,
    DistributionChannel,
    EventKind,
    LinkDecision,
    OperationKind,
    OperationOutcome,
    Precision,
    ProposalStatus,
)

# The resolutions stored beside every position (see the module docstring).
H3_POINT = 13
H3_NATIONAL = 5
H3_DEPARTEMENT = 7
H3_TOWN = 9


# The code a landlord is told instead of the point's reference and id (both sequences, which
# would tell how many points were opened in between): ten symbols of Crockford's base 32 (no
# I, L, O or U to misread), 50 random bits, so that two points of 100,000 share one with a
# chance of about 4 in a million (the unique constraint then refuses the second).
PARTNER_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_partner_code() -> str:
    """A random partner code, e.g. « 7K3FQ-9M2XA »."""
    symbols = "".join(secrets.choice(PARTNER_CODE_ALPHABET) for _ in range(10))
    return f"{symbols[:5]}-{symbols[5:]}"


def normalise_reference(text: str | None) -> str:
    """A platform reference as a person types it (« pd-13-0042 », spaces around) as the
    platform writes it (« PD-13-0042 »): references are read without case everywhere (the
    merge's target, a successor, an import's line)."""
    return (text or "").strip().upper()


# Crockford's reading of letters people type for digits.
_MISTYPED = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalise_partner_code(text: str) -> str | None:
    """A partner code as a person types it (small letters, without its dash, with spaces, an
    O for a zero) in its stored form, or None when the text cannot be one."""
    compact = "".join(text.split()).replace("-", "").upper().translate(_MISTYPED)
    if len(compact) != 10 or any(symbol not in PARTNER_CODE_ALPHABET for symbol in compact):
        return None
    return f"{compact[:5]}-{compact[5:]}"


class H3Cells(models.Model):
    """A position and its H3 cells at every resolution the map and the matching use."""

    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    h3_cell = models.CharField(_("cellule H3 (rés. 13)"), max_length=16, db_index=True)
    h3_r5 = models.CharField(max_length=16, db_index=True, editable=False)
    h3_r7 = models.CharField(max_length=16, db_index=True, editable=False)
    h3_r9 = models.CharField(max_length=16, db_index=True, editable=False)
    # The parents of `h3_r9` along H3's own hierarchy, which are not always the cells of the
    # position at those resolutions (`h3_r5`, `h3_r7`): the hexagons of the roles that only
    # count are summed along that hierarchy, so that their zooms add up, and SQL groups by
    # these at the wide zooms instead of by `h3_r9` (`map_layers.consistent_groups`).
    h3_p5 = models.CharField(max_length=16, editable=False, default="")
    h3_p7 = models.CharField(max_length=16, editable=False, default="")

    class Meta:
        abstract = True


class DealPoint(ProtectedRecord, H3Cells):
    """One deal point. Owned by the CROSS of its département; distributed to the
    law-enforcement services of the territory (set by the services)."""

    reference = models.CharField(_("référence"), max_length=20, unique=True)
    partner_code = models.CharField(
        _("code partenaire"),
        max_length=11,
        unique=True,
        default=new_partner_code,
        editable=False,
        help_text=_("Ce que le bailleur connaît du point à la place de sa référence."),
    )
    name = models.CharField(
        _("nom d'usage"), max_length=120, blank=True, help_text=_("Ex. : « le four du bât. B »")
    )
    status = models.CharField(
        _("statut"),
        max_length=15,
        choices=DealPointStatus.choices,
        default=DealPointStatus.REPORTED,
        db_index=True,
    )
    precision = models.CharField(_("précision"), max_length=10, choices=Precision.choices)
    address = models.CharField(_("adresse"), max_length=300, blank=True)
    building_label = models.CharField(_("bâtiment"), max_length=60, blank=True)
    stairwell_label = models.CharField(_("cage d'escalier"), max_length=60, blank=True)
    building = models.ForeignKey(
        Building,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dealpoints",
        verbose_name=_("bâtiment du bailleur"),
    )
    priority_neighbourhood = models.ForeignKey(
        PriorityNeighbourhood,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("QPV"),
    )

    channel = models.CharField(
        _("mode de distribution"),
        max_length=10,
        choices=DistributionChannel.choices,
        default=DistributionChannel.FIXED,
    )
    # Lists of choice values: choices.Product, ObservedRole; opening hours as "day:time"
    # tokens of choices.Weekday and choices.TimeOfDay ("fri:evening").
    products = models.JSONField(_("produits"), default=list, blank=True)
    opening_hours = models.JSONField(_("horaires d'ouverture"), default=list, blank=True)
    observed_roles = models.JSONField(_("rôles observés"), default=list, blank=True)
    estimated_daily_turnover = models.PositiveIntegerField(
        _("chiffre d'affaires quotidien estimé (€)"), null=True, blank=True
    )
    confidence = models.CharField(
        _("fiabilité"), max_length=10, choices=Confidence.choices, default=Confidence.LOW
    )
    notes = models.TextField(_("notes de l'analyste"), max_length=5000, blank=True)

    # The point that took over after a move (status MOVED).
    successor = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="predecessors",
        verbose_name=_("point successeur"),
    )
    # Set while the point is merged into another (reversible: `dealpoint_unmerge`). A merged
    # point leaves the map and the lists; its reports count for the point it was merged into.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_points",
        verbose_name=_("fusionné dans"),
    )
    # While merged: the point standing on its own at the end of `merged_into` (a point merged
    # into one that was then merged in turn). Kept by `services.dealpoint_merge` and
    # `dealpoint_unmerge`; the map counts a merged point's operations as those of that one place.
    merged_root = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    first_reported_at = models.DateTimeField(_("premier signalement"), null=True, blank=True)
    last_activity_at = models.DateTimeField(
        _("dernière activité"), null=True, blank=True, db_index=True
    )
    # The last report attached (or the first report an imported map gave): the activity a
    # landlord is told, by its week. Never an operation: a surveillance or a search would
    # move the landlord's week while the point stays "confirmed" for it.
    last_reported_at = models.DateTimeField(_("dernier signalement"), null=True, blank=True)
    # What an imported map said (its first report and last activity), kept apart from the
    # dates above, which are recomputed from the reports and operations each time
    # (`services._refresh_activity`): a report, an operation or its cancellation adds to what
    # the map said and never erases it.
    imported_first_reported_at = models.DateTimeField(
        _("premier signalement selon la carte importée"), null=True, blank=True
    )
    imported_last_activity_at = models.DateTimeField(
        _("dernière activité selon la carte importée"), null=True, blank=True
    )
    status_changed_at = models.DateTimeField(_("statut depuis le"))
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    reports: models.ManyToManyField[Report, ReportLink] = models.ManyToManyField(
        Report, through="ReportLink", related_name="dealpoints", blank=True
    )

    class Meta:
        ordering = ["reference"]
        verbose_name = _("point de deal")
        verbose_name_plural = _("points de deal")
        indexes = [
            models.Index(fields=["departement", "status"]),
            models.Index(fields=["status", "h3_r9"]),
        ]

    def __str__(self) -> str:
        return self.reference


class DealPointSequence(models.Model):
    """The last reference number given in a département (`PD-13-0042`), locked while a point
    is created so that numbers are never given twice."""

    departement_code = models.CharField(max_length=3, unique=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.departement_code}: {self.last_value}"


class ReportLink(models.Model):
    """A report tied to a deal point: attached (automatically or by an analyst), proposed,
    or rejected. Kept when undone (decision REJECTED), so the matching never proposes the same
    pair again and the history shows who decided."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="dealpoint_links")
    dealpoint = models.ForeignKey(DealPoint, on_delete=models.CASCADE, related_name="links")
    decision = models.CharField(_("décision"), max_length=10, choices=LinkDecision.choices)
    score = models.FloatField(_("score de rapprochement"), null=True, blank=True)
    distance_m = models.FloatField(_("distance (m)"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    # Set by `services.report_attach` (not stored): the references of the points the report
    # left for this one, for the page to say so.
    moved_from: tuple[str, ...] = ()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("rattachement d'un signalement")
        verbose_name_plural = _("rattachements de signalements")
        constraints = [
            models.UniqueConstraint(fields=["report", "dealpoint"], name="one_link_per_pair"),
            # A report is attached to one point at most: a merged point lends its reports to
            # the point it was merged into (decision MERGED), so this holds for merges too.
            models.UniqueConstraint(
                fields=["report"],
                condition=models.Q(decision__in=sorted(ATTACHED_DECISIONS)),
                name="one_attachment_per_report",
            ),
        ]
        indexes = [models.Index(fields=["dealpoint", "decision"])]

    def __str__(self) -> str:
        return f"{self.report_id} → {self.dealpoint_id} ({self.decision})"


class OperationQuerySet(models.QuerySet["Operation"]):
    def standing(self) -> OperationQuerySet:
        """The operations that count: not cancelled."""
        return self.filter(cancelled_at__isnull=True)


class Operation(models.Model):
    """A police operation on a deal point: a raid (« pilonnage »), arrests, a search."""

    dealpoint = models.ForeignKey(DealPoint, on_delete=models.PROTECT, related_name="operations")
    kind = models.CharField(_("type d'opération"), max_length=15, choices=OperationKind.choices)
    occurred_on = models.DateField(_("date"), db_index=True)
    service = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", verbose_name=_("service")
    )
    outcome = models.CharField(_("résultat"), max_length=15, choices=OperationOutcome.choices)
    arrests = models.PositiveIntegerField(_("personnes interpellées"), default=0)
    notes = models.TextField(_("compte rendu"), max_length=3000, blank=True)
    recorded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    # An operation recorded by mistake (wrong point, never happened) is cancelled, never
    # deleted: it stays on the record, struck out with its reason, and no longer counts
    # (activity, map layer, exports, indicators). `services.operation_cancel`.
    cancelled_at = models.DateTimeField(_("annulée le"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.TextField(_("motif de l'annulation"), max_length=2000, blank=True)

    objects = OperationQuerySet.as_manager()

    # Set by `services.operation_record` (not stored): the status the point kept although the
    # outcome was "dismantled" (already dismantled, or moved), for the page to say so.
    status_kept: str = ""
    # Set by `services.operation_cancel` (not stored): the status the point went back to when
    # the cancelled operation's dismantling was still its last status change, or the other
    # operation that counts and dismantles the point too (the status then stays).
    status_restored: str = ""
    dismantled_by: Operation | None = None

    class Meta:
        ordering = ["-occurred_on", "-pk"]
        verbose_name = _("opération")
        verbose_name_plural = _("opérations")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} – {self.occurred_on}"


class DealPointEvent(models.Model):
    """One entry of a deal point's history: dated, attributed, never changed or deleted."""

    dealpoint = models.ForeignKey(DealPoint, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=15, choices=DealPointStatus.choices, blank=True)
    to_status = models.CharField(max_length=15, choices=DealPointStatus.choices, blank=True)
    # References and changed values: {"field": [old, new]}, {"report": "SIG-13-000042"}...
    details = models.JSONField(default=dict, blank=True)
    note = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name = _("événement")
        verbose_name_plural = _("historique")

    def __str__(self) -> str:
        return f"{self.dealpoint_id} {self.kind} {self.occurred_at:%Y-%m-%d}"


class Proposal(ProtectedRecord, H3Cells):
    """A proposed new deal point: a cluster of accepted reports that match no point. Owned by
    the CROSS of the département, like the point it may become."""

    precision = models.CharField(max_length=10, choices=Precision.choices)
    reports = models.ManyToManyField(Report, related_name="proposals")
    status = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.OPEN, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The deal point made from it (accepted) or the analyst who dismissed it.
    dealpoint = models.ForeignKey(
        DealPoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("proposition de point de deal")
        verbose_name_plural = _("propositions de points de deal")

    def __str__(self) -> str:
        return f"Proposition {self.pk}"


class Alert(ProtectedRecord):
    """A resurgence (a report near a dismantled point) or a possible move (a new point near a
    recently dismantled one), for the CROSS that owns the dismantled point."""

    kind = models.CharField(max_length=12, choices=AlertKind.choices)
    status = models.CharField(
        max_length=10, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_index=True
    )
    # The dismantled point, and what came up near it (a report, or a new point).
    dealpoint = models.ForeignKey(DealPoint, on_delete=models.CASCADE, related_name="alerts")
    report = models.ForeignKey(
        Report, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    candidate = models.ForeignKey(
        DealPoint, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    distance_m = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    # Set by `flows.alert_confirm` (not stored): the points the report left, as on ReportLink;
    # whether the point was already resurgent (another alert confirmed it first).
    moved_from: tuple[str, ...] = ()
    already_resurgent: bool = False

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("alerte")
        verbose_name_plural = _("alertes")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} – {self.dealpoint_id}"
