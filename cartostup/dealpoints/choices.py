from collections.abc import Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _

# The precisions and products of reports are the deal points' own (one vocabulary).
from cartostup.reports.choices import Precision, Product, TimeOfDay, Weekday

__all__ = [
    "AlertKind",
    "AlertStatus",
    "Confidence",
    "DealPointStatus",
    "DistributionChannel",
    "EventKind",
    "LinkDecision",
    "ObservedRole",
    "OperationKind",
    "OperationOutcome",
    "Precision",
    "Product",
    "ProposalStatus",
    "TimeOfDay",
    "Weekday",
]


class DealPointStatus(models.TextChoices):
    """The life cycle: reported → confirmed → under investigation → dismantled; a point may
    also have moved (to its successor) or come back (resurgent)."""

    REPORTED = "reported", _("Signalé")
    CONFIRMED = "confirmed", _("Confirmé")
    INVESTIGATION = "investigation", _("En cours d'enquête")
    DISMANTLED = "dismantled", _("Démantelé")
    MOVED = "moved", _("Déplacé")
    RESURGENT = "resurgent", _("Résurgent")


# A point is active (selling goes on) in these statuses.
ACTIVE_STATUSES = frozenset(
    {
        DealPointStatus.REPORTED,
        DealPointStatus.CONFIRMED,
        DealPointStatus.INVESTIGATION,
        DealPointStatus.RESURGENT,
    }
)

# The transitions analysts may make (dismantled and moved points may come back).
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    DealPointStatus.REPORTED: frozenset(
        {DealPointStatus.CONFIRMED, DealPointStatus.INVESTIGATION, DealPointStatus.DISMANTLED}
    ),
    DealPointStatus.CONFIRMED: frozenset(
        {DealPointStatus.INVESTIGATION, DealPointStatus.DISMANTLED, DealPointStatus.MOVED}
    ),
    DealPointStatus.INVESTIGATION: frozenset(
        {DealPointStatus.CONFIRMED, DealPointStatus.DISMANTLED, DealPointStatus.MOVED}
    ),
    DealPointStatus.DISMANTLED: frozenset({DealPointStatus.RESURGENT, DealPointStatus.MOVED}),
    DealPointStatus.MOVED: frozenset({DealPointStatus.RESURGENT}),
    DealPointStatus.RESURGENT: frozenset(
        {
            DealPointStatus.CONFIRMED,
            DealPointStatus.INVESTIGATION,
            DealPointStatus.DISMANTLED,
            DealPointStatus.MOVED,
        }
    ),
}


class DistributionChannel(models.TextChoices):
    FIXED = "fixed", _("Point fixe")
    DELIVERY = "delivery", _("Livraison")
    DRIVE = "drive", _("Drive (vente depuis un véhicule)")
    FLAT = "flat", _("Appartement")
    ONLINE = "online", _("En ligne (réseaux sociaux, messageries)")


class ObservedRole(models.TextChoices):
    LOOKOUTS = "lookouts", _("Guetteurs (« chouffs »)")
    SELLERS = "sellers", _("Vendeurs (« charbonneurs »)")
    MANAGER = "manager", _("Gérant")
    SUPPLIER = "supplier", _("Ravitailleur")
    STASH_FLAT = "stash_flat", _("Appartement nourrice")


class Confidence(models.TextChoices):
    LOW = "low", _("Faible")
    MEDIUM = "medium", _("Moyenne")
    HIGH = "high", _("Élevée")


class OperationKind(models.TextChoices):
    RAID = "raid", _("Opération de harcèlement (« pilonnage »)")
    ARRESTS = "arrests", _("Interpellations")
    SEARCH = "search", _("Perquisition")
    SURVEILLANCE = "surveillance", _("Surveillance")
    OTHER = "other", _("Autre opération")


class OperationOutcome(models.TextChoices):
    NONE = "none", _("Sans résultat")
    DISRUPTED = "disrupted", _("Point perturbé")
    ARRESTS = "arrests", _("Interpellations")
    SEIZURE = "seizure", _("Saisies")
    DISMANTLED = "dismantled", _("Point démantelé")


