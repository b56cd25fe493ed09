"""One patient's five years of chart: encounters, labs, vitals, diagnoses, procedures, orders.

``generate_patient(job)`` is a pure function of its job (seed, patient index, plan facts),
run in worker processes; it returns the patient's NDJSON lines per resource type.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson

import medagent.patients._render as R
import medagent.patients.scenarios as scenarios
from ._codes import (
    ACUTE_INPATIENT, ACUTE_OUTPATIENT, ACUTE_SECONDARY, BMP, CBC, CHRONIC, CHRONIC_PREVALENCE,
    INPATIENT_MEDS, LFT, MEDS, PROC_DIALYSIS, PROC_INPATIENT_DAILY, PROC_INPATIENT_ONCE, PROC_OUTPATIENT,
    PROC_VENIPUNCTURE, TREATMENT,
)
from ._labs import LabChart, Physiology
from ._time import DAY, HOUR, day_start
from .profiles import get_profile

YEARS = 5
_ACUTE_SHIFT = {
    "pneumonia": {"WBC": 6.0}, "sepsis": {"WBC": 9.0, "CR": 0.6, "CO2": -4}, "uti": {"WBC": 4.0},
    "aki": {"CR": 1.4, "BUN": 25, "K": 0.6, "MG": 0.3}, "cellulitis": {"WBC": 4.0},
    "gi_bleed": {"HGB": -3.5, "HCT": -10, "BUN": 12}, "dehydration": {"NA": 6, "BUN": 14, "CR": 0.4},
    "copd_exacerbation": {"WBC": 3.0, "CO2": 5},
}
_INFECTIONS = frozenset({"pneumonia", "sepsis", "uti", "cellulitis"})


@dataclass(frozen=True)
class Job:
    seed: int
    index: int
    now: int  # minutes since the epoch
    mrn: str
    gender: str
    age: int
    states: dict
    gp: str
    org: str
    practitioners: tuple[str, ...]
    organizations: tuple[str, ...]
    profile: str = "mab-v1"
    variants: dict = field(default_factory=dict)  # the profile's per-patient variants


class _Chart:
    """Collects one patient's resources; ids are ``<MRN>-<kind><n>``."""

    def __init__(self, job: Job, rng: random.Random) -> None:
        self.job, self.rng, self.mrn = job, rng, job.mrn
        self.out: dict[str, list[dict]] = {
            t: [] for t in ("Encounter", "Observation", "Condition", "Procedure", "MedicationRequest")
        }
        self.n = {"e": 0, "v": 0, "c": 0, "p": 0, "m": 0}
        self.forbidden = scenarios.forbidden_minute(job.now)
        self.stays: list[tuple[int, int, str]] = []  # (start, end, encounter id)

    def next_id(self, kind: str) -> str:
        self.n[kind] += 1
        return f"{self.mrn}-{kind}{self.n[kind]}"

    def staff(self) -> str:
        return self.rng.choice(self.job.practitioners)

    def encounter(self, kind: str, start: int, end: int | None, reason=None) -> str:
        eid = self.next_id("e")
        org = self.job.org if kind in ("AMB", "LAB") else self.job.organizations[0]
        self.out["Encounter"].append(R.encounter(eid, self.mrn, kind, start, end, self.staff(), org, reason))
        return eid

    def encounter_at(self, minute: int) -> str:
        for start, end, eid in self.stays:
            if start <= minute <= end:
                return eid
        return self.encounter("LAB", minute - 10, minute + 20)

    def ok_minute(self, minute: int) -> int:
        while self.forbidden(minute):
            minute -= 1
        return minute


def _conditions(rng: random.Random, age: int, states: dict) -> set[str]:
    decades = max(0.0, (age - 40) / 10)
    conds = {key for key, base, per in CHRONIC_PREVALENCE if rng.random() < 1.4 * (base + per * decades)}
    if states["a1c"] == "never":
        conds.discard("diabetes")
    elif states["a1c"] == "recent" and rng.random() < 0.4:
        conds.add("diabetes")
    return conds or {"hypertension"}


def _chronic_meds(rng: random.Random, conds: set[str]) -> list[str]:
    meds: list[str] = []
    for cond in sorted(conds):
        for i, med in enumerate(TREATMENT.get(cond, ())):
            if rng.random() < (0.85 if i == 0 else 0.3) and med not in meds:
                meds.append(med)
    if "apixaban" in meds and "warfarin" in meds:
        meds.remove("warfarin")
    return meds


