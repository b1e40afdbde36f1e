"""Reports (signalements): anonymous tips from the web, the mobile app, the call platform and
social landlords, their follow-up messages and their triage (design §5).

Nothing here identifies a reporter: no IP address, user agent, account, device position or exact
submission time (kept to the hour). The receipt is stored as a public lookup key plus a slow hash
of its secret part."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from cartostup.access.models import Building, ProtectedRecord, User
from cartostup.territories.models import Departement, PriorityNeighbourhood

from .choices import Channel, MessageAuthor, PeopleCount, Precision, Status


class Report(ProtectedRecord):
    """One report. Owned by the CROSS of its département, distributed to the CROSS and Ofast
    covering it (set by the services)."""

    reference = models.CharField(_("référence"), max_length=30, unique=True)
    channel = models.CharField(_("canal"), max_length=10, choices=Channel.choices)
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.NEW, db_index=True
    )
    # Received time, truncated to the hour: precise enough for indicators, too coarse to match a
    # submission against network or phone logs.
    received_at = models.DateTimeField(_("reçu le (à l'heure près)"), db_index=True)

    # Where: what the reporter pinned or typed, never the reporter's own position.
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    address = models.CharField(_("adresse indiquée"), max_length=300, blank=True)
    precision = models.CharField(_("précision"), max_length=10, choices=Precision.choices)
    # A report given by its address only (no pin): its position is its commune's (or
    # arrondissement's) point, kilometres from the place; only the address says where. The
    # matching leaves it to the analyst (`dealpoints.flows`: never attached, proposed,
    # clustered or alerted from that point).
    placed_at_commune = models.BooleanField(
        _("placé au point de sa commune (adresse seulement)"), default=False
    )
    # Placed by an analyst from its address (`services.report_place`), not pinned by the
    # reporter: a wrong placing may be corrected (placed again), a reporter's pin never.
    placed_by_analyst = models.BooleanField(_("placé par un analyste"), default=False)
    place_label = models.CharField(_("bâtiment, cage d'escalier"), max_length=120, blank=True)
    h3_cell = models.CharField(_("cellule H3 (rés. 13)"), max_length=16, db_index=True)
    # Parents of h3_cell the map counts on (France, a département, a town): one GROUP BY on
    # an indexed column instead of computing parents of a million reports per request.
    h3_r5 = models.CharField(max_length=16, db_index=True, blank=True, default="", editable=False)
    h3_r7 = models.CharField(max_length=16, db_index=True, blank=True, default="", editable=False)
    h3_r9 = models.CharField(max_length=16, db_index=True, blank=True, default="", editable=False)
    priority_neighbourhood = models.ForeignKey(
        PriorityNeighbourhood,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("QPV"),
    )
    building = models.ForeignKey(
        Building,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("bâtiment du bailleur"),
    )

    # What: lists of choice values (choices.Activity, Product, Weekday, TimeOfDay).
    activities = models.JSONField(_("activités constatées"), default=list)
    online_account = models.CharField(_("compte de vente en ligne"), max_length=200, blank=True)
    products = models.JSONField(_("produits"), default=list, blank=True)
    days = models.JSONField(_("jours"), default=list, blank=True)
    times_of_day = models.JSONField(_("moments de la journée"), default=list, blank=True)
    people_count = models.CharField(
        _("nombre de personnes"),
        max_length=10,
        choices=PeopleCount.choices,
        default=PeopleCount.UNKNOWN,
    )
    description = models.TextField(_("description"), max_length=3000, blank=True)
    photo = models.ImageField(_("photo (réencodée)"), upload_to="reports/%Y/%m/", blank=True)

    # Receipt: `receipt_key` is the public first part (lookup), `receipt_hash` the Argon2 hash of
    # the secret part. No receipt for landlord reports (the landlord follows them in the app).
    receipt_key = models.CharField(max_length=16, unique=True, null=True, blank=True)
    receipt_hash = models.CharField(max_length=200, blank=True)

    # Triage.
    triaged_at = models.DateTimeField(_("trié le"), null=True, blank=True)
    triaged_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    triage_note = models.TextField(_("note de tri (interne)"), blank=True)
    # Set when the report is accepted and waits for deal-point matching (issue "Deal points").
    awaiting_matching = models.BooleanField(default=False, db_index=True)
    # The reporter wrote since an analyst who may triage it last opened it (`report_reply`,
    # cleared by `report_messages_read`): a message on a report already triaged is not lost.
    message_unread = models.BooleanField(
        _("message du signalant non lu"), default=False, db_index=True
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("signalement")
        verbose_name_plural = _("signalements")
        indexes = [models.Index(fields=["departement", "status", "received_at"])]

    def __str__(self) -> str:
        return self.reference


class ReportMessage(models.Model):
    """A question from an analyst or an answer from the reporter (via the receipt).

    Its key is random, not a number: numbers given in insertion order across all reports would
    place a reporter's reply (dated to the day) between analysts' messages of other reports,
    whose times are exact, in the database and in every backup. Order within a thread is
    `sequence` (1, 2, ...), per report."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="messages")
    # Rank in the report's thread, given while the report's row is locked.
    sequence = models.PositiveIntegerField(_("rang dans l'échange"), editable=False)
    author = models.CharField(_("auteur"), max_length=10, choices=MessageAuthor.choices)
    analyst = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField(_("message"), max_length=2000)
    # Day precision only for the reporter's messages (same reason as received_at).
    sent_at = models.DateTimeField(_("envoyé le"))

    class Meta:
        # Order written: a reporter's message is dated to the day only, so its `sent_at` sorts
        # before an analyst's question sent earlier the same day.
        ordering = ["report", "sequence"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["report", "sequence"], name="report_message_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.report} – {self.get_author_display()}"


class PowChallenge(models.Model):
    """A single-use proof-of-work challenge for public submissions (in the database so that
    every worker process sees it; design: nothing may assume one process)."""

    value = models.CharField(max_length=64, unique=True)
    difficulty = models.PositiveSmallIntegerField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.value


class ReportSequence(models.Model):
    """The last reference number given in a département (`SIG-13-000123`). A counter row,
    locked while a report is created, so that numbers are never given twice, even under
    concurrent submissions, and never reused after old reports are erased."""

    departement = models.OneToOneField(
        Departement, on_delete=models.PROTECT, related_name="+", verbose_name=_("département")
    )
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.departement_id}: {self.last_value}"


class RetainedCount(models.Model):
    """Anonymous counts left behind when old unconfirmed or rejected reports are erased, so
    that indicators stay right (per département, month, channel and final status)."""

    departement_code = models.CharField(max_length=3)
    month = models.DateField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["departement_code", "month", "channel", "status"],
                name="retained_count_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.departement_code} {self.month:%Y-%m} {self.status}: {self.count}"
