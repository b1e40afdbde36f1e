"""Writes on organisations, sharing groups, antennas, users, memberships and buildings.

Every service authorises first (`policy.require` or `policy.access_object`, so the pages and the
API share the decision and a refusal is a 404), validates with `full_clean()`, writes, and records
its audit event in the same transaction. Audit details hold field names and references, never
the values (which may be personal data).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import h3
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, Model, OuterRef
from django.utils.translation import gettext as _
from django_otp import devices_for_user

from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.core.personas import ORGANISATIONS, PERSONAS
from cartostup.territories import locator
from cartostup.territories.models import Antenna, Commune, Departement

from . import policy
from .choices import Distribution, OrganisationKind, Role
from .models import Building, Membership, Organisation, SharingGroup, User

M = TypeVar("M", bound=Model)

# H3 resolution of a building's cell: about 4 m, a stairwell (design §2).
BUILDING_H3_RESOLUTION = 13
# Unambiguous characters for temporary passwords read out or copied by hand.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TEMPORARY_PASSWORD_LENGTH = 16


def _assign(obj: Any, values: dict[str, Any]) -> list[str]:
    """Set the given attributes; return the names of those whose value changed."""
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def _locked_for_change(model: type[M], *, actor: User, pk: Any) -> M:
    """Authorise the change (404 otherwise), then lock the row until the transaction ends.

    Two steps because the policy's queryset is DISTINCT, which PostgreSQL refuses to lock."""
    policy.access_object(model, actor=actor, pk=pk, action=policy.Action.CHANGE)
    return model._default_manager.select_for_update().get(pk=pk)


def _pk_set(objects: Iterable[Any]) -> set[int]:
    return {obj.pk for obj in objects}


# --- organisations -------------------------------------------------------------------------------


def organisation_scope_check(*, national_scope: bool, departements: list[Departement]) -> None:
    if national_scope and departements:
        raise ValidationError(
            {
                "departements": _(
                    "Une organisation de compétence nationale ne liste pas de départements : "
                    "décochez « compétence nationale » ou retirez les départements."
                )
            }
        )
    if not national_scope and not departements:
        raise ValidationError(
            {
                "departements": _(
                    "Choisissez au moins un département, ou cochez « compétence nationale »."
                )
            }
        )


def _organisation_kind_check(*, organisation: Organisation, kind: str) -> None:
    """Refuse a change of kind that would leave members with a role the new kind does not allow."""
    allowed = set(policy.assignable_roles(kind))
    misfits = sorted(
        {
            str(Role(role).label)
            for role in organisation.memberships.values_list("role", flat=True)
            if role not in allowed
        }
    )
    if misfits:
        raise ValidationError(
            {
                "kind": _(
                    "Des membres ont un rôle incompatible avec ce type d'organisation "
                    "(%(roles)s) : modifiez d'abord leurs rattachements."
                )
                % {"roles": ", ".join(misfits)}
            }
        )


@transaction.atomic
def organisation_create(
    *,
    actor: User,
    name: str,
    kind: str,
    national_scope: bool = False,
    departements: Iterable[Departement] = (),
    is_active: bool = True,
) -> Organisation:
    """Create an organisation with its territory scope (capability MANAGE_ORGANISATIONS)."""
    policy.require(actor, policy.Capability.MANAGE_ORGANISATIONS)
    departement_list = list(departements)
    organisation = Organisation(
        name=name.strip(), kind=kind, national_scope=national_scope, is_active=is_active
    )
    organisation.full_clean()
    organisation_scope_check(national_scope=national_scope, departements=departement_list)
    organisation.save()
    organisation.departements.set(departement_list)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        target=organisation,
        details={
            "fields": ["name", "kind", "national_scope", "departements", "is_active"],
            "departements": sorted(d.code for d in departement_list),
        },
    )
    return organisation


