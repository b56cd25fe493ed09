"""Category 8 (action): an urgent orthopedic surgery referral with an SBAR note.

One branch, ``refer``; each instance has its own SBAR text (``params.sbar``). Graded on the
written ServiceRequest only (the instruction asks for ``[]``; the answer is not graded):
code SNOMED CT 306181000000106 (UK extension, as in the original benchmark) or the
international 183545006 in any coding; priority stat; the common order checks (active,
order, patient, authored now); and a ``note[].text`` that contains the SBAR text (compared
word by word, ignoring case, punctuation and spacing). Exactly one ServiceRequest; any
other write fails.
"""

from __future__ import annotations

import random
from typing import Any

from ..models import Check, Grade, Task
from ._common import graded, mrn, mrn_in, templated, write
from ._fhir import SNOMED, check, concept_check, field_check, names_any
from ._orders import order_checks, service_request
from ._select import Instance, select_instances
from ._writes import WriteSpec

NUMBER, NAME, KIND = 8, "orthopedic_referral", "action"
TITLE = "Orthopedic referral"
BRANCHES = {"refer": 1}
DESIGNS = {"mab": BRANCHES, "edge": BRANCHES}
CODES = {(SNOMED, "306181000000106"), (SNOMED, "183545006")}
_CASES = (
    ("acute left knee injury", "MRI shows a complete tear of the anterior cruciate ligament",
     "ACL tear, grade III"),
    ("right ankle pain after a fall", "radiographs show a displaced lateral malleolus fracture",
     "unstable ankle fracture"),
    ("left shoulder pain and weakness after lifting", "ultrasound shows a full-thickness "
     "supraspinatus tear", "rotator cuff tear"),
    ("low back pain radiating to the right leg", "MRI shows an L5-S1 disc herniation with "
     "nerve root compression", "lumbar radiculopathy"),
    ("right hip pain after a fall", "radiographs show a femoral neck fracture",
     "displaced hip fracture"),
    ("swollen painful right wrist after a fall", "radiographs show a distal radius fracture "
     "with dorsal angulation", "displaced distal radius fracture"),
)


def select(chart: Any, rng: random.Random, n: int) -> list[Instance]:
    def make(branch: str, mrn: str, r: random.Random) -> Instance:
        situation, background, assessment = r.choice(_CASES)
        sbar = (f"Situation: {situation}. Background: {background}. Assessment: {assessment}. "
                f"Recommendation: request orthopedic surgery evaluation and management "
                f"recommendations.")
        return Instance(mrn, branch, {"sbar": sbar}, {"answer": [], "sbar": sbar})
    return select_instances({"refer": chart.ids}, BRANCHES, n, rng, make)


render = templated(KIND, (
    "Refer patient {patient} to orthopedic surgery urgently: order a referral (a ServiceRequest "
    "coded SNOMED CT 306181000000106, 'Referral to orthopedic service') with priority stat, and "
    "put this SBAR summary in the referral's free-text note: \"{sbar}\" Then finish with an "
    "empty list []."))


def _note_check(resource: dict, sbar: str) -> Check:
    notes = [n.get("text") for n in resource.get("note") or [] if isinstance(n, dict)]
    ok = names_any(" ".join(t for t in notes if isinstance(t, str)), (sbar,))
    return check("note", ok, sbar, notes, "the note does not contain the SBAR text")


def referral_spec(task: Task) -> WriteSpec:
    def checks(r: dict) -> list[Check]:
        return order_checks(r, mrn(task)) + [
            concept_check("code", r.get("code"), CODES),
            field_check(r, "priority", ("stat",)),
            _note_check(r, task.expected["sbar"]),
        ]
    return WriteSpec("orthopedic referral", "ServiceRequest", checks)


async def _refer(env: Any, patient: str, sbar: str) -> list:
    await write(env, "create_service_request", service_request(
        patient, SNOMED, "306181000000106", "Referral to orthopedic service",
        priority="stat", note=[{"text": sbar}]))
    return []


async def solve(task: Task, env: Any) -> list:
    return await _refer(env, mrn(task), task.params["sbar"])


async def blind(view: Any, env: Any) -> list:
    """The instruction says everything: order the referral with the SBAR text it quotes."""
    quoted = view.instruction.split('free-text note: "', 1)[-1].rsplit('" Then', 1)[0]
    return await _refer(env, mrn_in(view), quoted)


def grade(task: Task, answer: Any, writes: list[dict]) -> Grade:
    return graded([], writes, [referral_spec(task)])
