"""Administration services: authorisation first (404), validation in French, one audit event."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartostup.access import policy, services
from cartostup.access.choices import Distribution, OrganisationKind, Role
from cartostup.access.models import Building, Membership, Organisation, SharingGroup, User
from cartostup.core.audit import audit_chain_problems
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.territories.models import Antenna, Departement

pytestmark = pytest.mark.django_db

HABITAT = "Habitat Phocéen (bailleur fictif)"
LITTORAL = "Logis du Littoral (bailleur fictif)"
# Résidence in Marseille 14e (13214).
MARSEILLE_14 = (43.3452, 5.3949)


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-sequence")[0]


def departements(*codes: str) -> list[Departement]:
    return list(Departement.objects.filter(code__in=codes))


# --- organisations -------------------------------------------------------------------------------


def test_admin_creates_organisation_with_audit_event(persona):
    admin = persona("admin")
    organisation = services.organisation_create(
        actor=admin,
        name="Commissariat de Saint-Denis",
        kind=OrganisationKind.POLICE,
        departements=departements("93"),
    )
    assert set(organisation.departements.values_list("code", flat=True)) == {"93"}
    event = last_event()
    assert event.action == AuditAction.CREATE
    assert (event.object_type, event.object_id) == ("access.organisation", str(organisation.pk))
    assert event.actor_username == "admin"
    assert "name" in event.details["fields"]
    assert "Commissariat" not in str(event.details)  # references, not values
    assert list(audit_chain_problems()) == []


def test_admin_updates_organisation_and_records_changed_fields(persona):
    admin = persona("admin")
    organisation = Organisation.objects.get(name="CROSS du Rhône")
    services.organisation_update(
        actor=admin,
        organisation=organisation,
        name="CROSS du Rhône et de la métropole",
        kind=organisation.kind,
        national_scope=False,
        departements=departements("69", "01"),
        is_active=True,
    )
    organisation.refresh_from_db()
    assert organisation.name == "CROSS du Rhône et de la métropole"
    event = last_event()
    assert event.action == AuditAction.UPDATE
    assert event.object_id == str(organisation.pk)
    assert event.details["fields"] == ["name", "departements"]


def test_unchanged_organisation_writes_no_event(persona):
    admin = persona("admin")
    organisation = Organisation.objects.get(name="CROSS du Rhône")
    before = AuditEvent.objects.count()
    services.organisation_update(
        actor=admin,
        organisation=organisation,
        name=organisation.name,
        kind=organisation.kind,
        national_scope=False,
        departements=list(organisation.departements.all()),
        is_active=True,
    )
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("name", ["cross13_analyst", "auditor", "landlord_13h", "ofast_analyst"])
def test_non_admin_cannot_create_or_change_organisations(persona, name):
    user = persona(name)
    before = AuditEvent.objects.count()
    with pytest.raises(Http404):
        services.organisation_create(
            actor=user, name="X", kind=OrganisationKind.POLICE, departements=departements("13")
        )
    own = Organisation.objects.filter(memberships__user=user)[0]
    with pytest.raises(Http404):
        services.organisation_update(
            actor=user,
            organisation=own,
            name="Renamed",
            kind=own.kind,
            national_scope=own.national_scope,
            departements=list(own.departements.all()),
            is_active=True,
        )
    assert not Organisation.objects.filter(name__in=["X", "Renamed"]).exists()
    assert AuditEvent.objects.count() == before


def test_organisation_scope_is_validated_in_french(persona):
    admin = persona("admin")
    with pytest.raises(ValidationError) as raised:
        services.organisation_create(actor=admin, name="Sans territoire", kind="police")
    assert "au moins un département" in str(raised.value.message_dict["departements"])
    with pytest.raises(ValidationError):
        services.organisation_create(
            actor=admin,
            name="Les deux",
            kind="police",
            national_scope=True,
            departements=departements("13"),
        )
    assert not Organisation.objects.filter(name__in=["Sans territoire", "Les deux"]).exists()


def test_organisation_kind_change_refused_when_members_do_not_fit(persona):
    admin = persona("admin")
    persona("prefecture_13")
    prefecture = Organisation.objects.get(name="Préfecture de police des Bouches-du-Rhône")
    with pytest.raises(ValidationError) as raised:
        services.organisation_update(
            actor=admin,
            organisation=prefecture,
            name=prefecture.name,
            kind=OrganisationKind.POLICE,
            national_scope=False,
            departements=list(prefecture.departements.all()),
            is_active=True,
        )
    assert "Agent de préfecture" in str(raised.value)
    prefecture.refresh_from_db()
    assert prefecture.kind == OrganisationKind.PREFECTURE


def test_duplicate_organisation_name_refused(persona):
    with pytest.raises(ValidationError) as raised:
        services.organisation_create(
            actor=persona("admin"),
            name="CROSS du Rhône",
            kind="cross",
            departements=departements("69"),
        )
    assert "name" in raised.value.message_dict


# --- sharing groups and antennas -------------------------------------------------------------


def test_sharing_group_includes_its_owner_and_is_audited(persona):
    admin = persona("admin")
    police = Organisation.objects.get(name="Police nationale – DIPN 13")
    customs = Organisation.objects.get(name="Direction régionale des douanes de Marseille")
    group = services.sharing_group_create(
        actor=admin, name="Groupe port", owner_organisation=police, organisations=[customs]
    )
    assert set(group.organisations.all()) == {police, customs}
    assert last_event().action == AuditAction.CREATE
    gendarmerie = Organisation.objects.get(name="Groupement de gendarmerie des Bouches-du-Rhône")
    services.sharing_group_update(
        actor=admin,
        group=group,
        name="Groupe port",
        description="Trafic portuaire",
        owner_organisation=police,
        organisations=[customs, gendarmerie],
    )
    assert set(group.organisations.all()) == {police, customs, gendarmerie}
    assert last_event().details["fields"] == ["description", "organisations"]
    with pytest.raises(Http404):
        services.sharing_group_create(
            actor=persona("police13_investigator"), name="Autre", owner_organisation=police
        )
    assert not SharingGroup.objects.filter(name="Autre").exists()


def test_antenna_departements_changed_by_admin_only(persona):
    antenna = Antenna.objects.create(name="Antenne de test")
    services.antenna_update(
        actor=persona("admin"), antenna=antenna, departements=departements("13", "83")
    )
    assert set(antenna.departements.values_list("code", flat=True)) == {"13", "83"}
    event = last_event()
    assert (event.action, event.details["added"]) == (AuditAction.UPDATE, ["13", "83"])
    with pytest.raises(Http404):
        services.antenna_update(
            actor=persona("antenna13_analyst"), antenna=antenna, departements=[]
        )
    assert antenna.departements.count() == 2


# --- users and memberships -----------------------------------------------------------------------


def test_user_creation_with_temporary_password(persona):
    admin = persona("admin")
    created = services.user_create(
        actor=admin, username="jdupont", first_name="Jeanne", last_name="Dupont"
    )
    user = created.user
    assert created.temporary_password and len(created.temporary_password) >= 12
    assert user.check_password(created.temporary_password)
    assert user.is_active
    event = last_event()
    assert (event.action, event.object_id) == (AuditAction.CREATE, str(user.pk))
    assert created.temporary_password not in str(event.details)
    assert "Dupont" not in str(event.details)


def test_password_reset_gives_a_new_temporary_password(persona):
    """The administrator's way out when a temporary password was lost (it is shown once)."""
    admin = persona("admin")
    user = persona("cross13_analyst")
    user.set_password("Ancien-mot-de-passe-42")
    user.failed_login_count = 3
    user.locked_until = timezone.now() + timedelta(minutes=15)
    user.save()
    temporary = services.user_password_reset(actor=admin, user=user)
    assert services.temporary_password_is_wellformed(temporary)
    user.refresh_from_db()
    assert user.check_password(temporary)
    assert not user.check_password("Ancien-mot-de-passe-42")
    assert user.must_change_password
    assert (user.failed_login_count, user.locked_until) == (0, None)
    event = last_event()
    assert (event.action, event.object_id) == (AuditAction.UPDATE, str(user.pk))
    assert event.details == {"fields": ["password"], "operation": "password_reset"}
    assert temporary not in str(event.details)
    # Each reset gives another one.
    assert services.user_password_reset(actor=admin, user=user) != temporary


