from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    WEB = "web", _("Formulaire en ligne")
    MOBILE = "mobile", _("Application mobile (API publique)")
    PHONE = "phone", _("Plateforme d'appel")
    LANDLORD = "landlord", _("Bailleur social")


class Precision(models.TextChoices):
    STAIRWELL = "stairwell", _("Cage d'escalier ou entrée précise")
    BUILDING = "building", _("Immeuble")
    STREET = "street", _("Rue")
    AREA = "area", _("Quartier")


class Activity(models.TextChoices):
    SELLING = "selling", _("Vente")
    LOOKOUTS = "lookouts", _("Guetteurs")
    STORAGE = "storage", _("Stockage de produits ou d'argent")
    DELIVERY = "delivery", _("Livraison")
    ONLINE = "online", _("Vente en ligne")
    OTHER = "other", _("Autre")


class Product(models.TextChoices):
    CANNABIS = "cannabis", _("Cannabis (résine, herbe)")
    COCAINE = "cocaine", _("Cocaïne")
    CRACK = "crack", _("Crack")
    HEROIN = "heroin", _("Héroïne")
    SYNTHETIC = "synthetic", _("Drogues de synthèse")
    OTHER = "other", _("Autre ou inconnu")


class Weekday(models.TextChoices):
    MONDAY = "mon", _("Lundi")
    TUESDAY = "tue", _("Mardi")
    WEDNESDAY = "wed", _("Mercredi")
    THURSDAY = "thu", _("Jeudi")
    FRIDAY = "fri", _("Vendredi")
    SATURDAY = "sat", _("Samedi")
    SUNDAY = "sun", _("Dimanche")


class TimeOfDay(models.TextChoices):
    MORNING = "morning", _("Matin (6 h – 12 h)")
    AFTERNOON = "afternoon", _("Après-midi (12 h – 18 h)")
    EVENING = "evening", _("Soirée (18 h – 0 h)")
    NIGHT = "night", _("Nuit (0 h – 6 h)")


class PeopleCount(models.TextChoices):
    UNKNOWN = "unknown", _("Je ne sais pas")
    FEW = "1-2", _("1 ou 2")
    SEVERAL = "3-5", _("3 à 5")
    MANY = "6-10", _("6 à 10")
    CROWD = "10+", _("Plus de 10")


class Status(models.TextChoices):
    """Internal triage status. The reporter only ever sees `PublicStatus`."""

    NEW = "new", _("À trier")
    QUESTION = "question", _("Question posée au signalant")
    ACCEPTED = "accepted", _("Accepté")
    SPAM = "spam", _("Rejeté : indésirable")
    UNFOUNDED = "unfounded", _("Rejeté : infondé")


class PublicStatus(models.TextChoices):
    """What a reporter sees: coarse, and never the timing of an operation."""

    RECEIVED = "received", _("Reçu")
    IN_PROGRESS = "in_progress", _("En cours de traitement")
    HANDLED = "handled", _("Traité")


PUBLIC_STATUS = {
    Status.NEW: PublicStatus.RECEIVED,
    Status.QUESTION: PublicStatus.IN_PROGRESS,
    Status.ACCEPTED: PublicStatus.HANDLED,
    Status.SPAM: PublicStatus.HANDLED,
    Status.UNFOUNDED: PublicStatus.HANDLED,
}
REJECTED = frozenset({Status.SPAM, Status.UNFOUNDED})


class MessageAuthor(models.TextChoices):
    REPORTER = "reporter", _("Signalant")
    ANALYST = "analyst", _("Analyste")
