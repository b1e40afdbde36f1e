"""Territories: régions, départements, communes (and municipal arrondissements), antennas, QPV.

Geometry is stored as WKB (WGS84) and indexed in memory with shapely; no GeoDjango, so the same
code runs on SQLite and PostgreSQL (design §2).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import CommuneKind


class Region(models.Model):
    code = models.CharField(_("code INSEE"), max_length=3, unique=True)
    name = models.CharField(_("nom"), max_length=100)

    class Meta:
        ordering = ["code"]
        verbose_name = _("région")
        verbose_name_plural = _("régions")

    def __str__(self) -> str:
        return self.name


class Departement(models.Model):
    code = models.CharField(_("code INSEE"), max_length=3, unique=True)
    name = models.CharField(_("nom"), max_length=100)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="departements")
    # Union of the communes' simplified boundaries, WKB, computed at load time.
    geometry = models.BinaryField(_("géométrie (WKB)"), null=True, editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("département")
        verbose_name_plural = _("départements")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Antenna(models.Model):
    """A territorial antenna of Ofast and the départements it covers (editable by an admin)."""

    name = models.CharField(_("nom"), max_length=100, unique=True)
    departements = models.ManyToManyField(
        Departement, related_name="antennas", blank=True, verbose_name=_("départements couverts")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("antenne Ofast")
        verbose_name_plural = _("antennes Ofast")

    def __str__(self) -> str:
        return self.name


class Commune(models.Model):
    """A commune, or a municipal arrondissement of Paris, Lyon or Marseille.

    The three cities themselves are kept (kind COM) for search and names but carry no geometry:
    their arrondissements answer point lookups.
    """

    code = models.CharField(_("code INSEE"), max_length=5, unique=True)
    name = models.CharField(_("nom"), max_length=150)
    kind = models.CharField(_("type"), max_length=3, choices=CommuneKind.choices)
    departement = models.ForeignKey(Departement, on_delete=models.PROTECT, related_name="communes")
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="arrondissements",
        verbose_name=_("commune parente"),
    )
    population = models.PositiveIntegerField(_("population municipale"), null=True, blank=True)
    postcodes = models.CharField(_("codes postaux"), max_length=200, blank=True)
    geometry = models.BinaryField(_("géométrie (WKB)"), null=True, editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("commune")
        verbose_name_plural = _("communes")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def postcode_list(self) -> list[str]:
        """The postcodes, one by one (stored "13080,13090", as the source gives them)."""
        return [code.strip() for code in self.postcodes.split(",") if code.strip()]


class PriorityNeighbourhood(models.Model):
    """A QPV (quartier prioritaire de la politique de la ville), from the official file."""

    code = models.CharField(_("code QPV"), max_length=20, unique=True)
    name = models.CharField(_("nom"), max_length=200)
    communes = models.ManyToManyField(Commune, related_name="priority_neighbourhoods", blank=True)
    departement = models.ForeignKey(
        Departement, on_delete=models.PROTECT, related_name="priority_neighbourhoods"
    )
    geometry = models.BinaryField(_("géométrie (WKB)"), editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("quartier prioritaire (QPV)")
        verbose_name_plural = _("quartiers prioritaires (QPV)")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
