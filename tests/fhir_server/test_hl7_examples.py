"""Round trip of official HL7 FHIR R4 examples (vendored subset, see hl7_examples/NOTICE.md)."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import ValidationError

from medagent.fhir_server.validation import model_class

from ._data import count_rows

# Patients first: the server refuses a subject/patient naming a Patient it does not hold.
EXAMPLES = sorted((p for p in (Path(__file__).parent / "hl7_examples").glob("*.json")
                   if p.name != "package.json"), key=lambda p: (not p.name.startswith("Patient-"), p.name))


def _dangling_patient(resource: dict, patients: set[str]) -> str | None:
    """The element of a subject/patient reference to a Patient the examples do not hold."""
    for element in ("subject", "patient"):
        value = resource.get(element)
        for ref in [v.get("reference") for v in (value if isinstance(value, list) else [value])
                    if isinstance(v, dict)]:
            if isinstance(ref, str) and ref.startswith("Patient/") and ref[len("Patient/"):] not in patients:
                return f"{resource['resourceType']}.{element}"
    return None


def _r4b_accepts(resource: dict) -> bool:
    cls = model_class(resource["resourceType"])
    if cls is None:
        return False
    try:
        cls.model_validate(resource)
    except (ValidationError, ValueError):
        return False
    return True


def _without_server_meta(resource: dict) -> dict:
    out = dict(resource)
    meta = {k: v for k, v in out.pop("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        out["meta"] = meta
    return out


def test_hl7_examples_round_trip(asgi_client, empty_store):
    assert len(EXAMPLES) >= 150
    accepted = rejected = dangling = 0
    patients: set[str] = set()
    for path in EXAMPLES:
        raw = path.read_bytes()
        resource = orjson.loads(raw)
        rtype, rid = resource["resourceType"], resource["id"]
        url = f"/fhir/{rtype}/{rid}"
        before = count_rows(empty_store)
        resp = asgi_client.put(url, content=raw, headers={"content-type": "application/fhir+json"})
        if _r4b_accepts(resource) and (element := _dangling_patient(resource, patients)):
            assert resp.status_code == 422, (path.name, resp.text)
            assert resp.json()["issue"][0]["expression"] == [element], path.name
            assert count_rows(empty_store) == before, path.name
            dangling += 1
        elif _r4b_accepts(resource):
            assert resp.status_code == 201, (path.name, resp.text)
            if rtype == "Patient":
                patients.add(rid)
            back = asgi_client.get(url)
            assert back.status_code == 200
            assert _without_server_meta(back.json()) == _without_server_meta(resource), path.name
            assert back.json()["meta"]["versionId"] == "1"
            accepted += 1
        else:
            assert 400 <= resp.status_code < 500, (path.name, resp.status_code)
            assert resp.json()["resourceType"] == "OperationOutcome", path.name
            assert count_rows(empty_store) == before, path.name
            rejected += 1
    assert accepted > 100 and rejected > 5 and dangling > 20
