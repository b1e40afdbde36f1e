"""The one place where Cartostup decides who may see or do what (design §4, style habit 4).

Deny by default: a model the policy does not know yields nothing, a capability no role grants is
refused, and an object the actor may not see answers 404 (never 403, which would confirm that it
exists). Views, API and selectors call `restrict`, `access_object`, `require` or `can`; they never
compare roles themselves. Domain apps declare what is specific to their records as data
(`register_record_rules`); the policy applies it and never imports a domain app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from cartostup.core.audit import VIA_API_TOKEN, audit_record
from cartostup.core.choices import AuditAction
from cartostup.territories.models import Antenna, Commune, Departement, PriorityNeighbourhood

from .choices import LAW_ENFORCEMENT_KINDS, Distribution, Marking, OrganisationKind, Role
from .models import ApiToken, Organisation, ProtectedRecord, SharingGroup, User

M = TypeVar("M", bound=models.Model)


class Action(StrEnum):
    VIEW = "view"
    CHANGE = "change"
    DELETE = "delete"
    EXPORT = "export"


class Capability(StrEnum):
    """Things a role may do, independent of any one record."""

    USE_WORKSPACE = "use_workspace"
    VIEW_TERRITORIES = "view_territories"
    MANAGE_ORGANISATIONS = "manage_organisations"
    MANAGE_USERS = "manage_users"
    MANAGE_TERRITORIES = "manage_territories"
    BROWSE_AUDIT = "browse_audit"
    MANAGE_BUILDINGS = "manage_buildings"
    KEY_IN_CALLS = "key_in_calls"
    TRIAGE_REPORTS = "triage_reports"
    # The map (/carte/): what each role receives on it is decided per model below
    # (`aggregate_scope`): points, or only counts per hexagon.
    VIEW_MAP = "view_map"
    EDIT_DEALPOINTS = "edit_dealpoints"
    RECORD_OPERATIONS = "record_operations"
    # Personal API tokens (« Jetons d'accès à l'API »): a partner system acts as the user,
    # through this same policy. The roles that read or write records through the API.
    USE_API_TOKENS = "use_api_tokens"


# Kinds that receive records distributed to "the CROSS of the département".
CROSS_DISTRIBUTION_KINDS = frozenset(
    {OrganisationKind.CROSS, OrganisationKind.OFAST_ANTENNA, OrganisationKind.OFAST_CENTRAL}
)

_STAFF_WITH_MAP = {
    Capability.USE_WORKSPACE,
    Capability.VIEW_TERRITORIES,
    Capability.VIEW_MAP,
    Capability.USE_API_TOKENS,
}

ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.ANALYST: frozenset(
        _STAFF_WITH_MAP
        | {
            Capability.TRIAGE_REPORTS,
            Capability.EDIT_DEALPOINTS,
            Capability.RECORD_OPERATIONS,
        }
    ),
    Role.INVESTIGATOR: frozenset(_STAFF_WITH_MAP | {Capability.RECORD_OPERATIONS}),
    Role.MAGISTRATE: frozenset(_STAFF_WITH_MAP),
    Role.PREFECTURE_STAFF: frozenset(_STAFF_WITH_MAP),
    Role.LANDLORD_REFERENT: frozenset(_STAFF_WITH_MAP | {Capability.MANAGE_BUILDINGS}),
    # An operator keys in calls and sees nothing else.
    Role.OPERATOR: frozenset({Capability.USE_WORKSPACE, Capability.KEY_IN_CALLS}),
    Role.AUDITOR: frozenset({Capability.USE_WORKSPACE, Capability.BROWSE_AUDIT}),
    Role.ADMINISTRATOR: frozenset(
        {
            Capability.USE_WORKSPACE,
            Capability.VIEW_TERRITORIES,
            Capability.MANAGE_ORGANISATIONS,
            Capability.MANAGE_USERS,
            Capability.MANAGE_TERRITORIES,
            Capability.BROWSE_AUDIT,
        }
    ),
}


@dataclass(frozen=True)
class MembershipScope:
    """One membership: a role held in one organisation, with that organisation's territory
    (None: national) and sharing groups. Record grants come from the membership that holds
    the role, never from a role held elsewhere."""

    organisation_id: int
    kind: str
    role: str
    departement_ids: frozenset[int] | None
    sharing_group_ids: frozenset[int]


@dataclass(frozen=True)
class ActorContext:
    """What the policy needs to know about a user, computed once per request."""

    user_id: int | None
    memberships: tuple[MembershipScope, ...] = field(default=())

    @property
    def organisation_ids(self) -> frozenset[int]:
        return frozenset(m.organisation_id for m in self.memberships)

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(m.role for m in self.memberships)

    @property
    def capabilities(self) -> frozenset[Capability]:
        granted: set[Capability] = set()
        for role in self.roles:
            granted |= ROLE_CAPABILITIES.get(role, frozenset())
        return frozenset(granted)

    def granting(self, capability: Capability) -> tuple[MembershipScope, ...]:
        """The memberships whose role grants the capability."""
        return tuple(m for m in self.memberships if capability in ROLE_CAPABILITIES.get(m.role, ()))

    def departements_for(self, capability: Capability) -> frozenset[int] | None:
        """The départements where the actor holds the capability (None: all of France)."""
        found: set[int] = set()
        for membership in self.granting(capability):
            if membership.departement_ids is None:
                return None
            found |= membership.departement_ids
        return frozenset(found)


ANONYMOUS = ActorContext(user_id=None)


def actor_context(user: User | AnonymousUser | None) -> ActorContext:
    """The user's memberships (role, organisation, territory), cached on the user object."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ANONYMOUS
    cached = getattr(user, "_cartostup_actor", None)
    if cached is not None:
        return cached
    memberships = list(
        user.memberships.filter(organisation__is_active=True)
        .select_related("organisation")
        .prefetch_related("organisation__departements", "organisation__sharing_groups")
    )
    scopes = []
    for membership in memberships:
        organisation = membership.organisation
        scopes.append(
            MembershipScope(
                organisation_id=organisation.pk,
                kind=organisation.kind,
                role=membership.role,
                departement_ids=None
                if organisation.national_scope
                else frozenset(d.pk for d in organisation.departements.all()),
                sharing_group_ids=frozenset(g.pk for g in organisation.sharing_groups.all()),
            )
        )
    context = ActorContext(user_id=user.pk, memberships=tuple(scopes))
    user._cartostup_actor = context  # type: ignore[union-attr,attr-defined]
    return context