class EventKind(models.TextChoices):
    """What a history entry of a deal point records."""

    CREATED = "created", _("Création")
    EDITED = "edited", _("Modification")
    STATUS = "status", _("Changement de statut")
    OPERATION = "operation", _("Opération")
    REPORT_ATTACHED = "report_attached", _("Signalement rattaché")
    REPORT_DETACHED = "report_detached", _("Signalement détaché")
    MERGED = "merged", _("Fusion")
    UNMERGED = "unmerged", _("Fusion annulée")
    SPLIT = "split", _("Scission")
    SUCCESSOR = "successor", _("Successeur désigné")
    ALERT = "alert", _("Alerte")
    IMPORTED = "imported", _("Import")


class LinkDecision(models.TextChoices):
    """How a report came to be tied to a deal point."""

    AUTOMATIC = "automatic", _("Rattaché automatiquement")
    PROPOSED = "proposed", _("Proposé à l'analyste")
    CONFIRMED = "confirmed", _("Rattaché par un analyste")
    REJECTED = "rejected", _("Écarté par un analyste")
    # A proposal that fell when the report was attached to another point: no one refused it,
    # and the report back in the matching later may be proposed there again.
    WITHDRAWN = "withdrawn", _("Proposition retirée (rattaché à un autre point)")
    # The point was merged into another, which holds the report meanwhile; undoing the merge
    # gives the link back its decision (kept in the merge's history entry).
    MERGED = "merged", _("Passé au point de fusion")


# Links that attach a report to a point (the others are pending, refused, withdrawn or lent to
# the point of a merge). A report has at most one (constraint `one_attachment_per_report`).
ATTACHED_DECISIONS = frozenset({LinkDecision.AUTOMATIC, LinkDecision.CONFIRMED})
# Links that tie a report to a point no more (not listed with the point's reports).
UNTIED_DECISIONS = (LinkDecision.REJECTED, LinkDecision.WITHDRAWN)


# How long a dismissed proposal may be reopened (`flows.proposal_reopen`), and is offered for
# it on the matching queue.
PROPOSAL_REOPEN_DAYS = 30


class ProposalStatus(models.TextChoices):
    OPEN = "open", _("À examiner")
    ACCEPTED = "accepted", _("Acceptée")
    DISMISSED = "dismissed", _("Écartée")


class AlertKind(models.TextChoices):
    RESURGENCE = "resurgence", _("Résurgence près d'un point démantelé")
    SUCCESSOR = "successor", _("Nouveau point près d'un point démantelé (déplacement ?)")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("À traiter")
    CONFIRMED = "confirmed", _("Confirmée")
    DISMISSED = "dismissed", _("Écartée")


# Opening-hour tokens (« fri:evening ») in the week's order, Monday morning first.
_WEEK_ORDER = {
    f"{day}:{time}": index
    for index, (day, time) in enumerate(
        (day, time) for day in Weekday.values for time in TimeOfDay.values
    )
}


def in_week_order(tokens: list[str]) -> list[str]:
    """Opening hours as a reader expects them, Monday morning to Sunday night, not in the
    order they were ticked or imported (an unknown token last, as given)."""
    return sorted(tokens, key=lambda token: _WEEK_ORDER.get(str(token), len(_WEEK_ORDER)))


def list_in_order(name: str, values: Iterable[str]) -> list[str]:
    """A point's list (`products`, `opening_hours`, `observed_roles`) as it is kept: each
    value once, in its choices' order, the hours in the week's (an unknown value last, as
    given). A PATCH with ["cannabis", "cannabis"] stored both; the form, sending the ticked
    boxes in its own order, wrote « Gérant, Vendeurs → Vendeurs, Gérant » to the history of
    an untouched save, and moved the edit version, so another analyst's save was refused."""
    once = list(dict.fromkeys(values))
    if name == "opening_hours":
        return in_week_order(once)
    choices = {"products": Product, "observed_roles": ObservedRole}[name]
    order = {value: index for index, value in enumerate(choices.values)}
    return sorted(once, key=lambda value: order.get(value, len(order)))


def hours_labels(tokens: list[str]) -> list[str]:
    """Opening hours as a page shows them, in the week's order: « fri:evening » is « Vendredi
    soirée » (the record, its history and the map's panel say it alike; an export writes
    « Vendredi : soirée », which its import reads back). An unknown token is shown as given."""
    days = dict(Weekday.choices)
    times = dict(TimeOfDay.choices)
    labels = []
    for token in in_week_order(tokens):
        day, _sep, time = str(token).partition(":")
        # "Soirée (18 h – 0 h)" → "soirée": the grid's headings give the hours.
        moment = str(times.get(time, time)).split(" (")[0].lower()
        labels.append(f"{days.get(day, day)} {moment}".strip())
    return labels