def test_password_reset_is_for_administrators_and_not_for_oneself(persona):
    user = persona("cross13_analyst")
    password = user.password
    before = AuditEvent.objects.count()
    with pytest.raises(Http404):
        services.user_password_reset(actor=persona("auditor"), user=user)
    admin = persona("admin")
    with pytest.raises(ValidationError) as raised:
        services.user_password_reset(actor=admin, user=admin)
    assert "votre propre mot de passe" in raised.value.messages[0]
    user.refresh_from_db()
    admin.refresh_from_db()
    assert user.password == password and not admin.must_change_password
    assert AuditEvent.objects.count() == before


def test_user_creation_with_weak_password_refused(persona):
    with pytest.raises(ValidationError) as raised:
        services.user_create(actor=persona("admin"), username="faible", password="1234")
    assert "password" in raised.value.message_dict
    assert not User.objects.filter(username="faible").exists()


@pytest.mark.parametrize("username", ["CROSS13_ANALYST", "Cross13_Analyst", " cross13_analyst "])
def test_a_username_taken_with_other_capitals_is_refused(persona, username):
    persona("cross13_analyst")
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as raised:
        services.user_create(actor=persona("admin"), username=username)
    (message,) = raised.value.message_dict["username"]
    if username.strip() == "cross13_analyst":
        assert message == "Cet identifiant existe déjà."
    else:
        assert "écrit « cross13_analyst »" in message and "majuscules" in message
    assert User.objects.filter(username__iexact="cross13_analyst").count() == 1
    assert AuditEvent.objects.count() == before