def forget_actor(user: Any) -> None:
    """Drop the cached context (after memberships change)."""
    if hasattr(user, "_cartostup_actor"):
        del user._cartostup_actor


# --- capabilities -------------------------------------------------------------------------------


def can(actor: Any, capability: Capability) -> bool:
    return capability in actor_context(actor).capabilities


# Set by the API's token authentication on the user it returns (`access.api`): the request
# came with that token (its id), not with a session; the audit trail records it too.
API_TOKEN_ATTRIBUTE = VIA_API_TOKEN


def is_verified_member(actor: Any) -> bool:
    """Logged in, second factor verified, own password chosen, and holding a role in an active
    organisation. A request authenticated by a personal API token counts as verified while
    `api_token_may_act` holds: the token was created in a session verified by the second
    factor, and it is itself the credential."""
    if actor is None or not actor.is_authenticated or getattr(actor, "must_change_password", False):
        return False
    if getattr(actor, API_TOKEN_ATTRIBUTE, None) is not None:
        return api_token_may_act(actor) and can(actor, Capability.USE_WORKSPACE)
    verified = getattr(actor, "is_verified", None)
    return bool(verified and verified()) and can(actor, Capability.USE_WORKSPACE)


def api_token_may_act(user: Any) -> bool:
    """Whether a token of this user still acts for them: an active account, its own password
    chosen (not one an administrator just reset), and still a role that uses API tokens. A
    deactivated account, a suspended organisation or a lost role stops every token at once."""
    if user is None or not getattr(user, "is_active", False):
        return False
    if getattr(user, "must_change_password", False):
        return False
    return can(user, Capability.USE_API_TOKENS)


def organisations_for_capability(actor: Any, capability: Capability) -> QuerySet[Organisation]:
    """The active organisations in which the actor holds a role granting the capability (e.g.
    the landlords whose buildings a referent manages)."""
    context = actor_context(actor)
    if context.user_id is None:
        return Organisation.objects.none()
    roles = [role for role, granted in ROLE_CAPABILITIES.items() if capability in granted]
    return Organisation.objects.filter(
        is_active=True, memberships__user_id=context.user_id, memberships__role__in=roles
    ).distinct()


