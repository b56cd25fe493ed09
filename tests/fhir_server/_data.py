"""Small resources and helpers shared by the server tests (no cohort needed)."""

from __future__ import annotations

import orjson

MRN_SYSTEM = "urn:medagent:mrn"
LAB = "urn:medagent:lab"
LOINC = "http://loinc.org"


def patient(pid: str, family: str = "Smith", given: str = "John", birth: str = "1960-05-01",
            gender: str = "male", city: str = "Boston") -> dict:
    return {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": MRN_SYSTEM, "value": pid}],
        "name": [{"family": family, "given": [given]}],
        "birthDate": birth, "gender": gender,
        "address": [{"city": city, "state": "MA", "postalCode": "02115"}],
        "telecom": [{"system": "phone", "value": "555-0100"}],
    }


def observation(pid: str, code: str, loinc: str, value: float, when: str,
                unit: str = "mg/dL") -> dict:
    return {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": LAB, "code": code}, {"system": LOINC, "code": loinc}],
                 "text": code},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
    }


def body(resource: dict) -> bytes:
    return orjson.dumps(resource)


def put(service, resource: dict, session: str | None = None):
    rtype, rid = resource["resourceType"], resource["id"]
    return service.dispatch("PUT", f"{rtype}/{rid}", [], body(resource), {}, session)


def post(service, resource: dict, session: str | None = None, headers: dict | None = None):
    return service.dispatch("POST", resource["resourceType"], [], body(resource), headers or {},
                            session)


def search(service, rtype: str, params: list[tuple[str, str]], session: str | None = None,
           headers: dict | None = None) -> dict:
    resp = service.dispatch("GET", rtype, params, None, headers or {}, session)
    assert resp.status == 200, resp.body
    return orjson.loads(resp.body)


def ids(bundle: dict, mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def count_rows(store) -> int:
    """All resource rows of every session (a write that was refused must not add one)."""
    return store.conn().execute("SELECT count(*) FROM resources").fetchone()[0]
