"""Who a deal point is shared with: set at creation or changed on the record, in the API, and
what each reader then receives (the policy decides from distribution, marking and group)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from cartostup.access import policy
from cartostup.access.choices import Distribution, Marking
from cartostup.access.services import sharing_group_create
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import services
from cartostup.dealpoints.choices import EventKind
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.factories import dealpoint, dealpoint_input


@pytest.fixture
def point(analyst, building):
    return dealpoint(actor=analyst, building_id=building.pk)


def _sees(user, point) -> bool:
    """Whether the policy lets `user` read the point (as the list, the map and the API do)."""
    return policy.restrict(DealPoint.objects.all(), actor=user).filter(pk=point.pk).exists()


def test_restricting_a_point_takes_it_from_those_who_may_no_longer_read_it(persona, analyst, point):
    landlord, police = persona("landlord_13h"), persona("police13_investigator")
    antenna = persona("antenna13_analyst")
    assert _sees(landlord, point) and _sees(police, point) and _sees(antenna, point)
    services.dealpoint_share(
        actor=analyst,
        dealpoint=point,
        data=services.SharingInput(distribution=Distribution.CROSS),
        note="Enquête en cours",
    )
    point.refresh_from_db()
    assert point.distribution == Distribution.CROSS
    # The CROSS and Ofast of the territory still read it; the police and the landlord no longer.
    assert _sees(analyst, point) and _sees(antenna, point)
    assert not _sees(police, point) and not _sees(landlord, point)
    event = point.events.get(kind=EventKind.EDITED)
    assert event.details == {"distribution": [Distribution.TERRITORY, Distribution.CROSS]}
    assert event.actor == analyst and event.note == "Enquête en cours"
    audit = AuditEvent.objects.filter(action=AuditAction.UPDATE, object_id=str(point.pk)).latest(
        "pk"
    )
    assert audit.details["fields"] == ["distribution"]
    # Marked RED and shared again with the territory: the police reads it, not the landlord.
    services.dealpoint_share(
        actor=analyst,
        dealpoint=point,
        data=services.SharingInput(distribution=Distribution.TERRITORY, marking=Marking.RED),
    )
    assert _sees(police, point) and not _sees(landlord, point)
    # The same values again change nothing and write nothing.
    before = point.events.count()
    services.dealpoint_share(
        actor=analyst,
        dealpoint=point,
        data=services.SharingInput(distribution=Distribution.TERRITORY, marking=Marking.RED),
    )
    assert point.events.count() == before


def test_a_sharing_group_must_be_one_of_the_actors(persona, analyst, point):
    admin = persona("admin")
    cross = analyst.memberships.get().organisation
    police = persona("police13_investigator")
    customs = persona("customs13_investigator").memberships.get().organisation
    ours = sharing_group_create(
        actor=admin,
        name="Groupe Nord",
        owner_organisation=cross,
        organisations=[police.memberships.get().organisation],
    )
    theirs = sharing_group_create(actor=admin, name="Douane seule", owner_organisation=customs)
    for group, field in ((theirs, "sharing_group_id"), (None, "sharing_group_id")):
        with pytest.raises(ValidationError) as refused:
            services.dealpoint_share(
                actor=analyst,
                dealpoint=point,
                data=services.SharingInput(
                    distribution=Distribution.SHARING_GROUP,
                    sharing_group_id=group.pk if group else None,
                ),
            )
        assert field in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_share(
            actor=analyst,
            dealpoint=point,
            data=services.SharingInput(distribution=Distribution.CROSS, sharing_group_id=ours.pk),
        )
    assert "« Groupe de partage »" in refused.value.message_dict["sharing_group_id"][0]
    services.dealpoint_share(
        actor=analyst,
        dealpoint=point,
        data=services.SharingInput(
            distribution=Distribution.SHARING_GROUP, sharing_group_id=ours.pk
        ),
    )
    point.refresh_from_db()
    assert point.sharing_group == ours
    assert _sees(police, point)  # a member of the group
    assert not _sees(persona("gendarmerie13_investigator"), point)
    assert not _sees(persona("landlord_13h"), point)
    event = point.events.filter(kind=EventKind.EDITED).latest("pk")
    assert event.details["sharing_group"] == [None, "Groupe Nord"]


def test_unknown_values_are_explained_and_nothing_changes(analyst, point):
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_share(
            actor=analyst,
            dealpoint=point,
            data=services.SharingInput(distribution="everyone", marking="purple"),
        )
    errors = refused.value.message_dict
    assert (
        "Diffusion inconnue" in errors["distribution"][0]
        and "territory" in errors["distribution"][0]
    )
    assert "Marquage inconnu" in errors["marking"][0] and "TLP:RED" in errors["marking"][0]
    point.refresh_from_db()
    assert point.distribution == Distribution.TERRITORY and point.marking == Marking.AMBER
    assert not point.events.filter(kind=EventKind.EDITED).exists()


def test_the_landlord_and_investigators_may_not_change_it(persona, point):
    for who in ("landlord_13h", "police13_investigator", "cross93_analyst"):
        with pytest.raises(Http404):
            services.dealpoint_share(
                actor=persona(who),
                dealpoint=point,
                data=services.SharingInput(distribution=Distribution.NATIONAL),
            )
    point.refresh_from_db()
    assert point.distribution == Distribution.TERRITORY


def test_a_point_created_restricted_is_never_shared_wider(persona, analyst, building):
    point = services.dealpoint_create(
        actor=analyst,
        data=dealpoint_input(building_id=building.pk),
        sharing=services.SharingInput(marking=Marking.AMBER_STRICT),
    )
    assert point.marking == Marking.AMBER_STRICT
    assert not _sees(persona("landlord_13h"), point)
    created = point.events.get(kind=EventKind.CREATED)
    assert created.details["marking"] == Marking.AMBER_STRICT


@pytest.mark.parametrize(
    "sharing",
    [
        {"distribution": Distribution.CROSS, "marking": Marking.RED},
        {"distribution": Distribution.TERRITORY, "marking": Marking.AMBER_STRICT},
        {"distribution": Distribution.SHARING_GROUP},
        {"distribution": Distribution.SHARING_GROUP, "theirs": True},
    ],
)
def test_a_split_shares_the_new_point_as_the_point_was(persona, analyst, building, sharing):
    """Review of 2026-12-05: the point split off was created with the default sharing
    (territory, AMBER), which let the police and the landlord of its building read what had
    been restricted. It is the same source material: it keeps the point's sharing."""
    from cartostup.dealpoints.tests.factories import accepted_report

    sharing = dict(sharing)
    # A group of the customs the CROSS is not a member of (review): a point the CROSS owns
    # may be shared with it (by the platform here), and the CROSS still splits it.
    theirs = sharing.pop("theirs", False)
    group = None
    if sharing["distribution"] == Distribution.SHARING_GROUP:
        customs = persona("customs13_investigator").memberships.get().organisation
        group = sharing_group_create(
            actor=persona("admin"),
            name="Groupe Nord",
            owner_organisation=customs if theirs else analyst.memberships.get().organisation,
            organisations=[] if theirs else [customs],
        )
    reports = [accepted_report(analyst=analyst) for _ in range(2)]
    point = services.dealpoint_create(
        actor=None if theirs else analyst,
        data=dealpoint_input(building_id=building.pk),
        reports=reports,
        sharing=services.SharingInput(
            **sharing, sharing_group_id=group.pk if group is not None else None
        ),
    )
    new = services.dealpoint_split(
        actor=analyst,
        dealpoint=point,
        reports=reports[1:],
        data=dealpoint_input(building_id=building.pk, name="Second four"),
    )
    assert (new.distribution, new.marking, new.sharing_group) == (
        point.distribution,
        point.marking,
        point.sharing_group,
    )
    assert new.building == building
    readers = ["landlord_13h", "police13_investigator", "customs13_investigator", "admin"]
    for reader in readers:
        assert _sees(persona(reader), new) == _sees(persona(reader), point), reader
    # The landlord of the building (at least) may not read the point, nor the new one.
    assert not _sees(persona("landlord_13h"), new)
    assert _sees(analyst, new)