# Kinds that consolidate the operations of every service of their territory (the CROSS's
# « pilotage renforcé », Ofast across its antennas): their members may record an operation in
# the name of the service that carried it out.
OPERATION_CONSOLIDATING_KINDS = CROSS_DISTRIBUTION_KINDS


def _operation_services_q(actor: Any, *, departement_id: int | None) -> Q:
    """The organisations in whose name the actor may record an operation on a point of
    `departement_id`, active or not (see `operation_services`)."""
    context = actor_context(actor)
    granting = context.granting(Capability.RECORD_OPERATIONS)
    allowed = Q(pk__in=[membership.organisation_id for membership in granting])
    if any(
        membership.kind in OPERATION_CONSOLIDATING_KINDS
        and (membership.departement_ids is None or departement_id in membership.departement_ids)
        for membership in granting
    ):
        allowed |= Q(kind__in=LAW_ENFORCEMENT_KINDS) & (
            Q(national_scope=True) | Q(departements__id=departement_id)
        )
    return allowed


def operation_services(actor: Any, *, departement_id: int | None) -> QuerySet[Organisation]:
    """The active services in whose name the actor may record an operation on a point of
    `departement_id`: the organisations where it holds a role that records operations, and,
    when that organisation is a CROSS or Ofast covering the département, every active
    law-enforcement service working there (or nationally): the police commissariat, the
    gendarmerie or the customs that carried out the raid."""
    return Organisation.objects.filter(
        _operation_services_q(actor, departement_id=departement_id), is_active=True
    ).distinct()


def cancellable_operations(
    actor: Any, operations: QuerySet[M], *, departement_id: int | None
) -> QuerySet[M]:
    """Of `operations` (on points of `departement_id` the caller has checked the actor sees),
    those it may cancel as recorded by mistake: whoever could record one may undo it, so those
    in the name of a service of `operation_services` (the actor's own service, or for a CROSS
    or Ofast covering the département any law-enforcement service there), a service closed
    since included (its mistakes must still be undone); not another's."""
    services = Organisation.objects.filter(
        _operation_services_q(actor, departement_id=departement_id)
    )
    return operations.filter(service__in=services.values("pk"))


def distributable_sharing_groups(actor: Any, *, kept: int | None = None) -> QuerySet[SharingGroup]:
    """The sharing groups the actor may distribute a record to: those its organisations
    belong to (a group it is not in would make a record it then no longer reads); and `kept`,
    the group of the record a new one is made of (a point split off another: the same
    material, never shared wider, which its owner may split without being in that group)."""
    context = actor_context(actor)
    allowed = Q(organisations__in=context.organisation_ids)
    if kept is not None:
        allowed |= Q(pk=kept)
    return SharingGroup.objects.filter(allowed).distinct()


def require(actor: Any, capability: Capability) -> None:
    """Refuse with 404 (the page does not exist for this actor). An API client is told it is
    its role (a capability is no secret; « Non trouvé. » read as a wrong address)."""
    if not can(actor, capability):
        raise Http404(_("Votre rôle ne donne pas accès à cette fonction."))


# --- records declared by domain apps -------------------------------------------------------------


@dataclass(frozen=True)
class RecordRules:
    """What a domain app declares about one protected model.

    - `roles`: roles that may see the model's records at all through distribution;
    - `owner_roles`: roles that may see records their own organisation owns (defaults to all);
    - `fields_by_role`: for roles that see a reduced view, the fields they receive;
    - `scoped_by`: extra read grants, as `{organisation kind: lookup}`, where the lookup names
      the organisation a record is tied to (e.g. a landlord's building) and lets that
      organisation see (never change) the record.
    """

    roles: frozenset[str] = frozenset({Role.ANALYST, Role.INVESTIGATOR})
    owner_roles: frozenset[str] | None = None
    fields_by_role: dict[str, tuple[str, ...]] = field(default_factory=dict)
    scoped_by: dict[str, str] = field(default_factory=dict)
    # Kinds of organisation that may also change the records of the départements they cover
    # (with a role in `roles`), e.g. Ofast analysts triaging the reports of their territory.
    territory_editor_kinds: frozenset[str] = frozenset()
    # Roles of the `scoped_by` organisations that receive those records.
    scoped_roles: frozenset[str] = frozenset({Role.LANDLORD_REFERENT})
    # For roles with a reduced view, the values they are told in place of the stored ones,
    # as `{role: {field: {stored: told}}}` (`told_values`).
    values_by_role: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    # Whether the tie reaches only the records the services share beyond themselves
    # (`_SHARED_WITH_PARTNERS`): a deal point yes; a landlord's own report no (it filed it).
    scoped_shared_only: bool = False
    # Roles that never receive the records themselves but may count those of their territory
    # on the map, per hexagon, with small counts hidden (`aggregate_scope`).
    aggregate_roles: frozenset[str] = frozenset()
    # The record fields those roles may filter their counts on: a finer filter (a product, a
    # day), differenced with the unfiltered count of a hexagon, would tell one point's attribute.
    aggregate_filters: frozenset[str] = frozenset()