@transaction.atomic
def organisation_update(
    *,
    actor: User,
    organisation: Organisation,
    name: str,
    kind: str,
    national_scope: bool,
    departements: Iterable[Departement],
    is_active: bool,
) -> Organisation:
    """Change an organisation's name, kind, territory scope or status."""
    policy.require(actor, policy.Capability.MANAGE_ORGANISATIONS)
    organisation = _locked_for_change(Organisation, actor=actor, pk=organisation.pk)
    departement_list = list(departements)
    before = _pk_set(organisation.departements.all())
    changed = _assign(
        organisation,
        {
            "name": name.strip(),
            "kind": kind,
            "national_scope": national_scope,
            "is_active": is_active,
        },
    )
    organisation.full_clean()
    organisation_scope_check(national_scope=national_scope, departements=departement_list)
    if "kind" in changed:
        _organisation_kind_check(organisation=organisation, kind=kind)
    if changed:
        organisation.save(update_fields=changed)
    after = _pk_set(departement_list)
    if after != before:
        organisation.departements.set(departement_list)
        changed.append("departements")
    if changed:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=organisation,
            details={"fields": changed},
        )
    return organisation


# --- sharing groups -------------------------------------------------------------------------------


@transaction.atomic
def sharing_group_create(
    *,
    actor: User,
    name: str,
    description: str = "",
    owner_organisation: Organisation,
    organisations: Iterable[Organisation] = (),
) -> SharingGroup:
    """Create a sharing group; its owner organisation is always one of its members."""
    policy.require(actor, policy.Capability.MANAGE_ORGANISATIONS)
    members = {organisation.pk: organisation for organisation in organisations}
    members[owner_organisation.pk] = owner_organisation
    group = SharingGroup(
        name=name.strip(), description=description, owner_organisation=owner_organisation
    )
    group.full_clean()
    group.save()
    group.organisations.set(members.values())
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        target=group,
        details={
            "fields": ["name", "description", "owner_organisation", "organisations"],
            "organisations": sorted(members),
        },
    )
    return group


@transaction.atomic
def sharing_group_update(
    *,
    actor: User,
    group: SharingGroup,
    name: str,
    description: str,
    owner_organisation: Organisation,
    organisations: Iterable[Organisation],
) -> SharingGroup:
    """Change a sharing group's name, description, owner or members."""
    policy.require(actor, policy.Capability.MANAGE_ORGANISATIONS)
    group = _locked_for_change(SharingGroup, actor=actor, pk=group.pk)
    members = {organisation.pk: organisation for organisation in organisations}
    members[owner_organisation.pk] = owner_organisation
    before = _pk_set(group.organisations.all())
    changed = _assign(
        group,
        {
            "name": name.strip(),
            "description": description,
            "owner_organisation_id": owner_organisation.pk,
        },
    )
    changed = [field.removesuffix("_id") for field in changed]
    group.full_clean()
    if changed:
        group.save()
    if set(members) != before:
        group.organisations.set(members.values())
        changed.append("organisations")
    if changed:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=group,
            details={"fields": changed},
        )
    return group


# --- antennas ------------------------------------------------------------------------------------


@transaction.atomic
def antenna_update(
    *, actor: User, antenna: Antenna, departements: Iterable[Departement]
) -> Antenna:
    """Set the départements an Ofast antenna covers (capability MANAGE_TERRITORIES)."""
    policy.require(actor, policy.Capability.MANAGE_TERRITORIES)
    # The policy has no record rule for antennas: the capability is the whole decision.
    antenna = Antenna.objects.select_for_update().get(pk=antenna.pk)
    departement_list = list(departements)
    before = {d.pk: d.code for d in antenna.departements.all()}
    after = {d.pk: d.code for d in departement_list}
    if set(before) != set(after):
        antenna.departements.set(departement_list)
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=antenna,
            details={
                "fields": ["departements"],
                "added": sorted(code for pk, code in after.items() if pk not in before),
                "removed": sorted(code for pk, code in before.items() if pk not in after),
            },
        )
    return antenna


