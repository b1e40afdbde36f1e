"""Organisations, users and their memberships, sharing groups, landlords' buildings, and the
abstract base every protected record inherits (design §4)."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from cartostup.territories.models import Commune, Departement

from .choices import Distribution, Marking, OrganisationKind, Role


class Organisation(models.Model):
    name = models.CharField(_("nom"), max_length=200, unique=True)
    kind = models.CharField(_("type"), max_length=20, choices=OrganisationKind.choices)
    national_scope = models.BooleanField(
        _("compétence nationale"),
        default=False,
        help_text=_("Cochée, l'organisation couvre tout le territoire national."),
    )
    departements = models.ManyToManyField(
        Departement,
        related_name="organisations",
        blank=True,
        verbose_name=_("départements couverts"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A staff account. Residents never have one (reporting is anonymous)."""

    failed_login_count = models.PositiveSmallIntegerField(default=0, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when an administrator gave a temporary password: the user must choose their own
    # before using anything else.
    must_change_password = models.BooleanField(default=False, editable=False)

    class Meta:
        constraints = [
            # One account per username whatever its capitals (the services explain it first).
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_ci_unique",
                violation_error_message=_(
                    "Un compte porte déjà cet identifiant, écrit avec d'autres majuscules."
                ),
            )
        ]
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")


class Membership(models.Model):
    """A user's role in an organisation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"], name="membership_unique_role"
            )
        ]
        verbose_name = _("rattachement")
        verbose_name_plural = _("rattachements")

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} – {self.organisation}"


class SharingGroup(models.Model):
    """A named set of organisations that share records distributed to the group."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    organisations = models.ManyToManyField(
        Organisation, related_name="sharing_groups", verbose_name=_("organisations membres")
    )
    owner_organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="owned_sharing_groups"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("groupe de partage")
        verbose_name_plural = _("groupes de partage")

    def __str__(self) -> str:
        return self.name


class ProtectedRecord(models.Model):
    """What the access policy decides from: owner, territory, distribution, marking.

    Every protected model inherits it; the policy never imports a domain app.
    """

    owner_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation propriétaire"),
    )
    commune = models.ForeignKey(
        Commune, on_delete=models.PROTECT, related_name="+", verbose_name=_("commune")
    )
    departement = models.ForeignKey(
        Departement, on_delete=models.PROTECT, related_name="+", verbose_name=_("département")
    )
    distribution = models.CharField(
        _("diffusion"),
        max_length=20,
        choices=Distribution.choices,
        default=Distribution.ORGANISATION,
    )
    marking = models.CharField(
        _("marquage"), max_length=20, choices=Marking.choices, default=Marking.AMBER
    )
    sharing_group = models.ForeignKey(
        SharingGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("groupe de partage"),
    )

    class Meta:
        abstract = True


class Building(ProtectedRecord):
    """A building of a social landlord's housing stock.

    Owned by the landlord; distributed to the law-enforcement services of its territory so that
    deal points can later be tied to it.
    """

    name = models.CharField(_("nom ou numéro de bâtiment"), max_length=200)
    address = models.CharField(_("adresse"), max_length=300)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    h3_cell = models.CharField(_("cellule H3 (rés. 13)"), max_length=16, db_index=True)
    stairwells = models.CharField(
        _("cages d'escalier"), max_length=200, blank=True, help_text=_("Ex. : A, B, C")
    )

    class Meta:
        ordering = ["owner_organisation", "name"]
        verbose_name = _("bâtiment")
        verbose_name_plural = _("bâtiments")

    def __str__(self) -> str:
        return f"{self.name} – {self.address}"


class ApiToken(models.Model):
    """A personal API token: acts exactly as its user, through the same policy, until it
    expires or is revoked. Only a keyed hash of its secret is stored (`tokens.py`); its prefix
    is the public part that finds it (shown on the account page, written in the audit)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("nom"), max_length=100)
    prefix = models.CharField(_("préfixe"), max_length=16, unique=True)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expire le"))
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("jeton d'accès à l'API")
        verbose_name_plural = _("jetons d'accès à l'API")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