_RECORD_RULES: dict[type[models.Model], RecordRules] = {}


def register_record_rules(model: type[ProtectedRecord], rules: RecordRules) -> None:
    _RECORD_RULES[model] = rules


def _territory_q(departement_ids: frozenset[int] | None, prefix: str = "") -> Q:
    if departement_ids is None:
        # Every row. Not `Q()`: an empty Q vanishes when OR-ed (`Q(a) | Q()` is `Q(a)`).
        return Q(pk__isnull=False)
    return Q(**{f"{prefix}departement__in": departement_ids})


# What a scoped tie reaches when the rules say `scoped_shared_only`: the records the services
# share beyond themselves (distribution territory or national) and whose marking lets them
# leave the services (not TLP:AMBER+STRICT or RED). A deal point kept within a CROSS, a sharing
# group or its owner, or marked strictly, is not shown to the landlord of its building.
_SHARED_WITH_PARTNERS = Q(distribution__in=[Distribution.TERRITORY, Distribution.NATIONAL]) & ~Q(
    marking__in=[Marking.AMBER_STRICT, Marking.RED]
)


def _protected_q(model: type[models.Model], context: ActorContext, action: Action) -> Q:
    rules = _RECORD_RULES.get(model)
    if rules is None or context.user_id is None:
        return Q(pk__in=[])
    grant = Q(pk__in=[])
    owners = frozenset(
        m.organisation_id
        for m in context.memberships
        if rules.owner_roles is None or m.role in rules.owner_roles
    )
    grant |= Q(owner_organisation__in=owners)
    # Memberships whose role the rules name: only they receive records beyond their own.
    readers = [m for m in context.memberships if m.role in rules.roles]
    if action != Action.VIEW and action != Action.EXPORT:
        # The owner organisation changes its records, and the declared territory editors
        # those of their territory that they may read: a point its CROSS keeps to itself, or
        # to a group they are not in, is neither read nor changed by them (an audit: Ofast
        # opened such a point's edit form, and widened its sharing).
        edited = Q(pk__in=[])
        for membership in readers:
            if membership.kind in rules.territory_editor_kinds:
                edited |= _territory_q(membership.departement_ids)
        return grant | (edited & _protected_q(model, context, Action.VIEW))
    for kind, lookup in rules.scoped_by.items():
        tied = [
            m.organisation_id
            for m in context.memberships
            if m.kind == kind and m.role in rules.scoped_roles
        ]
        if tied:
            tie = Q(**{f"{lookup}__in": tied})
            grant |= tie & _SHARED_WITH_PARTNERS if rules.scoped_shared_only else tie
    for membership in readers:
        if membership.kind not in LAW_ENFORCEMENT_KINDS:
            continue
        territory = _territory_q(membership.departement_ids)
        grant |= Q(distribution=Distribution.NATIONAL)
        grant |= Q(distribution=Distribution.TERRITORY) & territory
        if membership.kind in CROSS_DISTRIBUTION_KINDS:
            grant |= Q(distribution=Distribution.CROSS) & territory
        if membership.sharing_group_ids:
            grant |= Q(
                distribution=Distribution.SHARING_GROUP,
                sharing_group__in=membership.sharing_group_ids,
            )
    if action == Action.EXPORT:
        # TLP:RED never leaves its owner; AMBER+STRICT stays within the owner organisation.
        grant &= ~Q(marking__in=[Marking.RED, Marking.AMBER_STRICT]) | Q(
            owner_organisation__in=owners
        )
    return grant


