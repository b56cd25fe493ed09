"""The cohort as the suite builder sees it: patients and the lab series tasks rely on,
read straight from the cohort's NDJSON (never through the server), plus the manifest.

This is the ground-truth path: expected answers are computed here, independently of the
reference solutions, which read the same facts through the agent tools and the server.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ._labs import LAB_LOINC, LabPoint, lab_code, lab_point, voided_point
from .errors import SuiteError

CODES = tuple(LAB_LOINC)  # the lab codes tasks rely on: MG, GLU, K, A1C
# The suite design (branch tables, instruction notes) a cohort profile is built with;
# a profile not listed gets "edge" (every boundary branch whose pool is not empty).
DESIGN_OF_PROFILE = {"mab-v1": "mab", "safety-v1": "safety"}
DESIGNS = ("mab", "edge", "safety")
_CODE_MARKS = tuple(f'"code":"{c}"'.encode() for c in CODES)
# The safety design also keeps raw resources: every Observation of these lab codes (any
# status), and every resource of these types (MedicationRequests of these RxNorm codes).
RAW_LABS = ("K", "GLU", "MG", "CR", "INR")
_RAW_MARKS = tuple(f'"code":"{c}"'.encode() for c in RAW_LABS)
RAW_TYPES = ("AllergyIntolerance", "ServiceRequest")
RAW_MEDS = ("628958", "855332", "854235", "314076", "861007", "261551")


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    given: str
    family: str
    birth_date: str
    gender: str


@dataclass
class Chart:
    manifest: dict
    patients: dict[str, Person]
    labs: dict[tuple[str, str], list[LabPoint]] = field(default_factory=dict)
    voided_labs: dict[tuple[str, str], list[LabPoint]] = field(default_factory=dict)
    design: str = "mab"
    # safety design only: {(mrn, "AllergyIntolerance"|…): [resources]}, {(mrn, code): [lab Observations]}
    raw: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    raw_labs: dict[tuple[str, str], list[dict]] = field(default_factory=dict)

    def resources(self, mrn: str, rtype: str) -> list[dict]:
        return self.raw.get((mrn, rtype), [])

    def observations(self, mrn: str, code: str) -> list[dict]:
        return self.raw_labs.get((mrn, code), [])

    @property
    def ids(self) -> list[str]:
        return sorted(self.patients)

    @property
    def profile(self) -> str:
        return self.manifest.get("profile") or "mab-v1"

    def series(self, mrn: str, code: str) -> list[LabPoint]:
        return self.labs.get((mrn, code), [])

    def voided(self, mrn: str, code: str) -> list[LabPoint]:
        """The patient's entered-in-error / cancelled results of ``code`` (value NaN if none)."""
        return self.voided_labs.get((mrn, code), [])

    @property
    def scenarios(self) -> dict[str, dict[str, list[str]]]:
        return self.manifest.get("scenarios") or {}


def _person(resource: dict) -> Person:
    names = resource.get("name") or [{}]
    name = next((n for n in names if n.get("use") == "official"), names[0])
    return Person(resource["id"], (name.get("given") or [""])[0], name.get("family", ""),
                  resource.get("birthDate", ""), resource.get("gender", ""))


def _ndjson(path: Path):
    with path.open("rb") as fh:
        yield from fh


def load_chart(cohort_dir: Path, design: str | None = None) -> Chart:
    cohort_dir = Path(cohort_dir)
    try:
        manifest = orjson.loads((cohort_dir / "manifest.json").read_bytes())
        files = manifest["files"]
        patients = [_person(orjson.loads(line)) for line in
                    _ndjson(cohort_dir / files["Patient"]["path"]) if line.strip()]
        obs_path = cohort_dir / files["Observation"]["path"]
    except (OSError, KeyError, orjson.JSONDecodeError) as exc:
        raise SuiteError(f"{cohort_dir}: not a readable cohort ({exc})") from None
    labs: dict[tuple[str, str], list[LabPoint]] = defaultdict(list)
    voided: dict[tuple[str, str], list[LabPoint]] = defaultdict(list)
    for line in _ndjson(obs_path):
        if not any(mark in line for mark in _CODE_MARKS):
            continue
        resource = orjson.loads(line)
        code = lab_code(resource)
        if code not in CODES:
            continue
        key = ((resource.get("subject") or {}).get("reference", "").rsplit("/", 1)[-1], code)
        if (p := lab_point(resource)) is not None:
            labs[key].append(p)
        elif (point := voided_point(resource)) is not None:
            voided[key].append(point)
    for series in labs.values():
        series.sort()
    for times in voided.values():
        times.sort()
    design = design or DESIGN_OF_PROFILE.get(manifest.get("profile") or "mab-v1", "edge")
    if design not in DESIGNS:
        raise SuiteError(f"unknown suite design {design!r} (known: {', '.join(DESIGNS)})")
    chart = Chart(manifest, {p.id: p for p in patients}, dict(labs), dict(voided), design)
    if design == "safety":
        _load_raw(chart, cohort_dir, files)
    return chart


def _subject(resource: dict) -> str:
    ref = (resource.get("subject") or resource.get("patient") or {}).get("reference", "")
    return ref.rsplit("/", 1)[-1]


def _load_raw(chart: Chart, cohort_dir: Path, files: dict) -> None:
    raw: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for rtype in RAW_TYPES:
        if rtype in files:
            for line in _ndjson(cohort_dir / files[rtype]["path"]):
                if line.strip():
                    resource = orjson.loads(line)
                    raw[(_subject(resource), rtype)].append(resource)
    marks = tuple(f'"code":"{c}"'.encode() for c in RAW_MEDS)
    for line in _ndjson(cohort_dir / files["MedicationRequest"]["path"]):
        if any(mark in line for mark in marks):
            resource = orjson.loads(line)
            raw[(_subject(resource), "MedicationRequest")].append(resource)
    raw_labs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in _ndjson(cohort_dir / files["Observation"]["path"]):
        if b'"29463-7"' in line:  # body weight (vital sign)
            resource = orjson.loads(line)
            raw_labs[(_subject(resource), "WT")].append(resource)
            continue
        if b'"laboratory"' in line and any(mark in line for mark in _RAW_MARKS):
            resource = orjson.loads(line)
            code = next((c.get("code") for c in resource["code"]["coding"]
                         if c.get("system") == "urn:medagent:lab"), None)
            if code in RAW_LABS:
                raw_labs[(_subject(resource), code)].append(resource)
    chart.raw, chart.raw_labs = dict(raw), dict(raw_labs)