# --- users ---------------------------------------------------------------------------------------


def temporary_password_generate() -> str:
    return "".join(
        secrets.choice(_PASSWORD_ALPHABET) for _index in range(TEMPORARY_PASSWORD_LENGTH)
    )


def username_available_check(*, username: str) -> None:
    """Refuse a username already taken, even written with other capitals: `CROSS13_ANALYST`
    beside `cross13_analyst` would be two accounts one reads as the same (in the audit log,
    in memberships). The database holds the same rule (`user_username_ci_unique`)."""
    existing = User.objects.filter(username__iexact=username).values_list("username", flat=True)
    taken = existing.first()
    if taken is None:
        return
    if taken == username:
        raise ValidationError({"username": _("Cet identifiant existe déjà.")})
    raise ValidationError(
        {
            "username": _(
                "Un compte porte déjà cet identifiant, écrit « %(existing)s » : deux "
                "identifiants ne peuvent différer seulement par les majuscules et les "
                "minuscules."
            )
            % {"existing": taken}
        }
    )


@dataclass(frozen=True)
class UserCreated:
    user: User
    # Shown once to the administrator, never stored in clear; None when they typed a password.
    temporary_password: str | None


@transaction.atomic
def user_create(
    *,
    actor: User,
    username: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    password: str | None = None,
) -> UserCreated:
    """Create a staff account. Without a password, a temporary one is generated and returned
    once; the user then enrols a second factor at first login."""
    policy.require(actor, policy.Capability.MANAGE_USERS)
    username_available_check(username=username.strip())
    user = User(
        username=username.strip(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=User.objects.normalize_email(email.strip()),
        is_active=True,
    )
    user.full_clean(exclude=["password"])
    temporary = None
    if password is None:
        temporary = temporary_password_generate()
        password = temporary
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    user.set_password(password)
    user.must_change_password = temporary is not None
    user.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        target=user,
        details={
            "fields": ["username", "first_name", "last_name", "email", "password"],
            "temporary_password": temporary is not None,
        },
    )
    return UserCreated(user=user, temporary_password=temporary)


def _user_for_change(*, actor: User, user: User) -> User:
    policy.require(actor, policy.Capability.MANAGE_USERS)
    return _locked_for_change(User, actor=actor, pk=user.pk)


@transaction.atomic
def user_update(*, actor: User, user: User, first_name: str, last_name: str, email: str) -> User:
    """Change a user's names and e-mail address (the username never changes)."""
    user = _user_for_change(actor=actor, user=user)
    changed = _assign(
        user,
        {
            "first_name": first_name.strip(),
            "last_name": last_name.strip(),
            "email": User.objects.normalize_email(email.strip()),
        },
    )
    user.full_clean(exclude=["password"])
    if changed:
        user.save(update_fields=changed)
        audit_record(
            actor=actor, action=AuditAction.UPDATE, target=user, details={"fields": changed}
        )
    return user


@transaction.atomic
def user_deactivate(*, actor: User, user: User) -> User:
    """Close an account: it can no longer log in; its history and memberships stay."""
    user = _user_for_change(actor=actor, user=user)
    if user.pk == actor.pk:
        raise ValidationError(_("Vous ne pouvez pas désactiver votre propre compte."))
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=user,
            details={"fields": ["is_active"], "operation": "deactivate"},
        )
    policy.forget_actor(user)
    return user