def _receives_records(rules: RecordRules, role: str) -> bool:
    """Whether a role receives the model's records at all: by distribution, as their owner
    or through a scoped tie (a landlord's buildings)."""
    return (
        role in rules.roles
        or rules.owner_roles is None
        or role in rules.owner_roles
        or role in rules.scoped_roles
    )


@dataclass(frozen=True)
class AggregateScope:
    """What an actor may receive of a model's records on the map.

    - `queryset`: the rows the actor may count;
    - `coordinates`: whether the actor may receive individual records (positions) at all;
    - `min_count`: a hexagon counting fewer rows is not shown (1: every hexagon);
    - `filter_fields`: the record fields the counts may be filtered on (None: any);
    - `one_value_each`: each filter takes one value at a time (two statuses asked together,
      differenced with one, would name the status of a point a hexagon hides)."""

    queryset: QuerySet[Any]
    coordinates: bool
    min_count: int
    filter_fields: frozenset[str] | None = None
    one_value_each: bool = False


def _aggregate_only(context: ActorContext, rules: RecordRules) -> list[MembershipScope]:
    """The memberships through which the actor only counts the model's records (empty when
    another of its roles receives them: a role that receives records wins)."""
    aggregate_only = [m for m in context.memberships if m.role in rules.aggregate_roles]
    receives_records = any(
        _receives_records(rules, m.role)
        for m in context.memberships
        if m.role not in rules.aggregate_roles
    )
    return [] if receives_records else aggregate_only


def _counting_memberships(actor: Any, model: type[models.Model]) -> list[MembershipScope]:
    """The memberships through which the actor only counts the model's records (none for an
    anonymous actor or a model without rules)."""
    context = actor_context(actor)
    rules = _RECORD_RULES.get(model)
    if context.user_id is None or rules is None:
        return []
    return _aggregate_only(context, rules)


def counts_only(actor: Any, model: type[models.Model]) -> bool:
    """Whether this actor only counts the model's records (`aggregate_scope`): pages say so
    rather than promise lists and records it will not receive."""
    return bool(_counting_memberships(actor, model))


def aggregate_scope(queryset: QuerySet[M], *, actor: Any) -> AggregateScope:
    """The map's view of `queryset` for this actor. Roles declared in the model's
    `aggregate_roles` (a prefecture, a prosecutor's office) count the records of their
    territory but never receive a position, and hexagons with fewer than
    `CARTOSTUP_MIN_AGGREGATE` records are hidden from them, and they filter only on the
    model's `aggregate_filters`. Everyone else counts and sees exactly what `restrict` gives
    them."""
    from django.conf import settings

    aggregate_only = _counting_memberships(actor, queryset.model)
    if not aggregate_only:
        return AggregateScope(
            queryset=restrict(queryset, actor=actor), coordinates=True, min_count=1
        )
    rules = _RECORD_RULES[queryset.model]
    territory = Q(pk__in=[])
    for membership in aggregate_only:
        territory |= _territory_q(membership.departement_ids)
    return AggregateScope(
        queryset=queryset.filter(territory),
        coordinates=False,
        min_count=max(1, int(getattr(settings, "CARTOSTUP_MIN_AGGREGATE", 3))),
        filter_fields=rules.aggregate_filters,
        one_value_each=True,
    )


class FilterRefusal(StrEnum):
    """Why a filter is refused (`refused_filters`)."""

    # The actor only counts the records (a prefecture, a prosecutor's office).
    AGGREGATE = "aggregate"
    # The actor receives a reduced view of them (a landlord).
    REDUCED = "reduced"


def filter_fields(actor: Any, model: type[models.Model]) -> frozenset[str] | None:
    """The record fields this actor may filter the model's records on (None: any): for an
    aggregate-only role, the model's `aggregate_filters`; for a reduced view, the fields it
    receives (`visible_fields`), since a filter on another field would tell its value."""
    rules = _RECORD_RULES.get(model)
    context = actor_context(actor)
    if rules is not None and context.user_id is not None and _aggregate_only(context, rules):
        return rules.aggregate_filters
    visible = visible_fields(actor, model)
    return None if visible is None else frozenset(visible)