# --- pages and API -------------------------------------------------------------------------------


def test_the_record_page_changes_the_sharing(client_for, point):
    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:detail", args=[point.pk])).content.decode()
    assert 'id="sharing-form"' in page and "Diffusion et marquage" in page
    # The group list's empty choice speaks French (it was Django's « --------- »).
    assert ">Aucun groupe</option>" in page and "---------" not in page
    response = client.post(
        reverse("dealpoints:sharing", args=[point.pk]),
        {"sharing-distribution": "cross", "sharing-marking": "amber"},
    )
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.distribution == Distribution.CROSS
    page = client.get(response["Location"]).content.decode()
    assert f"Diffusion de {point.reference} enregistrée." in page
    assert (
        "Diffusion : Services répressifs du territoire → Membres de la CROSS du département" in page
    )
    # A bad value: shown on its field, nothing changed.
    bad = client.post(
        reverse("dealpoints:sharing", args=[point.pk]),
        {"sharing-distribution": "sharing_group", "sharing-marking": "amber"},
    )
    assert bad.status_code == 400
    assert bad.context["sharing_form"].errors["sharing_group"]
    point.refresh_from_db()
    assert point.distribution == Distribution.CROSS
    # Not offered to an investigator, and refused to it.
    police = client_for("police13_investigator")
    assert (
        'id="sharing-form"'
        not in police.get(reverse("dealpoints:detail", args=[point.pk])).content.decode()
    )