@transaction.atomic
def user_reactivate(*, actor: User, user: User) -> User:
    """Reopen a closed account (and clear any lockout)."""
    user = _user_for_change(actor=actor, user=user)
    if not user.is_active or user.locked_until is not None:
        user.is_active = True
        user.failed_login_count = 0
        user.locked_until = None
        user.save(update_fields=["is_active", "failed_login_count", "locked_until"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=user,
            details={"fields": ["is_active"], "operation": "reactivate"},
        )
    policy.forget_actor(user)
    return user


@transaction.atomic
def user_password_reset(*, actor: User, user: User) -> str:
    """Give an account a new temporary password (its holder lost it, or never received the
    first): the old password stops working, the account's open sessions end (Django checks the
    password's hash on each request), a lockout is lifted (it guarded the old password), and
    the holder must choose a password at the next login. Returns the temporary password, to
    be shown once; it is never stored in clear. Not for the actor's own account (the password
    page is the way to change one's own)."""
    user = _user_for_change(actor=actor, user=user)
    if user.pk == actor.pk:
        raise ValidationError(
            _(
                "Vous ne pouvez pas réinitialiser votre propre mot de passe : changez-le depuis "
                "la page « Mot de passe » de votre compte."
            )
        )
    temporary = temporary_password_generate()
    user.set_password(temporary)
    user.must_change_password = True
    user.failed_login_count = 0
    user.locked_until = None
    user.save(
        update_fields=["password", "must_change_password", "failed_login_count", "locked_until"]
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=user,
        details={"fields": ["password"], "operation": "password_reset"},
    )
    return temporary


def temporary_password_is_wellformed(text: str) -> bool:
    """True if `text` could be a temporary password of `temporary_password_generate`."""
    return len(text) == TEMPORARY_PASSWORD_LENGTH and all(
        char in _PASSWORD_ALPHABET for char in text
    )


@transaction.atomic
def user_second_factor_reset(*, actor: User, user: User) -> int:
    """Delete every second-factor device of the user, who enrols again at next login.

    Returns the number of devices deleted."""
    user = _user_for_change(actor=actor, user=user)
    deleted = 0
    for device in devices_for_user(user, confirmed=None):
        device.delete()
        deleted += 1
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=user,
        details={
            "fields": ["second_factor"],
            "operation": "second_factor_reset",
            "devices": deleted,
        },
    )
    return deleted


# --- memberships ---------------------------------------------------------------------------------


def membership_role_check(*, organisation: Organisation, role: str) -> None:
    """Refuse, in French, a role the organisation's kind does not allow."""
    allowed = list(policy.assignable_roles(organisation.kind))
    if role not in allowed:
        raise ValidationError(
            {
                "role": _(
                    "Le rôle « %(role)s » n'est pas possible dans une organisation de type "
                    "« %(kind)s ». Rôles possibles : %(allowed)s."
                )
                % {
                    "role": Role(role).label if role in Role.values else role,
                    "kind": OrganisationKind(organisation.kind).label,
                    "allowed": ", ".join(str(Role(value).label) for value in allowed),
                }
            }
        )


@transaction.atomic
def membership_create(
    *, actor: User, user: User, organisation: Organisation, role: str
) -> Membership:
    """Give a user a role in an organisation; the role must suit the organisation's kind.
    Nobody gives themselves a role (the policy refuses)."""
    user = _user_for_change(actor=actor, user=user)
    if not policy.may_grant_membership(actor, user):
        raise ValidationError(_("Vous ne pouvez pas modifier vos propres rattachements."))
    organisation = policy.access_object(Organisation, actor=actor, pk=organisation.pk)
    membership = Membership(user=user, organisation=organisation, role=role)
    membership.full_clean(validate_constraints=False)
    membership_role_check(organisation=organisation, role=role)
    held = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    conflicts = policy.conflicting_roles(role, held)
    if conflicts:
        raise ValidationError(
            {
                "role": _(
                    "Un même compte ne peut pas être à la fois « %(role)s » et « %(other)s » : "
                    "l'un de ces rôles ne reçoit qu'une partie des fiches que l'autre reçoit "
                    "entières, et le compte les recevrait toutes entières. Créez un compte "
                    "distinct pour cette personne."
                )
                % {
                    "role": Role(role).label,
                    "other": " » ou « ".join(str(Role(value).label) for value in conflicts),
                }
            }
        )
    if Membership.objects.filter(user=user, organisation=organisation, role=role).exists():
        raise ValidationError(
            {"role": _("Cet utilisateur a déjà ce rôle dans cette organisation.")}
        )
    membership.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        target=membership,
        details={
            "fields": ["user", "organisation", "role"],
            "user": user.pk,
            "organisation": organisation.pk,
            "role": role,
        },
    )
    policy.forget_actor(user)
    return membership


