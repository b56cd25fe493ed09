"""Referential integrity of patient references on write.

A create or update whose ``subject`` or ``patient`` points to a Patient that this server
(the baseline plus the session's own writes) does not hold is refused with 422
Unprocessable Entity and an OperationOutcome (issue code ``not-found``, expression the
element, e.g. ``Observation.subject``). 422 because the request is well-formed, valid R4
and only breaks a server rule (FHIR RESTful API: "422 Unprocessable Entity — the proposed
resource violated applicable FHIR profiles or server business rules"); 400 is for bodies
that cannot be parsed or fail basic validation.

Checked: literal references ``Patient/<id>`` (relative, absolute, or with ``/_history/n``).
Left alone: references to other types (``Group/…``), contained (``#…``) and ``urn:``
references, conditional references (``Patient?…``) and identifier-only references. In a
transaction the check runs after every entry is processed, so a Patient created anywhere
in the same Bundle counts, and one deleted in it does not.
"""

from __future__ import annotations

import re
from .errors import FhirError
from .responses import Ctx
from .store import Store

ELEMENTS = ("subject", "patient")
_PATIENT = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def _references(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v["reference"] for v in items
            if isinstance(v, dict) and isinstance(v.get("reference"), str)]


def check_patient_references(store: Store, ctx: Ctx, rtype: str, resource: dict,
                             where: str = "") -> None:
    """Raise a 422 ``FhirError`` if ``subject``/``patient`` names a Patient that is not here."""
    for element in ELEMENTS:
        for ref in _references(resource.get(element)):
            m = _PATIENT.search(ref.strip())
            if m is None or "?" in ref:
                continue
            cur = store.current("Patient", m.group(1), ctx.session)
            if cur is not None and not cur.deleted:
                continue
            state = "was deleted" if cur is not None else "does not exist"
            raise FhirError(
                422, f"{where}{rtype}.{element} refers to Patient/{m.group(1)}, which {state} "
                "on this server; check the patient's id (the MRN) and write again",
                code="not-found", expression=[f"{rtype}.{element}"])