def test_the_sharing_lists_that_always_hold_a_value_are_not_marked_optional(client_for, point):
    """« Diffusion » and « Marquage » always hold a value: not « (facultatif) », as the group
    is (new-user audit). Sent empty, they are refused; not sent at all, they take the defaults."""
    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:create")).content.decode()
    assert "Groupe de partage\xa0(facultatif)" in page
    assert "Diffusion\xa0(facultatif)" not in page and "(TLP)\xa0(facultatif)" not in page
    empty = client.post(
        reverse("dealpoints:sharing", args=[point.pk]),
        {"sharing-distribution": "", "sharing-marking": "red"},
    )
    assert empty.status_code == 400
    assert empty.context["sharing_form"].errors["distribution"] == ["Ce champ est obligatoire."]
    point.refresh_from_db()
    assert (point.distribution, point.marking) == (Distribution.TERRITORY, Marking.AMBER)
    unsent = client.post(reverse("dealpoints:sharing", args=[point.pk]), {"sharing-marking": "red"})
    assert unsent.status_code == 302
    point.refresh_from_db()
    assert (point.distribution, point.marking) == (Distribution.TERRITORY, Marking.RED)


def test_the_create_page_sets_the_sharing(client_for):
    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:create")).content.decode()
    assert 'id="sharing-fieldset"' in page
    response = client.post(
        reverse("dealpoints:create"),
        {
            "latitude": "43.3452",
            "longitude": "5.3949",
            "precision": "building",
            "channel": "fixed",
            "confidence": "low",
            "sharing-distribution": "organisation",
            "sharing-marking": "red",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    point = DealPoint.objects.get()
    assert (point.distribution, point.marking) == (Distribution.ORGANISATION, Marking.RED)


def test_the_api_sets_and_tells_the_sharing(client_for, point):
    client = client_for("cross13_analyst")
    data = client.get(f"/api/v1/dealpoints/{point.pk}/").json()
    assert (data["distribution"], data["marking"], data["sharing_group"]) == (
        "territory",
        "amber",
        None,
    )
    response = client.post(
        f"/api/v1/dealpoints/{point.pk}/sharing/",
        {"distribution": "cross", "marking": "amber_strict", "note": "Sensible"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["distribution"] == "cross"
    refused = client.post(
        f"/api/v1/dealpoints/{point.pk}/sharing/",
        {"distribution": "sharing_group"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert "sharing_group_id" in str(refused.json())
    created = client.post(
        "/api/v1/dealpoints/",
        {"latitude": 43.3452, "longitude": 5.3949, "distribution": "organisation"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["distribution"] == "organisation"
    assert (
        client_for("police13_investigator")
        .get(f"/api/v1/dealpoints/{created.json()['id']}/")
        .status_code
        == 404
    )


def test_the_api_keeps_what_a_sharing_change_does_not_send(client_for, point):
    """A body with a note only, or a marking only, reset the distribution and the marking to
    the creation's defaults (« territory », « amber »): a point kept within the organisation,
    TLP:RED, was read by the police at once (partner-developer audit)."""
    client = client_for("cross13_analyst")
    url = f"/api/v1/dealpoints/{point.pk}/sharing/"
    restricted = client.post(
        url, {"distribution": "organisation", "marking": "red"}, content_type="application/json"
    )
    assert restricted.status_code == 200, restricted.json()
    for body in ({"note": "une note"}, {}):
        refused = client.post(url, body, content_type="application/json")
        assert refused.status_code == 400
        assert "Indiquez ce qui change" in str(refused.json())
    marked = client.post(url, {"marking": "amber_strict"}, content_type="application/json")
    assert marked.status_code == 200, marked.json()
    assert (marked.json()["distribution"], marked.json()["marking"]) == (
        "organisation",
        "amber_strict",
    )
    police = client_for("police13_investigator")
    assert police.get(f"/api/v1/dealpoints/{point.pk}/").status_code == 404
    widened = client.post(url, {"distribution": "territory"}, content_type="application/json")
    assert widened.json()["marking"] == "amber_strict"


def test_the_api_names_a_related_point_only_to_who_may_see_it(client_for, persona, point):
    """A point moved to (or merged into) a point kept within the organisation: the police read
    its reference in `successor` and `merged_into`, while that point answered 404 and the
    history hid it (partner-developer audit). Now null, as on the record page."""
    analyst = persona("cross13_analyst")
    hidden = dealpoint(actor=analyst, name="Gardé", latitude=43.35, longitude=5.40)
    services.dealpoint_share(
        actor=analyst,
        dealpoint=hidden,
        data=services.SharingInput(distribution="organisation", marking="red"),
    )
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="moved", successor=hidden
    )
    merged = dealpoint(actor=analyst, name="Doublon", latitude=43.3501, longitude=5.4001)
    services.dealpoint_merge(actor=analyst, source=merged, target=hidden)
    police = client_for("police13_investigator")
    assert police.get(f"/api/v1/dealpoints/{hidden.pk}/").status_code == 404
    moved = police.get(f"/api/v1/dealpoints/{point.pk}/").json()
    assert moved["successor"] is None
    assert police.get(f"/api/v1/dealpoints/{merged.pk}/").json()["merged_into"] is None
    assert hidden.reference not in str(police.get("/api/v1/dealpoints/").json())
    # Its owner reads them.
    owner = client_for("cross13_analyst")
    assert owner.get(f"/api/v1/dealpoints/{point.pk}/").json()["successor"] == hidden.reference
    assert owner.get(f"/api/v1/dealpoints/{merged.pk}/").json()["merged_into"] == hidden.reference


def test_a_sharing_change_keeps_what_the_point_has_once_locked(analyst, point):
    """What a change does not send is read from the point once it is locked, not from the
    page's or the API's earlier read: a restriction committed in between stays (review)."""
    stale = DealPoint.objects.get(pk=point.pk)  # read before the restriction
    services.dealpoint_share(
        actor=analyst,
        dealpoint=point,
        data=services.SharingInput(distribution="organisation", marking="red"),
    )
    services.dealpoint_share(
        actor=analyst, dealpoint=stale, data=services.SharingChange(marking="amber_strict")
    )
    point.refresh_from_db()
    assert (point.distribution, point.marking) == ("organisation", "amber_strict")


@pytest.mark.parametrize(
    "sharing",
    [
        {"distribution": Distribution.ORGANISATION, "marking": Marking.RED},
        {"distribution": Distribution.SHARING_GROUP},
    ],
)
def test_ofast_neither_reads_nor_changes_a_point_its_cross_keeps(
    client_for, persona, analyst, point, sharing
):
    """Need-to-know audit (2026-12-06): Ofast, which may change the records of its territory
    (it triages reports), opened the edit and split forms of a point its CROSS kept to itself
    (position, turnover, notes, reports) and widened its sharing, while its record answered
    404. Ofast now changes only what it may read: every page and endpoint answers 404, and
    the point stays as it was."""
    group = None
    if sharing["distribution"] == Distribution.SHARING_GROUP:
        group = sharing_group_create(
            actor=persona("admin"),
            name="Groupe du CROSS",
            owner_organisation=analyst.memberships.get().organisation,
        )
    services.dealpoint_share(
        actor=analyst,
        dealpoint=point,
        data=services.SharingInput(
            **sharing, sharing_group_id=group.pk if group is not None else None
        ),
    )
    before = DealPoint.objects.values().get(pk=point.pk)
    for name in ("antenna13_analyst", "ofast_analyst"):
        ofast = persona(name)
        for action in policy.Action:
            assert not policy.restrict(
                DealPoint.objects.filter(pk=point.pk), actor=ofast, action=action
            ).exists(), (name, action)
        client = client_for(name)
        for page in ("detail", "edit", "split", "status", "sharing", "merge", "operation"):
            assert client.get(reverse(f"dealpoints:{page}", args=[point.pk])).status_code in {
                404,
                405,
            }, (name, page)
        widened = client.post(
            reverse("dealpoints:sharing", args=[point.pk]),
            {"sharing-distribution": "territory", "sharing-marking": "amber"},
        )
        assert widened.status_code == 404, name
        for suffix in ("", "history/", "reports/", "operations/"):
            assert client.get(f"/api/v1/dealpoints/{point.pk}/{suffix}").status_code == 404
        api = client.post(
            f"/api/v1/dealpoints/{point.pk}/sharing/",
            {"distribution": "territory", "marking": "amber"},
            content_type="application/json",
        )
        assert api.status_code == 404, name
    assert DealPoint.objects.values().get(pk=point.pk) == before
    # Their CROSS still changes it, and Ofast reads it again once shared with the territory.
    services.dealpoint_share(
        actor=analyst,
        dealpoint=point,
        data=services.SharingInput(distribution=Distribution.TERRITORY, marking=Marking.AMBER),
    )
    assert policy.restrict(
        DealPoint.objects.filter(pk=point.pk),
        actor=persona("antenna13_analyst"),
        action=policy.Action.CHANGE,
    ).exists()


def test_ofast_cannot_keep_a_point_from_itself(client_for, persona, point, building):
    """Review of 2026-12-06: an Ofast analyst choosing « Organisation propriétaire seulement »
    kept the point to its CROSS, its owner: Ofast, which changes only what it reads, then
    neither saw it nor could share it again. Refused, in French, at creation and on the
    record; nothing is written."""
    ofast = persona("antenna13_analyst")
    before = DealPoint.objects.values().get(pk=point.pk)
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_share(
            actor=ofast,
            dealpoint=point,
            data=services.SharingInput(distribution=Distribution.ORGANISATION),
        )
    assert "votre organisation ne lirait plus ce point" in str(refused.value.message_dict)
    assert DealPoint.objects.values().get(pk=point.pk) == before
    count = DealPoint.objects.count()
    with pytest.raises(ValidationError):
        services.dealpoint_create(
            actor=ofast,
            data=dealpoint_input(building_id=building.pk),
            sharing=services.SharingInput(distribution=Distribution.ORGANISATION),
        )
    assert DealPoint.objects.count() == count
    page = client_for("antenna13_analyst").post(
        reverse("dealpoints:sharing", args=[point.pk]),
        {"sharing-distribution": "organisation", "sharing-marking": "amber"},
    )
    assert page.status_code == 400
    assert "votre organisation ne lirait plus ce point" in page.content.decode().replace(
        "&#x27;", "'"
    )
    assert DealPoint.objects.values().get(pk=point.pk) == before
    # The CROSS that owns it keeps it to itself.
    services.dealpoint_share(
        actor=persona("cross13_analyst"),
        dealpoint=point,
        data=services.SharingInput(distribution=Distribution.ORGANISATION),
    )


def test_leaving_a_sharing_group_on_the_page_drops_the_group(client_for, persona, analyst, point):
    """New-user audit (2026-12-06): choosing « Services répressifs du territoire » for a point
    shared with a group was refused until the group was also set to « Aucun groupe »."""
    group = sharing_group_create(
        actor=persona("admin"),
        name="Groupe du CROSS",
        owner_organisation=analyst.memberships.get().organisation,
    )
    services.dealpoint_share(
        actor=analyst,
        dealpoint=point,
        data=services.SharingInput(
            distribution=Distribution.SHARING_GROUP, sharing_group_id=group.pk
        ),
    )
    response = client_for("cross13_analyst").post(
        reverse("dealpoints:sharing", args=[point.pk]),
        {
            "sharing-distribution": "territory",
            "sharing-marking": "amber",
            "sharing-sharing_group": str(group.pk),
        },
    )
    assert response.status_code == 302
    point.refresh_from_db()
    assert (point.distribution, point.sharing_group_id) == (Distribution.TERRITORY, None)
