"""The demo organisations and named personas, shared by the demo data and the tests.

One persona per kind of user (mission.md "Who uses it"). Tests refer to them by name
(`cross13_analyst`, `landlord_13h`, ...); `make run` creates them with a second factor.
"""

from __future__ import annotations

from dataclasses import dataclass

from cartostup.access.choices import OrganisationKind as Kind
from cartostup.access.choices import Role


@dataclass(frozen=True)
class OrganisationSpec:
    key: str
    name: str
    kind: str
    departements: tuple[str, ...] = ()
    national: bool = False


@dataclass(frozen=True)
class PersonaSpec:
    username: str
    first_name: str
    last_name: str
    organisation: str
    role: str


ORGANISATIONS: tuple[OrganisationSpec, ...] = (
    OrganisationSpec("ofast", "Ofast – office central", Kind.OFAST_CENTRAL, national=True),
    OrganisationSpec(
        "ofast_marseille",
        "Ofast – antenne de Marseille",
        Kind.OFAST_ANTENNA,
        ("04", "05", "06", "13", "83", "84", "2A", "2B"),
    ),
    OrganisationSpec(
        "ofast_versailles",
        "Ofast – antenne de Versailles",
        Kind.OFAST_ANTENNA,
        ("75", "77", "78", "91", "92", "93", "94", "95"),
    ),
    OrganisationSpec(
        "ofast_lyon",
        "Ofast – antenne de Lyon",
        Kind.OFAST_ANTENNA,
        ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    ),
    OrganisationSpec("cross13", "CROSS des Bouches-du-Rhône", Kind.CROSS, ("13",)),
    OrganisationSpec("cross93", "CROSS de la Seine-Saint-Denis", Kind.CROSS, ("93",)),
    OrganisationSpec("cross69", "CROSS du Rhône", Kind.CROSS, ("69",)),
    OrganisationSpec("police13", "Police nationale – DIPN 13", Kind.POLICE, ("13",)),
    OrganisationSpec("police93", "Police nationale – DTPN 93", Kind.POLICE, ("93",)),
    OrganisationSpec(
        "gendarmerie13", "Groupement de gendarmerie des Bouches-du-Rhône", Kind.GENDARMERIE, ("13",)
    ),
    OrganisationSpec(
        "gendarmerie69", "Groupement de gendarmerie du Rhône", Kind.GENDARMERIE, ("69",)
    ),
    OrganisationSpec(
        "customs13", "Direction régionale des douanes de Marseille", Kind.CUSTOMS, ("13",)
    ),
    OrganisationSpec(
        "prosecutor13", "Parquet du tribunal judiciaire de Marseille", Kind.PROSECUTOR, ("13",)
    ),
    OrganisationSpec(
        "prosecutor93", "Parquet du tribunal judiciaire de Bobigny", Kind.PROSECUTOR, ("93",)
    ),
    OrganisationSpec(
        "prefecture13", "Préfecture de police des Bouches-du-Rhône", Kind.PREFECTURE, ("13",)
    ),
    OrganisationSpec(
        "prefecture93", "Préfecture de la Seine-Saint-Denis", Kind.PREFECTURE, ("93",)
    ),
    OrganisationSpec("prefecture69", "Préfecture du Rhône", Kind.PREFECTURE, ("69",)),
    OrganisationSpec("landlord_13h", "Habitat Phocéen (bailleur fictif)", Kind.LANDLORD, ("13",)),
    OrganisationSpec("landlord_13l", "Logis du Littoral (bailleur fictif)", Kind.LANDLORD, ("13",)),
    OrganisationSpec("landlord_93", "Plaine Habitat (bailleur fictif)", Kind.LANDLORD, ("93",)),
    OrganisationSpec(
        "call_platform", "Plateforme d'appel nationale", Kind.CALL_PLATFORM, national=True
    ),
    OrganisationSpec(
        "administration", "Administration de Cartostup", Kind.ADMINISTRATION, national=True
    ),
)

PERSONAS: tuple[PersonaSpec, ...] = (
    PersonaSpec("ofast_analyst", "Nadia", "Benali", "ofast", Role.ANALYST),
    PersonaSpec("antenna13_analyst", "Julien", "Roux", "ofast_marseille", Role.ANALYST),
    PersonaSpec("cross13_analyst", "Camille", "Martin", "cross13", Role.ANALYST),
    PersonaSpec("cross93_analyst", "Karim", "Haddad", "cross93", Role.ANALYST),
    PersonaSpec("cross69_analyst", "Élodie", "Giraud", "cross69", Role.ANALYST),
    PersonaSpec("police13_investigator", "Thomas", "Lefèvre", "police13", Role.INVESTIGATOR),
    PersonaSpec(
        "gendarmerie13_investigator", "Sophie", "Garnier", "gendarmerie13", Role.INVESTIGATOR
    ),
    PersonaSpec("customs13_investigator", "Marc", "Fabre", "customs13", Role.INVESTIGATOR),
    PersonaSpec("prosecutor_13", "Hélène", "Vidal", "prosecutor13", Role.MAGISTRATE),
    PersonaSpec("prefecture_13", "Olivier", "Blanc", "prefecture13", Role.PREFECTURE_STAFF),
    PersonaSpec("prefecture_93", "Aïcha", "Diallo", "prefecture93", Role.PREFECTURE_STAFF),
    PersonaSpec("landlord_13h", "Sylvie", "Moreau", "landlord_13h", Role.LANDLORD_REFERENT),
    PersonaSpec("landlord_13l", "Patrick", "Arnaud", "landlord_13l", Role.LANDLORD_REFERENT),
    PersonaSpec("caller_operator", "Léa", "Fontaine", "call_platform", Role.OPERATOR),
    PersonaSpec("auditor", "Bernard", "Chevalier", "administration", Role.AUDITOR),
    PersonaSpec("admin", "Claire", "Dubois", "administration", Role.ADMINISTRATOR),
)

PERSONA_NAMES = tuple(p.username for p in PERSONAS)
# Every département an organisation of the demo covers must be loaded for the demo to work.
DEMO_DEPARTEMENTS = tuple(sorted({code for spec in ORGANISATIONS for code in spec.departements}))
