from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganisationKind(models.TextChoices):
    OFAST_CENTRAL = "ofast_central", _("Ofast – office central")
    OFAST_ANTENNA = "ofast_antenna", _("Ofast – antenne")
    CROSS = "cross", _("CROSS")
    POLICE = "police", _("Police nationale")
    GENDARMERIE = "gendarmerie", _("Gendarmerie nationale")
    CUSTOMS = "customs", _("Douane")
    PROSECUTOR = "prosecutor", _("Parquet")
    PREFECTURE = "prefecture", _("Préfecture")
    LANDLORD = "landlord", _("Bailleur social")
    CALL_PLATFORM = "call_platform", _("Plateforme d'appel")
    ADMINISTRATION = "administration", _("Administration de la plateforme")


# Services that hold and share intelligence (design §4 "all law-enforcement services").
LAW_ENFORCEMENT_KINDS = frozenset(
    {
        OrganisationKind.OFAST_CENTRAL,
        OrganisationKind.OFAST_ANTENNA,
        OrganisationKind.CROSS,
        OrganisationKind.POLICE,
        OrganisationKind.GENDARMERIE,
        OrganisationKind.CUSTOMS,
    }
)


class Role(models.TextChoices):
    ANALYST = "analyst", _("Analyste")
    INVESTIGATOR = "investigator", _("Enquêteur")
    OPERATOR = "operator", _("Opérateur de la plateforme d'appel")
    LANDLORD_REFERENT = "landlord_referent", _("Référent bailleur")
    MAGISTRATE = "magistrate", _("Magistrat")
    PREFECTURE_STAFF = "prefecture_staff", _("Agent de préfecture")
    AUDITOR = "auditor", _("Auditeur")
    ADMINISTRATOR = "administrator", _("Administrateur")


class Distribution(models.TextChoices):
    ORGANISATION = "organisation", _("Organisation propriétaire seulement")
    CROSS = "cross", _("Membres de la CROSS du département")
    TERRITORY = "territory", _("Services répressifs du territoire")
    NATIONAL = "national", _("National")
    SHARING_GROUP = "sharing_group", _("Groupe de partage")


class Marking(models.TextChoices):
    CLEAR = "clear", "TLP:CLEAR"
    GREEN = "green", "TLP:GREEN"
    AMBER = "amber", "TLP:AMBER"
    AMBER_STRICT = "amber_strict", "TLP:AMBER+STRICT"
    RED = "red", "TLP:RED"


# From the most open to the most restricted: the stricter of two settings is the later one.
DISTRIBUTION_ORDER = [
    Distribution.NATIONAL,
    Distribution.TERRITORY,
    Distribution.SHARING_GROUP,
    Distribution.CROSS,
    Distribution.ORGANISATION,
]
MARKING_ORDER = [
    Marking.CLEAR,
    Marking.GREEN,
    Marking.AMBER,
    Marking.AMBER_STRICT,
    Marking.RED,
]
