"""The access policy: deny by default, distribution and territory, 404 for the invisible."""

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.http import Http404

from cartostup.access import policy
from cartostup.access.choices import Distribution, Marking
from cartostup.access.models import Building, Organisation, SharingGroup
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.territories.models import Commune, Departement

pytestmark = pytest.mark.django_db


def make_building(owner_name: str, *, distribution=Distribution.ORGANISATION, **extra):
    commune = Commune.objects.get(code="13214")
    return Building.objects.create(
        owner_organisation=Organisation.objects.get(name=owner_name),
        commune=commune,
        departement=commune.departement,
        distribution=distribution,
        name="Bâtiment B",
        address="1 chemin de test, 13014 Marseille",
        latitude=43.3390,
        longitude=5.3890,
        h3_cell="8d3969a4c9b553f",
        **extra,
    )


HABITAT = "Habitat Phocéen (bailleur fictif)"


def visible(user, obj, action=policy.Action.VIEW) -> bool:
    return (
        policy.restrict(type(obj).objects.all(), actor=user, action=action)
        .filter(pk=obj.pk)
        .exists()
    )


def test_anonymous_sees_nothing():
    building = make_building(HABITAT, distribution=Distribution.NATIONAL)
    assert not visible(AnonymousUser(), building)
    assert not policy.restrict(Departement.objects.all(), actor=AnonymousUser()).exists()


def test_unknown_model_is_denied_to_everyone(persona):
    for name in ("admin", "ofast_analyst", "cross13_analyst"):
        assert not policy.restrict(Permission.objects.all(), actor=persona(name)).exists()


def test_owner_only_record(persona):
    building = make_building(HABITAT)
    assert visible(persona("landlord_13h"), building)
    for name in ("landlord_13l", "cross13_analyst", "ofast_analyst", "admin", "prefecture_13"):
        assert not visible(persona(name), building), name
    with pytest.raises(Http404):
        policy.access_object(Building, actor=persona("landlord_13l"), pk=building.pk)


def test_territory_distribution_reaches_law_enforcement_of_the_departement(persona):
    building = make_building(HABITAT, distribution=Distribution.TERRITORY)
    for name in ("cross13_analyst", "police13_investigator", "antenna13_analyst", "ofast_analyst"):
        assert visible(persona(name), building), name
    for name in ("cross93_analyst", "prefecture_13", "prosecutor_13", "caller_operator", "admin"):
        assert not visible(persona(name), building), name


def test_cross_distribution_stays_with_cross_and_ofast(persona):
    building = make_building(HABITAT, distribution=Distribution.CROSS)
    assert visible(persona("cross13_analyst"), building)
    assert visible(persona("antenna13_analyst"), building)
    assert not visible(persona("police13_investigator"), building)
    assert not visible(persona("cross93_analyst"), building)


def test_national_distribution(persona):
    building = make_building(HABITAT, distribution=Distribution.NATIONAL)
    assert visible(persona("cross93_analyst"), building)
    assert not visible(persona("landlord_13l"), building)


def test_sharing_group(persona):
    police = Organisation.objects.get(name="Police nationale – DIPN 13")
    customs = Organisation.objects.get(name="Direction régionale des douanes de Marseille")
    group = SharingGroup.objects.create(name="Groupe port", owner_organisation=police)
    group.organisations.set([police, customs])
    building = make_building(HABITAT, distribution=Distribution.SHARING_GROUP, sharing_group=group)
    assert visible(persona("customs13_investigator"), building)
    assert visible(persona("police13_investigator"), building)
    assert not visible(persona("gendarmerie13_investigator"), building)


def test_only_owner_changes(persona):
    building = make_building(HABITAT, distribution=Distribution.NATIONAL)
    assert visible(persona("landlord_13h"), building, policy.Action.CHANGE)
    assert not visible(persona("cross13_analyst"), building, policy.Action.CHANGE)


def test_red_marking_is_never_exported_by_others(persona):
    building = make_building(HABITAT, distribution=Distribution.TERRITORY, marking=Marking.RED)
    assert visible(persona("cross13_analyst"), building)
    assert not visible(persona("cross13_analyst"), building, policy.Action.EXPORT)
    assert visible(persona("landlord_13h"), building, policy.Action.EXPORT)