@transaction.atomic
def membership_delete(*, actor: User, membership: Membership) -> None:
    """Remove a user's role in an organisation."""
    policy.require(actor, policy.Capability.MANAGE_USERS)
    membership = Membership.objects.select_related("user", "organisation").get(pk=membership.pk)
    user = _user_for_change(actor=actor, user=membership.user)
    if not policy.may_grant_membership(actor, user):
        raise ValidationError(_("Vous ne pouvez pas modifier vos propres rattachements."))
    details = {
        "fields": ["user", "organisation", "role"],
        "user": user.pk,
        "organisation": membership.organisation_id,
        "role": membership.role,
    }
    audit_record(
        actor=actor,
        action=AuditAction.DELETE,
        object_type=membership._meta.label_lower,
        object_id=str(membership.pk),
        details=details,
    )
    membership.delete()
    policy.forget_actor(user)


# --- buildings -----------------------------------------------------------------------------------


def building_organisations_for(actor: User) -> list[Organisation]:
    """The landlord organisations whose buildings the actor manages (MANAGE_BUILDINGS)."""
    return list(
        policy.organisations_for_capability(actor, policy.Capability.MANAGE_BUILDINGS).order_by(
            "name"
        )
    )


def _building_commune(
    *, organisation: Organisation, latitude: float, longitude: float, commune: Commune | None
) -> Commune:
    """The commune given, or the one the point falls in; it must lie in the landlord's
    territory."""
    if commune is None:
        try:
            location = locator.locate(latitude, longitude)
        except locator.LocateError as error:
            raise ValidationError({"latitude": str(error)}) from error
        commune = Commune.objects.select_related("departement").get(code=location.commune_code)
    if (
        not organisation.national_scope
        and not organisation.departements.filter(pk=commune.departement_id).exists()
    ):
        raise ValidationError(
            {
                "latitude": _(
                    "Ce point se trouve à %(commune)s, hors du territoire de %(organisation)s."
                )
                % {"commune": commune, "organisation": organisation.name}
            }
        )
    return commune


def _building_position_check(*, latitude: float, longitude: float) -> None:
    try:
        locator.validate_coordinates(latitude, longitude)
    except locator.LocateError as error:
        raise ValidationError({"latitude": str(error)}) from error


# A stairwell is a short label (« A », « 12 », « Entrée nord »), shown as « Cage A » in the
# landlord's report form; longer text is a description, not a label.
STAIRWELL_MAX_LENGTH = 20


def _stairwell_key(label: str) -> str:
    # « a 1 » and « A1 » name the same stairwell.
    return "".join(label.split()).casefold()


def _stairwell_parts(text: str) -> list[str]:
    """The labels of a comma-separated list as given, spaces tidied, empty entries dropped."""
    return [label for label in (" ".join(part.split()) for part in text.split(",")) if label]


def stairwell_labels(text: str) -> list[str]:
    """The stairwells of a building's comma-separated list, each once (case and spaces
    aside: the first spelling is kept), spaces tidied, empty entries dropped."""
    labels: list[str] = []
    seen: set[str] = set()
    for label in _stairwell_parts(text):
        if _stairwell_key(label) not in seen:
            seen.add(_stairwell_key(label))
            labels.append(label)
    return labels


