"""The audit trail: an append-only, hash-chained log of every write, protected read, search and
export (design §4). Each event stores a reference to what was touched, never the data itself."""

from django.apps import apps
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .choices import AuditAction


class AuditEvent(models.Model):
    sequence = models.PositiveBigIntegerField(_("numéro"), unique=True, editable=False)
    occurred_at = models.DateTimeField(_("date"), db_index=True, editable=False)
    # Snapshots, not foreign keys: the chain must survive the deletion of a user or organisation.
    actor_id = models.BigIntegerField(_("identifiant de l'acteur"), null=True, db_index=True)
    actor_username = models.CharField(_("acteur"), max_length=150, blank=True)
    organisation_id = models.BigIntegerField(_("identifiant de l'organisation"), null=True)
    organisation_name = models.CharField(_("organisation"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(_("type d'objet"), max_length=100, blank=True, db_index=True)
    object_id = models.CharField(_("référence"), max_length=100, blank=True)
    reason = models.CharField(_("motif"), max_length=500, blank=True)
    on_behalf_of = models.CharField(_("pour le compte de"), max_length=200, blank=True)
    details = models.JSONField(_("détails"), default=dict, blank=True)
    previous_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-sequence"]
        verbose_name = _("événement d'audit")
        verbose_name_plural = _("événements d'audit")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_type}:{self.object_id}"

    @property
    def object_type_label(self) -> str:
        """The touched model's French name (« point de deal » for dealpoints.dealpoint); the
        stored label when no model bears it any more."""
        try:
            model = apps.get_model(self.object_type)
        except (LookupError, ValueError):
            return self.object_type
        return capfirst(str(model._meta.verbose_name))


class AuditChainHead(models.Model):
    """One row that writers lock to append to the chain in order (select_for_update on
    PostgreSQL; SQLite serialises writers anyway). It also records the last link, so that
    deleting events at the end of the chain is detected, and the anchor the chain starts from
    once its oldest events were archived then pruned (`audit.audit_prune`): the first event
    kept and the hash it links to, and the digest of the last archive written."""

    singleton = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    first_sequence = models.PositiveBigIntegerField(default=1)
    first_previous_hash = models.CharField(max_length=64, default="0" * 64)
    archive_digest = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"#{self.last_sequence} {self.last_hash}"


class AuditPendingEvent(models.Model):
    """An event of an anonymous act (a public submission or reply, a phone call keyed in),
    held until its hour is over, then appended to the chain with the other events of that
    hour in random order: its place in the chain, between timed staff events, must not give
    away the exact time the hour-only `occurred_at` hides."""

    occurred_at = models.DateTimeField(db_index=True, editable=False)
    actor_id = models.BigIntegerField(null=True)
    actor_username = models.CharField(max_length=150, blank=True)
    organisation_id = models.BigIntegerField(null=True)
    organisation_name = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    on_behalf_of = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return (
            f"{self.action} {self.object_type}:{self.object_id} ({self.occurred_at:%Y-%m-%d %H}h)"
        )
