"""Demo reports: a few hundred realistic reports around real neighbourhoods of Marseille
(13e, 14e, 15e, 3e), Saint-Denis and Lyon (8e, 9e), made through the same services as real
ones (public web and mobile, call platform, landlords), then triaged by the CROSS analysts.

Seeded, so two installs get the same demo; idempotent (a second run adds nothing).

Receipts: hashing is never weakened, and one Argon2 hash at the production cost takes about
80 ms on a small machine, so receipts for all 300 reports would take over 20 s. Only the first
`DEMO_RECEIPTS` public and phone reports get a real receipt (through the public and operator
services); the others are stored as reports whose receipt was lost (`receipt_key` empty, like a
landlord's report), through the same validation and creation code. As in production, the
receipts are not kept: to try the follow-up, submit a report from the public form.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cartostup.access.models import Building, User
from cartostup.access.services import demo_persona_ensure, stairwell_labels

from . import services
from .choices import Activity, Channel, PeopleCount, Precision, Product, Status, TimeOfDay, Weekday
from .models import Report

DEMO_SEED = 20240613
DEMO_COUNT = 300
DEMO_RECEIPTS = 40
# Received over the last ~11 weeks: inside the retention period, so the purge keeps them.
DEMO_DAYS = 80


@dataclass(frozen=True)
class Cluster:
    name: str
    latitude: float
    longitude: float
    weight: int
    spread_m: float = 180.0


CLUSTERS: tuple[Cluster, ...] = (
    Cluster("Marseille 14e – Le Merlan", 43.345, 5.395, 20),
    Cluster("Marseille 13e – Frais-Vallon", 43.331, 5.416, 16),
    Cluster("Marseille 15e – La Castellane", 43.369, 5.358, 18),
    Cluster("Marseille 3e – Belle de Mai", 43.312, 5.377, 12),
    Cluster("Saint-Denis – centre", 48.936, 2.357, 16),
    Cluster("Lyon 8e – États-Unis", 45.735, 4.870, 10),
    Cluster("Lyon 9e – La Duchère", 45.770, 4.805, 8),
)
TRIAGERS = {"13": "cross13_analyst", "93": "cross93_analyst", "69": "cross69_analyst"}

DESCRIPTIONS = (
    "Deux jeunes font le guet à l'entrée du hall, les clients passent par le parking.",
    "Vente devant la cage d'escalier tous les soirs, une file de voitures se forme.",
    "Des guetteurs crient quand une voiture arrive. Le point se déplace parfois vers le square.",
    "Livraisons en scooter, les clients attendent au coin de la rue.",
    "Le local poubelles semble servir de cachette, des allées et venues toute la journée.",
    "Tarifs affichés sur un mur, vente au bas de l'immeuble.",
    "Des clients viennent de l'extérieur du quartier, surtout le week-end.",
    "Regroupement devant l'entrée, les habitants n'osent plus passer.",
    "",
)
ONLINE_ACCOUNTS = ("@menu_13_livraison", "snap: plug_nord", "telegram: ExpressDelivery93")
QUESTIONS = (
    "Pouvez-vous préciser le bâtiment ou l'entrée concernés ?",
    "À quelles heures avez-vous observé le plus de passage ?",
    "Le point est-il toujours actif cette semaine ?",
)
ANSWERS = (
    "C'est l'entrée côté parking, bâtiment B.",
    "Surtout entre 18 h et 22 h.",
    "Oui, encore hier soir.",
)


def _jitter(rng: random.Random, cluster: Cluster) -> tuple[float, float]:
    distance = abs(rng.gauss(0, cluster.spread_m))
    angle = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(angle) / 111_320
    dlon = distance * math.sin(angle) / (111_320 * math.cos(math.radians(cluster.latitude)))
    return round(cluster.latitude + dlat, 6), round(cluster.longitude + dlon, 6)


def _sample(rng: random.Random, values: list[str], low: int, high: int) -> list[str]:
    return rng.sample(values, rng.randint(low, min(high, len(values))))


def _random_input(rng: random.Random, cluster: Cluster) -> services.ReportInput:
    latitude, longitude = _jitter(rng, cluster)
    activities = _sample(rng, [Activity.SELLING, Activity.LOOKOUTS], 1, 2)
    if rng.random() < 0.2:
        activities.append(rng.choice([Activity.STORAGE, Activity.DELIVERY]))
    online = rng.random() < 0.08
    if online:
        activities.append(Activity.ONLINE)
    return services.ReportInput(
        latitude=latitude,
        longitude=longitude,
        precision=rng.choice(
            [Precision.STAIRWELL, Precision.BUILDING, Precision.BUILDING, Precision.STREET]
        ),
        place_label=rng.choice(["", "", "Bâtiment A", "Bât. C, entrée 2", "Tour 3", "Cage B"]),
        activities=[str(activity) for activity in activities],
        online_account=rng.choice(ONLINE_ACCOUNTS) if online else "",
        products=_sample(
            rng, [Product.CANNABIS, Product.CANNABIS, Product.COCAINE, Product.CRACK], 0, 2
        ),
        days=_sample(rng, list(Weekday.values), 0, 4),
        times_of_day=_sample(rng, [TimeOfDay.AFTERNOON, TimeOfDay.EVENING, TimeOfDay.NIGHT], 0, 2),
        people_count=rng.choice(list(PeopleCount.values)),
        description=rng.choice(DESCRIPTIONS),
    )


@transaction.atomic
def demo_reports_ensure(*, count: int = DEMO_COUNT) -> int:
    """Create the demo reports if there are none yet; returns how many exist."""
    existing = Report.objects.count()
    if existing:
        return existing
    rng = random.Random(DEMO_SEED)
    operator = demo_persona_ensure(username="caller_operator")
    landlords = {
        username: demo_persona_ensure(username=username)
        for username in ("landlord_13h", "landlord_13l")
    }
    owners = {
        membership.organisation_id: user
        for user in landlords.values()
        for membership in user.memberships.all()
    }
    buildings = list(
        Building.objects.filter(
            owner_organisation__memberships__user__in=landlords.values()
        ).select_related("owner_organisation")
    )
    weights = [cluster.weight for cluster in CLUSTERS]
    now = timezone.now()
    created: list[tuple[Report, str | None]] = []
    for _index in range(count):
        cluster = rng.choices(CLUSTERS, weights)[0]
        data = _random_input(rng, cluster)
        draw = rng.random()
        try:
            if draw < 0.08 and buildings:
                building = rng.choice(buildings)
                owner = owners[building.owner_organisation_id]
                report = services.report_submit_by_landlord(
                    actor=owner,
                    building=building,
                    data=replace(
                        data, place_label=next(iter(stairwell_labels(building.stairwells)), "")
                    ),
                )
                created.append((report, None))
                continue
            channel = (
                Channel.PHONE if draw < 0.25 else Channel.WEB if draw < 0.8 else Channel.MOBILE
            )
            with_receipt = sum(1 for _report, receipt in created if receipt) < DEMO_RECEIPTS
            if not with_receipt:
                created.append((_report_without_receipt(data, channel, operator), None))
                continue
            if channel == Channel.PHONE:
                submitted = services.report_submit_by_operator(actor=operator, data=data)
            else:
                submitted = services.report_submit_public(data=data, channel=channel)
        except ValidationError:
            continue  # a département whose communes are not loaded
        created.append((submitted.report, submitted.receipt))
    analysts = {code: demo_persona_ensure(username=name) for code, name in TRIAGERS.items()}
    for report, receipt in created:
        _triage(rng, report, receipt, analysts.get(report.departement.code))
        # Spread over the last weeks (the services stamp the current hour).
        received = now - timedelta(days=rng.uniform(0, DEMO_DAYS))
        Report.objects.filter(pk=report.pk).update(
            received_at=received.replace(minute=0, second=0, microsecond=0)
        )
    return Report.objects.count()


def _report_without_receipt(data: services.ReportInput, channel: str, operator: User) -> Report:
    """A report as the services make it, whose receipt was lost (demo only: no Argon2)."""
    position, photo = services._validated(data)
    return services._report_create(
        data=data,
        channel=channel,
        position=position,
        photo=photo,
        receipt=None,
        actor=operator if channel == Channel.PHONE else None,
    )


def _triage(rng: random.Random, report: Report, receipt: str | None, analyst: User | None) -> None:
    if analyst is None:
        return
    draw = rng.random()
    if draw < 0.35:
        return  # still to triage
    if draw < 0.5 and receipt:
        services.report_ask_question(actor=analyst, report=report, text=rng.choice(QUESTIONS))
        if rng.random() < 0.6:
            services.report_reply(receipt=receipt, text=rng.choice(ANSWERS))
        return
    if draw < 0.85:
        services.report_accept(actor=analyst, report=report, note="Cohérent avec les remontées.")
        return
    status = Status.SPAM if rng.random() < 0.4 else Status.UNFOUNDED
    services.report_reject(actor=analyst, report=report, status=status)