def building_stairwells_clean(text: str) -> str:
    """The stairwells as stored (« A, B, C »), or a ValidationError on `stairwells` naming
    each label given twice (case and spaces aside) and each longer than
    STAIRWELL_MAX_LENGTH: both would reach the landlord's report form (« Cage A » offered
    twice, an unreadable choice)."""
    given = _stairwell_parts(text)
    errors: list[str] = []
    counts: dict[str, list[str]] = {}
    for label in given:
        counts.setdefault(_stairwell_key(label), []).append(label)
    twice = [spellings[0] for spellings in counts.values() if len(spellings) > 1]
    if twice:
        errors.append(
            _("Chaque cage d'escalier ne doit figurer qu'une fois : %(labels)s.")
            % {"labels": ", ".join(f"« {label} »" for label in twice)}
        )
    for label in given:
        if len(label) > STAIRWELL_MAX_LENGTH:
            errors.append(
                _(
                    "« %(label)s… » est trop long pour un nom de cage d'escalier "
                    "(%(max)s caractères au plus)."
                )
                % {"label": label[:STAIRWELL_MAX_LENGTH], "max": STAIRWELL_MAX_LENGTH}
            )
    if errors:
        raise ValidationError({"stairwells": errors})
    return ", ".join(given)


@transaction.atomic
def building_create(
    *,
    actor: User,
    name: str,
    address: str,
    latitude: float,
    longitude: float,
    stairwells: str = "",
    organisation: Organisation | None = None,
    commune: Commune | None = None,
) -> Building:
    """A landlord referent records a building of its own organisation's housing stock.

    The commune (hence the département) comes from the position (`territories.locator`)
    unless given, and must lie in the landlord's territory; the building is
    distributed to the law-enforcement services of its territory (design §4)."""
    policy.require(actor, policy.Capability.MANAGE_BUILDINGS)
    allowed = {o.pk: o for o in building_organisations_for(actor)}
    if organisation is None:
        if len(allowed) != 1:
            raise ValidationError(
                {"organisation": _("Précisez le bailleur auquel ce bâtiment appartient.")}
            )
        organisation = next(iter(allowed.values()))
    elif organisation.pk not in allowed:
        raise ValidationError({"organisation": _("Vous ne gérez pas le parc de ce bailleur.")})
    _building_position_check(latitude=latitude, longitude=longitude)
    stairwells = building_stairwells_clean(stairwells)
    commune = _building_commune(
        organisation=organisation, latitude=latitude, longitude=longitude, commune=commune
    )
    building = Building(
        owner_organisation=organisation,
        commune=commune,
        departement_id=commune.departement_id,
        distribution=Distribution.TERRITORY,
        name=name.strip(),
        address=address.strip(),
        latitude=latitude,
        longitude=longitude,
        h3_cell=h3.latlng_to_cell(latitude, longitude, BUILDING_H3_RESOLUTION),
        stairwells=stairwells,
    )
    building.full_clean()
    building.save()
    # The policy must agree that the actor manages what it just created.
    policy.access_object(Building, actor=actor, pk=building.pk, action=policy.Action.CHANGE)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        target=building,
        organisation=organisation,
        details={
            "fields": ["name", "address", "latitude", "longitude", "stairwells", "commune"],
            "commune": commune.code,
        },
    )
    return building