def refused_filters(
    actor: Any, model: type[models.Model], reads: Mapping[str, Iterable[str]]
) -> dict[str, FilterRefusal]:
    """Of the filters asked, given as `{parameter: the fields of the model's records it
    reads}` (a related record's field as a lookup path: `operations__occurred_on`), those
    this actor may not use, each with why (`filter_fields`). Deny by default: a filter that
    reads a field the rules do not open to the actor is refused, whichever layer, list or
    export sends it; the caller refuses the request (a dropped filter reads as applied: the
    whole count of a hexagon read as "24 crack points", or a period that would date the last
    activity of one point of a hexagon)."""
    allowed = filter_fields(actor, model)
    if allowed is None:
        return {}
    rules = _RECORD_RULES.get(model)
    context = actor_context(actor)
    why = (
        FilterRefusal.AGGREGATE
        if rules is not None and _aggregate_only(context, rules)
        else FilterRefusal.REDUCED
    )
    return {
        name: why for name, fields in reads.items() if not all(field in allowed for field in fields)
    }


def visible_fields(actor: Any, model: type[models.Model]) -> tuple[str, ...] | None:
    """The fields this actor may receive for the model's records; None means all."""
    rules = _RECORD_RULES.get(model)
    if rules is None:
        return None
    context = actor_context(actor)
    reduced = [rules.fields_by_role[role] for role in context.roles if role in rules.fields_by_role]
    # Only a role that receives whole records widens the view to every field: a role that
    # receives none (prefecture staff, an auditor) held beside a reduced one must not turn
    # the reduced view into the whole record.
    full = [
        role
        for role in context.roles
        if role not in rules.fields_by_role and _receives_records(rules, role)
    ]
    if full or not reduced:
        return None
    return tuple(sorted({name for names in reduced for name in names}))


def told_values(actor: Any, model: type[models.Model]) -> dict[str, dict[str, str]]:
    """The values this actor is told in place of the stored ones, per field, as
    `{field: {stored: told}}`: empty for those who receive whole records (`visible_fields`
    None), the reduced roles' declared `values_by_role` otherwise. A stored value absent from
    a field's mapping is told as it is."""
    rules = _RECORD_RULES.get(model)
    if rules is None or visible_fields(actor, model) is None:
        return {}
    told: dict[str, dict[str, str]] = {}
    for role in actor_context(actor).roles:
        for name, mapping in rules.values_by_role.get(role, {}).items():
            told.setdefault(name, {}).update(mapping)
    return told


def stored_values(
    actor: Any, model: type[models.Model], name: str, told: Iterable[str]
) -> list[str]:
    """The stored values of a field that this actor is told as one of `told` (`told_values`),
    for its filters: a filter on a value told in place of others matches all of them, and a
    stored value the actor is never told matches nothing."""
    mapping = told_values(actor, model).get(name, {})
    wanted = set(told)
    choices = getattr(model._meta.get_field(name), "choices", None) or ()
    return [value for value, _label in choices if mapping.get(value, value) in wanted]


def told_row(row: dict[str, Any], told: dict[str, dict[str, str]]) -> dict[str, Any]:
    """`row` (field → stored value) with the values `told` (`told_values`) says to tell in
    their place; changed in place and returned."""
    for name, mapping in told.items():
        if name in row:
            row[name] = mapping.get(row[name], row[name])
    return row


def told_choices(actor: Any, model: type[models.Model], name: str) -> list[tuple[str, str]]:
    """The choices of a field this actor can be told, for its filter forms and legends (a
    value told only as another is left out: a landlord is never told "under
    investigation")."""
    mapping = told_values(actor, model).get(name, {})
    hidden = set(mapping) - set(mapping.values())
    choices = getattr(model._meta.get_field(name), "choices", None) or ()
    return [(value, str(label)) for value, label in choices if value not in hidden]


# --- models the access app and the territories app own ---------------------------------------


def _organisation_q(context: ActorContext, action: Action) -> Q:
    if Capability.MANAGE_ORGANISATIONS in context.capabilities:
        return Q()
    if action == Action.VIEW:
        return Q(pk__in=context.organisation_ids)
    return Q(pk__in=[])


def _user_q(context: ActorContext, action: Action) -> Q:
    if Capability.MANAGE_USERS in context.capabilities:
        return Q()
    return Q(pk=context.user_id) if context.user_id else Q(pk__in=[])


