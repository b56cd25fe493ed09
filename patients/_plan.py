"""The cohort plan: everything decided across patients before the per-patient work.

MRNs, demographics (with the deliberate look-alike pairs), scenario states, and the
Practitioner and Organization resources the patients' data refers to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import NormalDist

import medagent.patients.scenarios as scenarios
from ._names import AREA_CODES, CITIES, FAMILY, FEMALE_GIVEN, MALE_GIVEN, STREETS
from ._time import age_at
from .profiles import DEFAULT_PROFILE, get_profile

MRN_SYSTEM = "urn:medagent:mrn"
_MR_TYPE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"}],
    "text": "MRN",
}
_ORGS = (
    ("Valley Medical Center", "Palo Alto"), ("Bayside Community Hospital", "Redwood City"),
    ("Peninsula Primary Care Clinic", "Menlo Park"), ("South Bay Family Health", "San Jose"),
)
_SPECIALTIES = (
    ("419772000", "Family practice"), ("394802001", "General medicine"),
    ("394579002", "Cardiology"), ("394589003", "Nephrology"), ("394583002", "Endocrinology"),
    ("408467006", "Adult mental illness"), ("394576009", "Accident & emergency"),
)
_VOWELS = "aeiou"
_MARITAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
_MARITAL = tuple({"code": c, "display": d} for c, d in (("M", "Married"), ("S", "Never Married"), ("W", "Widowed"), ("D", "Divorced")))
_LANGUAGES = tuple(
    {"code": c, "display": d}
    for c, d in (("en-US", "English (United States)"),) * 6 + (("es", "Spanish"), ("zh", "Chinese"), ("vi", "Vietnamese"))
)


@dataclass
class PatientPlan:
    index: int
    mrn: str
    gender: str
    given: list[str]
    family: str
    birth_date: date
    states: dict[str, str] = field(default_factory=dict)
    gp: str = ""
    org: str = ""
    resource: dict = field(default_factory=dict)
    variants: dict = field(default_factory=dict)  # set by a cohort profile


@dataclass
class CohortPlan:
    seed: int
    patients: list[PatientPlan]
    practitioners: list[dict]
    organizations: list[dict]
    lookalikes: dict[str, list[tuple[int, int]]]
    profile: str = "mab-v1"
    edge: dict[str, list[str]] = field(default_factory=dict)  # the profile's membership lists

    @property
    def practitioner_ids(self) -> list[str]:
        return [p["id"] for p in self.practitioners]

    @property
    def organization_ids(self) -> list[str]:
        return [o["id"] for o in self.organizations]


def _ages(rng: random.Random, n: int) -> list[int]:
    """Adult ages, stratified over a truncated normal (mean ~58, sd ~20 even for small n)."""
    dist = NormalDist(57.8, 25)
    lo, hi = dist.cdf(17.5), dist.cdf(100.5)
    ages = [round(dist.inv_cdf(lo + (i + rng.random()) / n * (hi - lo))) for i in range(n)]
    rng.shuffle(ages)
    return ages


def _genders(rng: random.Random, n: int, pairs: dict[str, list[tuple[int, int]]]) -> list[str]:
    """47% female; both members of a look-alike pair share their gender."""
    females = round(0.47 * n)
    genders = ["female"] * females + ["male"] * (n - females)
    rng.shuffle(genders)
    paired = set()
    for a, b in (pair for state in pairs.values() for pair in state):
        genders[b] = genders[a]
        paired |= {a, b}
    free = [i for i in rng.sample(range(n), n) if i not in paired]
    while (surplus := genders.count("female") - females) != 0:
        want, other = ("female", "male") if surplus > 0 else ("male", "female")
        flip = next((i for i in free if genders[i] == want), None)
        if flip is None:  # tiny cohorts: the pairs alone decide
            break
        genders[flip] = other
    return genders


def _birth_date(rng: random.Random, now: datetime, age: int) -> date:
    latest = now.date().replace(year=now.year - age)  # turns `age` today
    return latest - timedelta(days=rng.randint(1, 364))


def _one_letter(rng: random.Random, family: str) -> str:
    for _ in range(50):
        pos = rng.randrange(1, len(family))
        old = family[pos]
        pool = _VOWELS if old in _VOWELS else "bcdfghklmnprstvz"
        new = rng.choice([c for c in pool if c != old.lower()])
        candidate = family[:pos] + new + family[pos + 1:]
        if candidate != family and candidate not in FAMILY:
            return candidate
    raise AssertionError(f"no one-letter variant of {family}")


def _practitioner(rng: random.Random, index: int) -> dict:
    gender = rng.choice(("female", "male"))
    given = rng.choice(FEMALE_GIVEN if gender == "female" else MALE_GIVEN)
    family = rng.choice(FAMILY)
    spec = _SPECIALTIES[index % len(_SPECIALTIES)]
    return {
        "resourceType": "Practitioner", "id": f"pr{index + 1:04d}", "active": True,
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": f"{1000000000 + rng.randrange(10**8, 10**9 - 1)}"}],
        "name": [{"use": "official", "family": family, "given": [given], "prefix": ["Dr."], "text": f"Dr. {given} {family}"}],
        "gender": gender,
        "telecom": [{"system": "phone", "value": f"({rng.choice(AREA_CODES)}) 555-{rng.randint(100, 199):04d}", "use": "work"}],
        "qualification": [{"code": {"coding": [{"system": "http://snomed.info/sct", "code": spec[0], "display": spec[1]}], "text": spec[1]}}],
    }


def _organization(index: int, name: str, city: str) -> dict:
    return {
        "resourceType": "Organization", "id": f"org{index + 1}", "active": True, "name": name,
        "identifier": [{"system": "urn:medagent:org", "value": f"ORG{index + 1:03d}"}],
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov", "display": "Healthcare Provider"}]}],
        "address": [{"use": "work", "line": [f"{100 + 25 * index} Hospital Dr"], "city": city, "state": "CA", "country": "US"}],
    }


def _patient_resource(p: PatientPlan, rng: random.Random) -> dict:
    city, state, zip3 = rng.choice(CITIES)
    phone = f"({rng.choice(AREA_CODES)}) 555-{rng.randint(100, 199):04d}"
    email = f"{p.given[0].lower()}.{p.family.lower()}{rng.randint(1, 99)}@example.com"
    return {
        "resourceType": "Patient", "id": p.mrn, "active": True,
        "identifier": [{"use": "usual", "type": _MR_TYPE, "system": MRN_SYSTEM, "value": p.mrn}],
        "name": [{"use": "official", "family": p.family, "given": p.given, "text": f"{' '.join(p.given)} {p.family}"}],
        "telecom": [{"system": "phone", "value": phone, "use": rng.choice(("home", "mobile"))},
                    {"system": "email", "value": email, "use": "home"}],
        "gender": p.gender, "birthDate": p.birth_date.isoformat(),
        "address": [{
            "use": "home", "type": "physical", "line": [f"{rng.randint(10, 9899)} {rng.choice(STREETS)}"],
            "city": city, "state": state, "postalCode": f"{zip3}{rng.randint(1, 99):02d}", "country": "US",
        }],
        "maritalStatus": {"coding": [{"system": _MARITAL_SYSTEM, **rng.choice(_MARITAL)}]},
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", **rng.choice(_LANGUAGES)}]}, "preferred": True}],
        "generalPractitioner": [{"reference": f"Practitioner/{p.gp}"}],
        "managingOrganization": {"reference": f"Organization/{p.org}"},
    }


def make_plan(seed: int, n: int, now: datetime, requested: scenarios.Request | None = None,
              profile: str = DEFAULT_PROFILE) -> CohortPlan:
    rng = random.Random(f"{seed}:plan")
    states = scenarios.assign(n, seed, requested)
    pairs = scenarios.lookalike_pairs(n, seed, requested)
    orgs = [_organization(i, name, city) for i, (name, city) in enumerate(_ORGS)]
    practitioners = [_practitioner(rng, i) for i in range(max(4, n // 3))]
    mrns = [f"S{m}" for m in rng.sample(range(1_000_000, 10_000_000), n)]
    patients: list[PatientPlan] = []
    ages_, genders = _ages(rng, n), _genders(rng, n, pairs)
    for i in range(n):
        gender = genders[i]
        given = [rng.choice(FEMALE_GIVEN if gender == "female" else MALE_GIVEN)]
        if rng.random() < 0.3:
            given.append(rng.choice(FEMALE_GIVEN if gender == "female" else MALE_GIVEN))
        patients.append(PatientPlan(
            index=i, mrn=mrns[i], gender=gender, given=given, family=rng.choice(FAMILY),
            birth_date=_birth_date(rng, now, ages_[i]), states=states[i],
            gp=practitioners[i % len(practitioners)]["id"], org=orgs[i % len(orgs)]["id"],
        ))
    for a, b in pairs["same_name_other_birthdate"]:
        pa, pb = patients[a], patients[b]
        pb.gender, pb.given, pb.family = pa.gender, list(pa.given), pa.family
        if pb.birth_date == pa.birth_date:
            pb.birth_date -= timedelta(days=rng.randint(400, 4000))
    for a, b in pairs["same_birthdate_one_letter"]:
        pa, pb = patients[a], patients[b]
        pb.gender, pb.given, pb.birth_date = pa.gender, list(pa.given), pa.birth_date
        pb.family = _one_letter(rng, pa.family)
    paired = {i for state in pairs.values() for pair in state for i in pair}
    pair_names = {(patients[i].given[0], patients[i].family) for i in paired}
    seen: set[tuple[str, str, date]] = set()
    for p in patients:
        while p.index not in paired and (p.given[0], p.family) in pair_names:
            p.family = rng.choice(FAMILY)
    for p in patients:  # unpaired patients never collide with anyone on (given, family, birthDate)
        key = (p.given[0], p.family, p.birth_date)
        while key in seen and p.index not in paired:
            p.birth_date -= timedelta(days=1)
            key = (p.given[0], p.family, p.birth_date)
        seen.add(key)
    hook, edge = get_profile(profile).names, {}
    if hook is not None:
        edge = hook(patients, paired, seed)
    for p in patients:
        p.resource = _patient_resource(p, random.Random(f"{seed}:patient:{p.index}"))
    return CohortPlan(seed, patients, practitioners, orgs, pairs, profile, edge)


def ages(plan: CohortPlan, now: datetime) -> list[int]:
    return [age_at(p.birth_date, now) for p in plan.patients]