@transaction.atomic
def building_update(
    *,
    actor: User,
    building: Building,
    name: str,
    address: str,
    latitude: float,
    longitude: float,
    stairwells: str = "",
    commune: Commune | None = None,
) -> Building:
    """The owner landlord changes one of its buildings; a new position moves its commune and
    H3 cell with it."""
    policy.require(actor, policy.Capability.MANAGE_BUILDINGS)
    building = _locked_for_change(Building, actor=actor, pk=building.pk)
    _building_position_check(latitude=latitude, longitude=longitude)
    stairwells = building_stairwells_clean(stairwells)
    moved = (latitude, longitude) != (building.latitude, building.longitude)
    if commune is None and not moved:
        commune = building.commune
    commune = _building_commune(
        organisation=building.owner_organisation,
        latitude=latitude,
        longitude=longitude,
        commune=commune,
    )
    changed = _assign(
        building,
        {
            "name": name.strip(),
            "address": address.strip(),
            "latitude": latitude,
            "longitude": longitude,
            "stairwells": stairwells,
            "commune_id": commune.pk,
            "departement_id": commune.departement_id,
            "h3_cell": h3.latlng_to_cell(latitude, longitude, BUILDING_H3_RESOLUTION),
        },
    )
    changed = [field.removesuffix("_id") for field in changed]
    building.full_clean()
    if changed:
        building.save()
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=building,
            organisation=building.owner_organisation,
            details={"fields": changed},
        )
    return building


# --- demo data -----------------------------------------------------------------------------------


@transaction.atomic
def demo_organisations_ensure() -> dict[str, Organisation]:
    """Create the demo organisations if missing (idempotent); returns them by key.

    Départements not loaded are skipped, so the demo works on a partial load."""
    # One query for all of them (the tests ask for personas often): which exist, which have
    # their départements.
    existing: dict[str, Organisation] = {}
    scoped: set[int] = set()
    for found in Organisation.objects.filter(
        name__in=[spec.name for spec in ORGANISATIONS]
    ).annotate(
        scoped=Exists(
            Organisation.departements.through.objects.filter(organisation_id=OuterRef("pk"))
        )
    ):
        existing[found.name] = found
        if found.scoped:
            scoped.add(found.pk)
    by_key: dict[str, Organisation] = {}
    for spec in ORGANISATIONS:
        organisation = existing.get(spec.name) or Organisation.objects.create(
            name=spec.name, kind=spec.kind, national_scope=spec.national
        )
        if spec.departements and organisation.pk not in scoped:
            organisation.departements.set(Departement.objects.filter(code__in=spec.departements))
        by_key[spec.key] = organisation
    return by_key


@transaction.atomic
def demo_persona_ensure(*, username: str) -> User:
    """Create one demo persona (user, membership) if missing; returns the user."""
    spec = next(p for p in PERSONAS if p.username == username)
    existing = User.objects.filter(
        username=spec.username,
        memberships__organisation__name=next(
            o.name for o in ORGANISATIONS if o.key == spec.organisation
        ),
        memberships__role=spec.role,
    ).first()
    if existing is not None:
        # Already made, and the demo organisations with it (the tests ask often).
        return existing
    organisations = demo_organisations_ensure()
    user, created = User.objects.get_or_create(
        username=spec.username,
        defaults={"first_name": spec.first_name, "last_name": spec.last_name},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(
        user=user, organisation=organisations[spec.organisation], role=spec.role
    )
    return user


@transaction.atomic
def administrator_bootstrap(*, username: str) -> UserCreated:
    """The first administrator of a new installation (from the command line, no actor): the
    platform's administration organisation if missing, the account with a temporary password it
    must replace at first login, and the administrator role. Refuses an existing username."""
    username_available_check(username=username.strip())
    organisation, _created = Organisation.objects.get_or_create(
        kind=OrganisationKind.ADMINISTRATION,
        defaults={"name": "Administration de Cartostup", "national_scope": True},
    )
    user = User(username=username.strip(), is_active=True)
    user.full_clean(exclude=["password"])
    temporary = temporary_password_generate()
    user.set_password(temporary)
    user.must_change_password = True
    user.save()
    membership = Membership.objects.create(
        user=user, organisation=organisation, role=Role.ADMINISTRATOR
    )
    audit_record(actor=None, action=AuditAction.CREATE, target=user, details={"bootstrap": True})
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        target=membership,
        details={"role": Role.ADMINISTRATOR, "organisation": organisation.pk},
    )
    return UserCreated(user=user, temporary_password=temporary)