def _departement_q(context: ActorContext, action: Action) -> Q:
    if action != Action.VIEW:
        return Q() if Capability.MANAGE_TERRITORIES in context.capabilities else Q(pk__in=[])
    if Capability.VIEW_TERRITORIES not in context.capabilities:
        return Q(pk__in=[])
    if Capability.MANAGE_TERRITORIES in context.capabilities:
        return Q()
    departement_ids = context.departements_for(Capability.VIEW_TERRITORIES)
    return Q() if departement_ids is None else Q(pk__in=departement_ids)


def _in_visible_departement_q(context: ActorContext, action: Action) -> Q:
    visible = _departement_q(context, Action.VIEW)
    return (
        Q(departement__in=Departement.objects.filter(visible))
        if action == Action.VIEW
        else Q(pk__in=[])
    )


def _antenna_q(context: ActorContext, action: Action) -> Q:
    # Reference data: anyone who sees territories sees antennas; administrators change them.
    capability = (
        Capability.VIEW_TERRITORIES if action == Action.VIEW else Capability.MANAGE_TERRITORIES
    )
    return Q() if capability in context.capabilities else Q(pk__in=[])


def _sharing_group_q(context: ActorContext, action: Action) -> Q:
    if Capability.MANAGE_ORGANISATIONS in context.capabilities:
        return Q()
    if action == Action.VIEW:
        return Q(pk__in={g for m in context.memberships for g in m.sharing_group_ids})
    return Q(owner_organisation__in=context.organisation_ids)


def _api_token_q(context: ActorContext, action: Action) -> Q:
    """Everyone sees and revokes their own tokens; an administrator (who manages every user)
    sees and revokes the tokens of the users it manages. Nobody changes another's token
    otherwise."""
    if context.user_id is None:
        return Q(pk__in=[])
    if Capability.MANAGE_USERS in context.capabilities:
        return Q()
    return Q(user_id=context.user_id)


def _audit_event_q(context: ActorContext, action: Action) -> Q:
    if action == Action.VIEW and Capability.BROWSE_AUDIT in context.capabilities:
        return Q()
    return Q(pk__in=[])


_MODEL_RULES = {
    Organisation: _organisation_q,
    User: _user_q,
    Departement: _departement_q,
    Commune: _in_visible_departement_q,
    PriorityNeighbourhood: _in_visible_departement_q,
    SharingGroup: _sharing_group_q,
    Antenna: _antenna_q,
    ApiToken: _api_token_q,
}


def _model_q(model: type[models.Model], context: ActorContext, action: Action) -> Q:
    from cartostup.core.models import AuditEvent  # core does not import access at load time

    if model is AuditEvent:
        return _audit_event_q(context, action)
    rule = _MODEL_RULES.get(model)
    if rule is not None:
        return rule(context, action)
    if issubclass(model, ProtectedRecord):
        return _protected_q(model, context, action)
    return Q(pk__in=[])


def restrict(queryset: QuerySet[M], *, actor: Any, action: Action = Action.VIEW) -> QuerySet[M]:
    """The rows of `queryset` the actor may act on."""
    context = actor_context(actor)
    if context.user_id is None:
        return queryset.none()
    return queryset.filter(_model_q(queryset.model, context, action)).distinct()


def access_object(
    queryset: QuerySet[M] | type[M],
    *,
    actor: Any,
    pk: Any,
    action: Action = Action.VIEW,
    audit_refusal: bool = False,
) -> M:
    """Fetch one object and authorise in one call; 404 if absent or not permitted."""
    return access_object_by(
        queryset, actor=actor, field="id", value=pk, action=action, audit_refusal=audit_refusal
    )


def access_object_by(
    queryset: QuerySet[M] | type[M],
    *,
    actor: Any,
    field: str,
    value: Any,
    action: Action = Action.VIEW,
    audit_refusal: bool = False,
) -> M:
    """Fetch one object by a unique field and authorise in one call; 404 if absent or not
    permitted. An actor with a reduced view finds records only by a field it receives: one
    not told a point's id (a landlord, told its partner code) gets 404 for an id, as for an
    absent record, whether the record exists or not.

    `audit_refusal` (a person's read of a record: its page, its panel, the API's detail):
    refusing a record that exists leaves an « Accès refusé » event naming it, so that an
    actor trying the references of records it may not see shows in the audit trail. The
    answer is the same 404 as for an absent record. The event is written in the caller's
    transaction, when there is one (a read has none)."""
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    lookup = "pk" if field == "id" else field
    fields = visible_fields(actor, queryset.model)
    try:
        if fields is not None and field not in fields:
            raise ObjectDoesNotExist
        return restrict(queryset, actor=actor, action=action).get(**{lookup: value})
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        if audit_refusal:
            _audit_refusal(queryset, actor=actor, lookup=lookup, value=value, action=action)
        raise Http404 from exc