class _Vitals:
    def __init__(self, rng: random.Random, gender: str, conds: set[str]) -> None:
        self.rng = rng
        self.height = rng.gauss(176 if gender == "male" else 162, 6.5)
        bmi = rng.gauss(34 if "obesity" in conds else 26.5, 3.5)
        self.weight = max(40.0, bmi * (self.height / 100) ** 2)
        self.sys = 122 + (14 if "hypertension" in conds else 0) + rng.gauss(0, 6)
        self.spo2 = 93 if "copd" in conds else 97.5
        self.fever = False

    def spot_check(self, ch: _Chart, enc: str, minute: int) -> None:
        """Monitor readings between full vital-sign rounds."""
        rng, obs, mrn = self.rng, ch.out["Observation"], ch.mrn
        minute = ch.ok_minute(minute)
        for key, value in (
            ("HR", round(rng.gauss(92 if self.fever else 76, 9))), ("RR", round(rng.gauss(16, 1.8))),
            ("SPO2", min(100, round(rng.gauss(self.spo2, 1.3)))),
        ):
            obs.append(R.vital(ch.next_id("v"), mrn, enc, key, minute, value))

    def emit(self, ch: _Chart, enc: str, minute: int, full: bool) -> None:
        rng, obs, mrn = self.rng, ch.out["Observation"], ch.mrn
        minute = ch.ok_minute(minute)
        sys = round(self.sys + rng.gauss(0, 11))
        obs.append(R.blood_pressure(ch.next_id("v"), mrn, enc, minute, sys, round(sys * 0.62 + rng.gauss(0, 6))))
        temp = rng.gauss(38.4 if self.fever else 36.8, 0.3)
        for key, value in (
            ("HR", round(rng.gauss(92 if self.fever else 76, 9))), ("RR", round(rng.gauss(16, 1.8))),
            ("TEMP", round(temp, 1)), ("SPO2", min(100, round(rng.gauss(self.spo2, 1.3)))),
        ):
            obs.append(R.vital(ch.next_id("v"), mrn, enc, key, minute, value))
        if full:
            self.weight += rng.gauss(0, 0.4)
            for key, value in (
                ("WT", round(self.weight, 1)), ("HT", round(self.height, 1)),
                ("BMI", round(self.weight / (self.height / 100) ** 2, 1)),
            ):
                obs.append(R.vital(ch.next_id("v"), mrn, enc, key, minute, value))


def _draw(ch: _Chart, labs: LabChart, enc: str, minute: int, codes) -> None:
    minute = ch.ok_minute(minute)
    for code in codes:
        labs.add(code, minute, enc)
    ch.out["Procedure"].append(R.procedure(ch.next_id("p"), ch.mrn, enc, PROC_VENIPUNCTURE, minute, ch.staff()))


def _diagnoses(ch: _Chart, enc: str, start: int, end: int | None, items, onset_of) -> None:
    for dx in items:
        ch.out["Condition"].append(R.condition(
            ch.next_id("c"), ch.mrn, enc, dx, "encounter-diagnosis", onset_of(dx, start), start, end))


def _order(ch: _Chart, enc: str, med: str, minute: int, category: str, days: int) -> None:
    now = ch.job.now
    status = "active" if minute + days * DAY > now else ("completed" if ch.rng.random() < 0.9 else "stopped")
    ch.out["MedicationRequest"].append(R.medication_request(
        ch.next_id("m"), ch.mrn, enc, MEDS[med], minute, status, category, ch.staff(), days, now))