def test_the_database_refuses_two_usernames_differing_only_by_capitals(db):
    from django.db import IntegrityError, transaction

    User.objects.create(username="agent.lyon")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="Agent.Lyon")
    assert User.objects.filter(username__iexact="agent.lyon").count() == 1


def test_user_creation_refused_to_non_admin(persona):
    with pytest.raises(Http404):
        services.user_create(actor=persona("auditor"), username="intrus")
    assert not User.objects.filter(username="intrus").exists()


def test_membership_role_must_suit_organisation_kind(persona):
    admin = persona("admin")
    user = services.user_create(actor=admin, username="agent").user
    landlord = Organisation.objects.get(name=HABITAT)
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as raised:
        services.membership_create(actor=admin, user=user, organisation=landlord, role=Role.ANALYST)
    message = " ".join(raised.value.message_dict["role"])
    assert "Le rôle « Analyste » n'est pas possible" in message
    assert "Bailleur social" in message and "Référent bailleur" in message
    assert not Membership.objects.filter(user=user).exists()
    assert AuditEvent.objects.count() == before


def test_one_account_is_never_both_landlord_referent_and_analyst(persona):
    """The view of a record is decided per account: a landlord referent who were also an
    analyst or an investigator would receive whole records of the points on its buildings.
    Roles that receive no record one by one (prefecture staff) may be combined."""
    admin = persona("admin")
    landlord_user = persona("landlord_13h")
    before = AuditEvent.objects.count()
    for name, role in (
        ("CROSS de la Seine-Saint-Denis", Role.ANALYST),
        ("Police nationale – DIPN 13", Role.INVESTIGATOR),
    ):
        with pytest.raises(ValidationError) as raised:
            services.membership_create(
                actor=admin,
                user=landlord_user,
                organisation=Organisation.objects.get(name=name),
                role=role,
            )
        message = " ".join(raised.value.message_dict["role"])
        assert "ne peut pas être à la fois" in message and "Référent bailleur" in message
        assert "Créez un compte distinct" in message
    assert [m.role for m in Membership.objects.filter(user=landlord_user)] == [
        Role.LANDLORD_REFERENT
    ]
    assert AuditEvent.objects.count() == before
    # The other way round too.
    analyst = persona("cross13_analyst")
    with pytest.raises(ValidationError, match="ne peut pas être à la fois"):
        services.membership_create(
            actor=admin,
            user=analyst,
            organisation=Organisation.objects.get(name=HABITAT),
            role=Role.LANDLORD_REFERENT,
        )
    # Prefecture staff beside a landlord referent: allowed (it receives no point one by one).
    prefecture = persona("prefecture_13").memberships.get().organisation
    services.membership_create(
        actor=admin, user=landlord_user, organisation=prefecture, role=Role.PREFECTURE_STAFF
    )
    assert policy.conflicting_roles(Role.ANALYST, [Role.LANDLORD_REFERENT]) == [
        Role.LANDLORD_REFERENT
    ]
    # Nor an auditor or an administrator: the audit trail names every point read, with its
    # reference and its statuses.
    for role in (Role.AUDITOR, Role.ADMINISTRATOR):
        assert policy.conflicting_roles(role, [Role.LANDLORD_REFERENT]) == [Role.LANDLORD_REFERENT]
        assert policy.conflicting_roles(Role.LANDLORD_REFERENT, [role]) == [role]
    assert policy.conflicting_roles(Role.AUDITOR, [Role.PREFECTURE_STAFF]) == []
    administration = persona("auditor").memberships.get().organisation
    with pytest.raises(ValidationError, match="ne peut pas être à la fois"):
        services.membership_create(
            actor=admin, user=landlord_user, organisation=administration, role=Role.AUDITOR
        )