def _audit_refusal(
    queryset: QuerySet[Any], *, actor: Any, lookup: str, value: Any, action: Action
) -> None:
    """Record that the actor was refused a record that exists among those the caller asks
    from (`queryset`, unrestricted: a merged point's code, which the points standing on their
    own do not hold, is absent, not refused; see `access_object_by`)."""
    try:
        pk = queryset.filter(**{lookup: value}).values_list("pk", flat=True).first()
    except (ValueError, TypeError):
        return
    if pk is None:
        return
    audit_record(
        actor=actor,
        action=AuditAction.REFUSED,
        object_type=queryset.model._meta.label_lower,
        object_id=str(pk),
        details={"action": str(action)},
    )


def assignable_roles(organisation_kind: str) -> Iterable[str]:
    """The roles that make sense in an organisation of this kind (used to validate memberships)."""
    # Administrators and auditors act nationally: only in the platform's administration.
    by_kind: dict[str, set[str]] = {
        OrganisationKind.OFAST_CENTRAL: {Role.ANALYST, Role.INVESTIGATOR},
        OrganisationKind.OFAST_ANTENNA: {Role.ANALYST, Role.INVESTIGATOR},
        OrganisationKind.CROSS: {Role.ANALYST, Role.INVESTIGATOR},
        OrganisationKind.POLICE: {Role.ANALYST, Role.INVESTIGATOR},
        OrganisationKind.GENDARMERIE: {Role.ANALYST, Role.INVESTIGATOR},
        OrganisationKind.CUSTOMS: {Role.ANALYST, Role.INVESTIGATOR},
        OrganisationKind.PROSECUTOR: {Role.MAGISTRATE},
        OrganisationKind.PREFECTURE: {Role.PREFECTURE_STAFF},
        OrganisationKind.LANDLORD: {Role.LANDLORD_REFERENT},
        OrganisationKind.CALL_PLATFORM: {Role.OPERATOR},
        OrganisationKind.ADMINISTRATION: {Role.ADMINISTRATOR, Role.AUDITOR},
    }
    return sorted(by_kind.get(organisation_kind, set()))


def conflicting_roles(role: str, held: Iterable[str]) -> list[str]:
    """The roles among `held` that one account may not hold together with `role`: for some
    model, one of them receives a reduced view of the records (a landlord referent, those of
    its buildings) and the other whole records (an analyst, an investigator). What an account
    receives of a record is decided per account (`visible_fields`), so such an account would
    receive whole records of the points on the landlord's buildings: two accounts are needed.
    Likewise a role that browses the audit trail (an auditor, an administrator), which names
    every record read, with its reference and the statuses it went through, is not held
    beside a reduced view."""

    def whole(rules: RecordRules, name: str) -> bool:
        owner = rules.owner_roles is not None and name in rules.owner_roles
        return name not in rules.fields_by_role and (name in rules.roles or owner)

    def reduced(name: str) -> bool:
        return any(name in rules.fields_by_role for rules in _RECORD_RULES.values())

    def audits(name: str) -> bool:
        return Capability.BROWSE_AUDIT in ROLE_CAPABILITIES.get(name, frozenset())

    by_records = {
        other
        for other in held
        for rules in _RECORD_RULES.values()
        if (role in rules.fields_by_role and whole(rules, other))
        or (other in rules.fields_by_role and whole(rules, role))
    }
    by_audit = {
        other
        for other in held
        if (reduced(role) and audits(other)) or (reduced(other) and audits(role))
    }
    return sorted(by_records | by_audit)


def may_grant_membership(actor: Any, user: Any) -> bool:
    """Nobody changes their own memberships (an administrator cannot raise their own rights)."""
    return can(actor, Capability.MANAGE_USERS) and getattr(actor, "pk", None) != getattr(
        user, "pk", None
    )
