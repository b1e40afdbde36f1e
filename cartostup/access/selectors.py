"""Reads of organisations, users and buildings, always starting from what the actor may see.

Opening one protected record (an organisation, a user, a building) records a VIEW audit event;
the user list, which shows personal data, records a LIST event with its filters.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404

from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.territories.models import Antenna, Departement

from . import policy
from .filters import OrganisationFilterSet, UserFilterSet
from .models import ApiToken, Building, Membership, Organisation, SharingGroup, User


def membership_list_for_user(*, actor: Any) -> QuerySet[Membership]:
    """The actor's own memberships, with organisation and territory, for the home page."""
    return (
        Membership.objects.filter(user=actor, organisation__is_active=True)
        .select_related("organisation")
        .prefetch_related("organisation__departements")
        .order_by("organisation__name")
    )


def _listed(filterset: Any, *, actor: Any, model: type[Any]) -> Any:
    """The bound filter set of an administration list, its listing audited with its filters;
    invalid filters list nothing (and record nothing, nothing was read): django-filter would
    ignore them and list everyone under the form's errors."""
    valid = filterset.is_valid()  # False when unbound (no filter): the whole list
    if filterset.is_bound and not valid:
        filterset.queryset = filterset.queryset.none()
        return filterset
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=model._meta.label_lower,
        details={"filters": filterset.applied_filters() if valid else {}},
    )
    return filterset


# --- organisations -------------------------------------------------------------------------------


def organisation_list(*, actor: Any, filters: Any = None) -> OrganisationFilterSet:
    """Organisations the actor may see, with their member count, filtered by kind, département
    or name. Returns the bound filter set (its `.qs` and its `.form`)."""
    queryset = (
        policy.restrict(Organisation.objects.all(), actor=actor)
        .annotate(member_count=Count("memberships__user", distinct=True))
        .prefetch_related(Prefetch("departements", queryset=Departement.objects.only("code")))
        .order_by("name")
    )
    filterset = OrganisationFilterSet(filters or None, queryset=queryset)
    return _listed(filterset, actor=actor, model=Organisation)


def access_organisation(
    *, actor: Any, pk: Any, action: policy.Action = policy.Action.VIEW, record: bool = True
) -> Organisation:
    """One organisation, or 404; opening it is audited."""
    organisation = policy.access_object(
        Organisation.objects.prefetch_related("departements"), actor=actor, pk=pk, action=action
    )
    if record:
        audit_record(actor=actor, action=AuditAction.VIEW, target=organisation)
    return organisation


def organisation_member_list(*, actor: Any, organisation: Organisation) -> QuerySet[Membership]:
    """The memberships of an organisation, restricted to the users the actor may see."""
    visible_users = policy.restrict(User.objects.all(), actor=actor)
    return (
        Membership.objects.filter(organisation=organisation, user__in=visible_users)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username", "role")
    )


def organisation_choices(*, actor: Any) -> QuerySet[Organisation]:
    """Organisations offered in forms (membership, sharing groups)."""
    return policy.restrict(Organisation.objects.filter(is_active=True), actor=actor).order_by(
        "name"
    )


# --- sharing groups ------------------------------------------------------------------------------


def sharing_group_list(*, actor: Any) -> QuerySet[SharingGroup]:
    """Sharing groups the actor may see; the listing is audited."""
    audit_record(actor=actor, action=AuditAction.LIST, object_type=SharingGroup._meta.label_lower)
    return (
        policy.restrict(SharingGroup.objects.all(), actor=actor)
        .select_related("owner_organisation")
        .prefetch_related(Prefetch("organisations", queryset=Organisation.objects.only("name")))
        .order_by("name")
    )


def access_sharing_group(
    *, actor: Any, pk: Any, action: policy.Action = policy.Action.VIEW
) -> SharingGroup:
    group = policy.access_object(
        SharingGroup.objects.select_related("owner_organisation").prefetch_related("organisations"),
        actor=actor,
        pk=pk,
        action=action,
    )
    audit_record(actor=actor, action=AuditAction.VIEW, target=group)
    return group


# --- antennas ------------------------------------------------------------------------------------


def antenna_list(*, actor: Any) -> QuerySet[Antenna]:
    """Ofast antennas and their départements, for the administration pages (those the actor may
    change: capability MANAGE_TERRITORIES)."""
    antennas = policy.restrict(Antenna.objects.all(), actor=actor, action=policy.Action.CHANGE)
    return antennas.prefetch_related(
        Prefetch("departements", queryset=Departement.objects.only("code", "name"))
    ).order_by("name")