def test_membership_gives_capabilities_and_is_audited(persona):
    admin = persona("admin")
    user = services.user_create(actor=admin, username="analyste").user
    assert not policy.can(user, policy.Capability.VIEW_TERRITORIES)
    cross = Organisation.objects.get(name="CROSS des Bouches-du-Rhône")
    membership = services.membership_create(
        actor=admin, user=user, organisation=cross, role=Role.ANALYST
    )
    event = last_event()
    assert event.action == AuditAction.CREATE
    assert event.details["organisation"] == cross.pk and event.details["role"] == "analyst"
    assert policy.can(User.objects.get(pk=user.pk), policy.Capability.VIEW_TERRITORIES)
    with pytest.raises(ValidationError):
        services.membership_create(actor=admin, user=user, organisation=cross, role=Role.ANALYST)
    services.membership_delete(actor=admin, membership=membership)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert last_event().action == AuditAction.DELETE
    assert list(audit_chain_problems()) == []


def test_deactivate_and_reactivate(persona):
    admin = persona("admin")
    analyst = persona("cross13_analyst")
    services.user_deactivate(actor=admin, user=analyst)
    analyst.refresh_from_db()
    assert not analyst.is_active
    assert not policy.can(analyst, policy.Capability.USE_WORKSPACE)
    assert last_event().details == {"fields": ["is_active"], "operation": "deactivate"}
    services.user_reactivate(actor=admin, user=analyst)
    analyst.refresh_from_db()
    assert analyst.is_active
    with pytest.raises(ValidationError):
        services.user_deactivate(actor=admin, user=admin)
    with pytest.raises(Http404):
        services.user_deactivate(actor=persona("auditor"), user=analyst)


def test_second_factor_reset_deletes_devices(persona):
    admin = persona("admin")
    analyst = persona("cross13_analyst")
    TOTPDevice.objects.create(user=analyst, name="téléphone", confirmed=True)
    TOTPDevice.objects.create(user=analyst, name="en cours", confirmed=False)
    assert services.user_second_factor_reset(actor=admin, user=analyst) == 2
    assert not TOTPDevice.objects.filter(user=analyst).exists()
    event = last_event()
    assert event.object_id == str(analyst.pk)
    assert event.details["operation"] == "second_factor_reset"
    with pytest.raises(Http404):
        services.user_second_factor_reset(actor=persona("cross13_analyst"), user=admin)


# --- buildings -----------------------------------------------------------------------------------


def test_landlord_creates_building_in_its_organisation(persona):
    landlord = persona("landlord_13h")
    building = services.building_create(
        actor=landlord,
        name="Bâtiment A",
        address="12 allée des Amandiers, 13014 Marseille",
        latitude=MARSEILLE_14[0],
        longitude=MARSEILLE_14[1],
        stairwells="A1, A2",
    )
    assert building.owner_organisation.name == HABITAT
    assert building.commune.departement.code == "13"
    assert building.departement_id == building.commune.departement_id
    assert building.distribution == Distribution.TERRITORY
    assert len(building.h3_cell) == 15
    event = last_event()
    assert (event.action, event.object_type) == (AuditAction.CREATE, "access.building")
    assert event.organisation_name == HABITAT
    # Another landlord, an administrator: not theirs to see or change.
    for name in ("landlord_13l", "admin"):
        with pytest.raises(Http404):
            services.building_update(
                actor=persona(name),
                building=building,
                name="Volé",
                address=building.address,
                latitude=building.latitude,
                longitude=building.longitude,
            )
    building.refresh_from_db()
    assert building.name == "Bâtiment A"


def test_landlord_updates_building_and_position_moves_cell(persona):
    landlord = persona("landlord_13h")
    building = services.building_create(
        actor=landlord,
        name="Bâtiment A",
        address="12 allée des Amandiers",
        latitude=MARSEILLE_14[0],
        longitude=MARSEILLE_14[1],
    )
    cell = building.h3_cell
    services.building_update(
        actor=landlord,
        building=building,
        name="Bâtiment A",
        address="12 allée des Amandiers",
        latitude=43.3458,
        longitude=5.3961,
        stairwells="A",
    )
    building.refresh_from_db()
    assert building.h3_cell != cell
    assert set(last_event().details["fields"]) >= {"latitude", "longitude", "h3_cell"}