def test_reduced_fields_for_landlords(persona):
    fields = policy.visible_fields(persona("landlord_13h"), Building)
    assert fields is not None and "address" in fields and "distribution" not in fields
    assert policy.visible_fields(persona("cross13_analyst"), Building) is None


def test_departements_follow_the_territory_scope(persona):
    codes = set(
        policy.restrict(Departement.objects.all(), actor=persona("cross13_analyst")).values_list(
            "code", flat=True
        )
    )
    assert codes == {"13"}
    assert policy.restrict(Departement.objects.all(), actor=persona("ofast_analyst")).count() > 90
    assert not policy.restrict(Departement.objects.all(), actor=persona("caller_operator")).exists()
    with pytest.raises(Http404):
        policy.access_object(
            Departement, actor=persona("cross13_analyst"), pk=Departement.objects.get(code="93").pk
        )


def test_organisations(persona):
    assert policy.restrict(Organisation.objects.all(), actor=persona("admin")).count() == (
        Organisation.objects.count()
    )
    own = policy.restrict(Organisation.objects.all(), actor=persona("cross13_analyst"))
    assert list(own.values_list("name", flat=True)) == ["CROSS des Bouches-du-Rhône"]
    assert not policy.restrict(
        Organisation.objects.all(), actor=persona("cross13_analyst"), action=policy.Action.CHANGE
    ).exists()


def test_audit_trail_only_for_auditors_and_administrators(persona):
    audit_record(actor=persona("cross13_analyst"), action=AuditAction.SEARCH, object_type="x")
    for name in ("auditor", "admin"):
        assert policy.restrict(AuditEvent.objects.all(), actor=persona(name)).exists(), name
    for name in ("cross13_analyst", "ofast_analyst", "prefecture_13"):
        assert not policy.restrict(AuditEvent.objects.all(), actor=persona(name)).exists(), name


def test_capabilities_answer_404(persona):
    policy.require(persona("admin"), policy.Capability.MANAGE_USERS)
    with pytest.raises(Http404):
        policy.require(persona("cross13_analyst"), policy.Capability.MANAGE_USERS)
    assert not policy.can(persona("caller_operator"), policy.Capability.VIEW_TERRITORIES)


def test_inactive_organisation_grants_nothing(persona):
    user = persona("cross13_analyst")
    Organisation.objects.filter(name="CROSS des Bouches-du-Rhône").update(is_active=False)
    policy.forget_actor(user)
    assert not policy.can(user, policy.Capability.VIEW_TERRITORIES)


def test_a_role_grants_only_through_the_organisation_that_holds_it(persona):
    """An investigator of police 13 who also holds another role (one that receives no records)
    in the CROSS of Seine-Saint-Denis gets nothing of département 93 through the investigator
    role."""
    from cartostup.access.models import Membership

    user = persona("police13_investigator")
    Membership.objects.create(
        user=user,
        organisation=Organisation.objects.get(name="CROSS de la Seine-Saint-Denis"),
        role="auditor",
    )
    policy.forget_actor(user)
    commune = Commune.objects.get(code="93066")
    landlord = Organisation.objects.get(name="Plaine Habitat (bailleur fictif)")
    building_93 = Building.objects.create(
        owner_organisation=landlord,
        commune=commune,
        departement=commune.departement,
        distribution=Distribution.TERRITORY,
        name="Bâtiment 93",
        address="1 rue de test, 93200 Saint-Denis",
        latitude=48.936,
        longitude=2.357,
        h3_cell="8d1fb46622dc03f",
    )
    building_13 = make_building(HABITAT, distribution=Distribution.TERRITORY)
    assert visible(user, building_13)
    assert not visible(user, building_93)


def test_administrators_and_auditors_only_in_the_platform_administration():
    from cartostup.access.choices import OrganisationKind, Role

    assert Role.ADMINISTRATOR not in policy.assignable_roles(OrganisationKind.LANDLORD)
    assert Role.AUDITOR not in policy.assignable_roles(OrganisationKind.CROSS)
    assert Role.ADMINISTRATOR in policy.assignable_roles(OrganisationKind.ADMINISTRATION)


def test_nobody_changes_their_own_memberships(persona):
    from django.core.exceptions import ValidationError

    from cartostup.access.services import membership_create

    admin = persona("admin")
    with pytest.raises(ValidationError):
        membership_create(
            actor=admin,
            user=admin,
            organisation=Organisation.objects.get(name="Ofast – office central"),
            role="analyst",
        )