def access_antenna(*, actor: Any, pk: Any) -> Antenna:
    """One antenna the actor may change, or 404."""
    return policy.access_object(
        antenna_list(actor=actor), actor=actor, pk=pk, action=policy.Action.CHANGE
    )


# --- users ---------------------------------------------------------------------------------------


def user_list(*, actor: Any, filters: Any = None) -> UserFilterSet:
    """Users the actor may see, filtered by organisation, role, status or name; the listing is
    audited with its filters (it shows names and e-mail addresses)."""
    queryset = (
        policy.restrict(User.objects.all(), actor=actor)
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("organisation").order_by(
                    "organisation__name"
                ),
            )
        )
        .order_by("last_name", "first_name", "username")
    )
    filterset = UserFilterSet(filters or None, queryset=queryset)
    return _listed(filterset, actor=actor, model=User)


def access_user(
    *, actor: Any, pk: Any, action: policy.Action = policy.Action.VIEW, record: bool = True
) -> User:
    user = policy.access_object(User, actor=actor, pk=pk, action=action)
    if record:
        audit_record(actor=actor, action=AuditAction.VIEW, target=user)
    return user


def user_membership_list(*, actor: Any, user: User) -> QuerySet[Membership]:
    visible = policy.restrict(Organisation.objects.all(), actor=actor)
    return (
        Membership.objects.filter(user=user, organisation__in=visible)
        .select_related("organisation")
        .order_by("organisation__name", "role")
    )


def user_api_token_list(*, actor: Any, user: User) -> QuerySet[ApiToken]:
    """The personal API tokens of a user the actor manages (the administration's page of the
    account), newest first, revoked and expired ones included, without their keyed hash.
    Reading them is audited (a LIST of `access.apitoken` naming the account)."""
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=ApiToken._meta.label_lower,
        details={"user": user.pk},
    )
    return (
        policy.restrict(ApiToken.objects.filter(user=user), actor=actor)
        .defer("digest")
        .order_by("-created_at", "-pk")
    )


def access_api_token(*, actor: Any, pk: Any) -> ApiToken:
    """A token of a user the actor may change, for the administration (revocation), or 404."""
    policy.require(actor, policy.Capability.MANAGE_USERS)
    users = policy.restrict(User.objects.all(), actor=actor, action=policy.Action.CHANGE)
    return policy.access_object(
        ApiToken.objects.filter(user__in=users).select_related("user").defer("digest"),
        actor=actor,
        pk=pk,
        action=policy.Action.CHANGE,
    )


def user_has_second_factor(*, user: User) -> bool:
    from django_otp import devices_for_user

    return any(True for _device in devices_for_user(user, confirmed=True))


def access_membership(*, actor: Any, pk: Any) -> Membership:
    """A membership of a user the actor may change, or 404."""
    policy.require(actor, policy.Capability.MANAGE_USERS)
    users = policy.restrict(User.objects.all(), actor=actor, action=policy.Action.CHANGE)
    try:
        return Membership.objects.select_related("user", "organisation").get(pk=pk, user__in=users)
    except (Membership.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


# --- buildings -----------------------------------------------------------------------------------


def building_managed_list(*, actor: Any) -> QuerySet[Building]:
    """The buildings the actor manages: those of its own landlord organisation (the policy's
    CHANGE grant); nobody else's, not even an administrator's."""
    if not policy.can(actor, policy.Capability.MANAGE_BUILDINGS):
        return Building.objects.none()
    audit_record(actor=actor, action=AuditAction.LIST, object_type=Building._meta.label_lower)
    return (
        policy.restrict(Building.objects.all(), actor=actor, action=policy.Action.CHANGE)
        .select_related("commune", "owner_organisation")
        .order_by("owner_organisation__name", "name")
    )


def access_building(*, actor: Any, pk: Any) -> Building:
    """One building the actor manages, or 404; opening it is audited."""
    policy.require(actor, policy.Capability.MANAGE_BUILDINGS)
    building = policy.access_object(
        Building.objects.select_related("commune", "owner_organisation"),
        actor=actor,
        pk=pk,
        action=policy.Action.CHANGE,
    )
    audit_record(
        actor=actor,
        action=AuditAction.VIEW,
        target=building,
        organisation=building.owner_organisation,
    )
    return building


def api_token_list_own(*, actor: Any) -> QuerySet[ApiToken]:
    """The actor's own API tokens, newest first (the page of their account)."""
    return policy.restrict(ApiToken.objects.filter(user_id=actor.pk), actor=actor).order_by(
        "-created_at", "-pk"
    )