def _building(persona, **changes):
    return services.building_create(
        actor=persona("landlord_13h"),
        **{
            "name": "Bâtiment A",
            "address": "12 allée des Amandiers",
            "latitude": MARSEILLE_14[0],
            "longitude": MARSEILLE_14[1],
            **changes,
        },
    )


@pytest.mark.parametrize(
    ("stairwells", "message"),
    [
        ("A, A, B", "Chaque cage d'escalier ne doit figurer qu'une fois : « A »."),
        ("A1, a 1, B", "Chaque cage d'escalier ne doit figurer qu'une fois : « A1 »."),
        ("A, " + "x" * 80, "est trop long pour un nom de cage d'escalier (20 caractères au plus)."),
    ],
)
def test_duplicate_or_oversized_stairwells_are_refused(persona, stairwells, message):
    """« A, A, B » was stored as typed (the report form then offered « Cage A » twice) and an
    80-character stairwell was accepted: both are refused, in French, on the field."""
    with pytest.raises(ValidationError) as raised:
        _building(persona, stairwells=stairwells)
    assert any(message in text for text in raised.value.message_dict["stairwells"])
    assert not Building.objects.exists()
    building = _building(persona, stairwells="A, B")
    with pytest.raises(ValidationError) as raised:
        services.building_update(
            actor=persona("landlord_13h"),
            building=building,
            name=building.name,
            address=building.address,
            latitude=building.latitude,
            longitude=building.longitude,
            stairwells=stairwells,
        )
    assert "stairwells" in raised.value.message_dict
    building.refresh_from_db()
    assert building.stairwells == "A, B"


def test_stairwells_are_stored_tidy(persona):
    building = _building(persona, stairwells=" A ,B,,  Entrée   nord ,")
    assert building.stairwells == "A, B, Entrée nord"
    assert services.stairwell_labels("A, a, B ,") == ["A", "B"]


def test_building_outside_landlord_territory_refused(persona):
    with pytest.raises(ValidationError) as raised:
        services.building_create(
            actor=persona("landlord_13h"),
            name="Hors territoire",
            address="Saint-Denis",
            latitude=48.9362,
            longitude=2.3574,
        )
    assert "hors du territoire" in str(raised.value)
    assert not Building.objects.filter(name="Hors territoire").exists()


def test_building_creation_needs_manage_buildings(persona):
    with pytest.raises(Http404):
        services.building_create(
            actor=persona("admin"),
            name="X",
            address="X",
            latitude=MARSEILLE_14[0],
            longitude=MARSEILLE_14[1],
        )


def test_temporary_password_must_be_replaced_before_anything_else(persona, client):
    from cartostup.access.services import user_create
    from conftest import login_verified

    created = user_create(actor=persona("admin"), username="nouvel.agent")
    assert created.temporary_password
    user = created.user
    assert user.must_change_password
    login_verified(client, user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/comptes/mot-de-passe/")
    assert client.get("/api/v1/territories/locate?latitude=43.3&longitude=5.4").status_code == 403
    page = client.get("/comptes/mot-de-passe/")
    assert "mot de passe provisoire" in page.content.decode()
    # The temporary password itself is not a new password (the administrator saw it).
    same = client.post(
        "/comptes/mot-de-passe/",
        {
            "old_password": created.temporary_password,
            "new_password1": created.temporary_password,
            "new_password2": created.temporary_password,
        },
    )
    assert same.status_code == 200
    assert "doit être différent du mot de passe actuel" in html.unescape(same.content.decode())
    user.refresh_from_db()
    assert user.must_change_password and user.check_password(created.temporary_password)
    assert client.get("/").status_code == 302
    new_password = "Un-mot-de-passe-bien-long-42"
    client.post(
        "/comptes/mot-de-passe/",
        {
            "old_password": created.temporary_password,
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )
    user.refresh_from_db()
    assert not user.must_change_password
    assert client.get("/").status_code == 200


def test_first_administrator_from_the_command_line(db):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from cartostup.access import policy
    from cartostup.access.models import User

    out = StringIO()
    call_command("create_administrator", "premiere.admin", stdout=out)
    user = User.objects.get(username="premiere.admin")
    assert user.must_change_password
    assert policy.can(user, policy.Capability.MANAGE_USERS)
    temporary = out.getvalue().split("une seule fois) : ")[1].split()[0]
    assert user.check_password(temporary)
    with pytest.raises(CommandError):
        call_command("create_administrator", "premiere.admin", stdout=StringIO())
    with pytest.raises(CommandError, match="majuscules"):
        call_command("create_administrator", "Premiere.Admin", stdout=StringIO())
    assert User.objects.filter(username__iexact="premiere.admin").count() == 1