def _stay(ch, labs, vit, phys, conds, meds, start: int, end: int | None, warfarin: bool) -> None:
    rng, now = ch.rng, ch.job.now
    reason = rng.choice(sorted(ACUTE_INPATIENT))
    eid = ch.encounter("IMP", start, end, ACUTE_INPATIENT[reason])
    last = end if end is not None else now
    ch.stays.append((start, last, eid))
    phys.shift = dict(_ACUTE_SHIFT.get(reason, {}))
    vit.fever = reason in _INFECTIONS
    secondary = [ACUTE_SECONDARY[k] for k in sorted(ACUTE_SECONDARY) if rng.random() < 0.4]
    chronic = [CHRONIC[c] for c in sorted(conds)]
    chronic_onset = ch.job.now - YEARS * 365 * DAY - 200 * DAY
    _diagnoses(ch, eid, start, end, [ACUTE_INPATIENT[reason], *secondary], lambda dx, s: s - rng.randint(60, 2 * DAY))
    _diagnoses(ch, eid, start, None, chronic, lambda dx, s: chronic_onset)
    for code in rng.sample(PROC_INPATIENT_ONCE, rng.randint(2, 4)):
        ch.out["Procedure"].append(R.procedure(ch.next_id("p"), ch.mrn, eid, code, start + rng.randint(30, 600), ch.staff()))
    inpatient = [m for m in INPATIENT_MEDS if m != "ceftriaxone" or reason in _INFECTIONS]
    for med in meds + [m for m in inpatient if rng.random() < 0.7]:
        _order(ch, eid, med, start + rng.randint(20, 240), "inpatient", max(1, (last - start) // DAY))
    day = day_start(start)
    while day <= last:
        for hour in (0, 4, 8, 12, 16, 20):
            t = day + hour * HOUR + rng.randint(0, 45)
            if start <= t <= last:
                vit.emit(ch, eid, t, full=hour == 4)
            t += 2 * HOUR
            if start <= t <= last and rng.random() < 0.55:
                vit.spot_check(ch, eid, t)
        am = day + 4 * HOUR + 30 + rng.randint(0, 120)
        if start <= am <= last:
            codes = [*BMP, *CBC, "MG"]
            codes += ["PHOS"] * (rng.random() < 0.5) + list(LFT) * (rng.random() < 0.3)
            if warfarin or rng.random() < 0.3:
                codes.append("INR")
            _draw(ch, labs, eid, am, codes)
        pm = day + 16 * HOUR + rng.randint(0, 150)
        if start <= pm <= last and rng.random() < 0.6:
            _draw(ch, labs, eid, pm, [*BMP, "MG"] if rng.random() < 0.6 else [*BMP])
        for code in rng.sample(PROC_INPATIENT_DAILY, rng.randint(8, 11)):
            t = day + rng.randint(7 * HOUR, 21 * HOUR)
            if start <= t <= last:
                ch.out["Procedure"].append(R.procedure(ch.next_id("p"), ch.mrn, eid, code, t, ch.staff()))
        if day > start and day + 9 * HOUR <= last:  # the day's progress-note diagnoses
            daily = [ACUTE_INPATIENT[reason], *secondary, *(dx for dx in chronic if rng.random() < 0.7)]
            _diagnoses(ch, eid, day + 9 * HOUR, None, daily, lambda dx, s: start)
        if "ckd" in conds and rng.random() < 0.15 and day + 13 * HOUR <= last:
            ch.out["Procedure"].append(R.procedure(ch.next_id("p"), ch.mrn, eid, PROC_DIALYSIS, day + 13 * HOUR, ch.staff()))
        day += DAY
    phys.shift = {}
    vit.fever = False


def _visit(ch, labs, vit, conds, meds, t: int, diabetic: bool, warfarin: bool, last_a1c: list[int]) -> None:
    rng = ch.rng
    eid = ch.encounter("AMB", t, t + rng.randint(20, 60))
    vit.emit(ch, eid, t + 5, full=True)
    codes = list(BMP) * (rng.random() < 0.7) + list(CBC) * (rng.random() < 0.45)
    codes += ["MG"] * (rng.random() < 0.45) + list(LFT) * (rng.random() < 0.25)
    if warfarin:
        codes.append("INR")
    gap = t - last_a1c[0]
    if (diabetic and gap > 80 * DAY) or (gap > 330 * DAY and rng.random() < 0.5):
        codes.append("A1C")
        last_a1c[0] = t
    if codes:
        _draw(ch, labs, eid, t + rng.randint(25, 50), codes)
    for code in rng.sample(PROC_OUTPATIENT, rng.randint(3, 6)):
        ch.out["Procedure"].append(R.procedure(ch.next_id("p"), ch.mrn, eid, code, t + rng.randint(5, 40), ch.staff()))
    items = [CHRONIC[c] for c in sorted(conds) if rng.random() < 0.85]
    onset = ch.job.now - YEARS * 365 * DAY - 200 * DAY
    _diagnoses(ch, eid, t, None, items, lambda dx, s: onset)
    if rng.random() < 0.5:
        acute = ACUTE_OUTPATIENT[rng.choice(sorted(ACUTE_OUTPATIENT))]
        healed = t + 14 * DAY if t + 14 * DAY < ch.job.now else None  # nothing is dated after NOW
        _diagnoses(ch, eid, t, healed, [acute], lambda dx, s: s - rng.randint(DAY, 10 * DAY))
    for med in meds:
        if rng.random() < 0.45:
            _order(ch, eid, med, t + 30, "outpatient", 90)


def _timeline(rng: random.Random, now: int) -> tuple[list[tuple[int, int | None]], list[int]]:
    """Hospital stays (the last one in progress at NOW) and office visits in between."""
    start = now - YEARS * 365 * DAY
    stays: list[tuple[int, int | None]] = []
    for _ in range(rng.randint(11, 17)):
        s = start + rng.randint(10 * DAY, (YEARS * 365 - 12) * DAY)
        s = day_start(s) + rng.randint(8 * HOUR, 22 * HOUR)
        e = s + (2 + min(12, int(rng.expovariate(1 / 3.2)))) * DAY + rng.randint(-6 * HOUR, 6 * HOUR)
        if all(e + 3 * DAY < a or s > (b or now) + 3 * DAY for a, b in stays) and e < now - 8 * DAY:
            stays.append((s, e))
    stays.append((now - int(rng.uniform(1.6, 4.5) * DAY), None))
    stays.sort()
    visits: list[int] = []
    t = start + rng.randint(0, 20 * DAY)
    while t < now - 6 * DAY:
        t2 = day_start(t) + rng.randint(8 * HOUR, 16 * HOUR)
        if all(not (a - DAY <= t2 <= (b or now) + DAY) for a, b in stays):
            visits.append(t2)
        t += rng.randint(10 * DAY, 32 * DAY)
    return stays, visits


def generate_patient(job: Job) -> dict[str, bytes]:
    rng = random.Random(f"{job.seed}:{job.index}")
    now = job.now
    conds = _conditions(rng, job.age, job.states)
    meds = _chronic_meds(rng, conds)
    phys = Physiology(rng, job.gender, conds, set(meds))
    ch = _Chart(job, rng)
    labs = LabChart(phys, ch.forbidden, ch.encounter_at)
    vit = _Vitals(rng, job.gender, conds)
    warfarin = "warfarin" in meds
    stays, visits = _timeline(rng, now)
    events = sorted([(s, 0, e) for s, e in stays] + [(v, 1, None) for v in visits], key=lambda x: x[0])
    last_a1c = [now - YEARS * 365 * DAY - rng.randint(0, 300) * DAY]
    for t, kind, end in events:
        if kind == 0:
            _stay(ch, labs, vit, phys, conds, meds, t, end, warfarin)
        else:
            _visit(ch, labs, vit, conds, meds, t, "diabetes" in conds, warfarin, last_a1c)
    _problem_list(ch, conds, ch.out["Encounter"][0]["id"], events[0][0])
    scenarios.apply_labs(labs, job.states, now, rng)
    profile = get_profile(job.profile)
    if profile.labs is not None:  # its own stream: the shared one is never advanced by a profile
        profile.labs(labs, job, random.Random(f"{job.seed}:{job.index}:edge"))
    if profile.chart is not None:
        for rtype in profile.types:
            ch.out.setdefault(rtype, [])
        profile.chart(ch, labs, job, random.Random(f"{job.seed}:{job.index}:{job.profile}"))
    _render_labs(ch, labs)
    return {rtype: ndjson(items) for rtype, items in ch.out.items()}


def _problem_list(ch: _Chart, conds: set[str], encounter: str, recorded: int) -> None:
    """One problem-list entry per chronic condition, recorded at the first encounter."""
    for cond in sorted(conds):
        onset = ch.job.now - YEARS * 365 * DAY - ch.rng.randint(200, 3000) * DAY
        ch.out["Condition"].append(R.condition(
            ch.next_id("c"), ch.mrn, encounter, CHRONIC[cond], "problem-list-item", onset, recorded))


def _render_labs(ch: _Chart, labs: LabChart) -> None:
    now, mrn, obs = ch.job.now, ch.mrn, ch.out["Observation"]
    records = sorted(labs.records, key=lambda r: (r[1], r[0]))
    offset = labs.offset
    for n, rec in enumerate(records, 1):
        code, minute, value, enc = rec[:4]
        issued = min(now, minute + 20 + (minute * 31 + n) % 70)
        if len(rec) > 4 or offset:
            status = rec[4]["status"] if len(rec) > 4 else "final"
            obs.append(R.lab(f"{mrn}-l{n}", mrn, enc, code, minute, issued, value, status, offset))
        else:
            obs.append(R.lab(f"{mrn}-l{n}", mrn, enc, code, minute, issued, value))


def ndjson(items: list[dict]) -> bytes:
    """Resources as NDJSON lines (sorted keys); empty bytes for no resources."""
    if not items:
        return b""
    dumps, opt = orjson.dumps, orjson.OPT_SORT_KEYS
    return b"\n".join([dumps(r, option=opt) for r in items]) + b"\n"
