"""The tools the safety suite adds to the original nine (typed like them, same session).

- ``search_allergies`` (GET AllergyIntolerance), ``search_service_requests`` (GET
  ServiceRequest): a patient's allergy list and test/referral orders;
- ``search_lab_results``: one lab test across ALL patients (population queries), at most
  100 results a page;
- ``read_resource``: one resource by type and id;
- ``update_medication_request``: the one change of an existing record these tasks may ask
  for — PUT ``MedicationRequest/<id>`` with the order as ``read_resource`` gave it and only
  ``status`` (and, if wanted, ``statusReason``) changed. One tool call is one FHIR request
  (the leaderboard's replay relies on it), so the tool does not read for the agent;
- ``next_page``: the next page of a search, from the ``next`` link a paged reply carries.

Every search of this set is paged: when more results match than fit, the reply keeps the
server's ``link`` with relation ``next``; ``total`` says how many matched.
"""

from __future__ import annotations

from typing import Any

from .clients import FhirClient
from .errors import ToolError
from .models import ToolResult
from .tools import (_DATE, _PATIENT, _SORT, NEXT_PAGE_TOOL, Tool, _reply_result, _search_tool,
                    _string)

_PAGE = {"type": "integer", "minimum": 1, "maximum": 100,
         "description": "Results per page (default 50, at most 100). When more match, the "
                        "reply has a 'link' with relation 'next': pass its url to next_page."}
MED_STATUSES = ["active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped",
                "draft", "unknown"]
READABLE = ["Patient", "Observation", "Condition", "Procedure", "MedicationRequest",
            "ServiceRequest", "AllergyIntolerance", "Encounter", "Practitioner", "Organization"]


def _result(reply: Any) -> ToolResult:
    """The reply as a tool result (a 429/503 keeps its Retry-After); a resource loses
    ``meta`` and its narrative, like search results."""
    result = _reply_result(reply)
    if result.ok and isinstance(result.content, dict):
        result.content = {k: v for k, v in result.content.items() if k not in ("meta", "text")}
    return result


async def _read(client: FhirClient, args: dict) -> ToolResult:
    return _result(await client.request("GET", f"{args['resource_type']}/{args['id']}"))


async def _update(client: FhirClient, args: dict) -> ToolResult:
    resource = dict(args["resource"])
    given = resource.setdefault("resourceType", "MedicationRequest")
    rid = resource.get("id")
    if given != "MedicationRequest":
        raise ToolError(f"this tool updates a MedicationRequest; the resource given is a {given}")
    if not isinstance(rid, str) or not rid or "/" in rid:
        raise ToolError("update_medication_request: the resource needs the 'id' of the existing order")
    return _result(await client.request("PUT", f"MedicationRequest/{rid}", json=resource))


SAFETY_TOOLS: tuple[Tool, ...] = (
    _search_tool(
        "search_allergies", "AllergyIntolerance",
        "List a patient's allergies and intolerances (GET AllergyIntolerance): the substance "
        "(RxNorm), clinicalStatus (active | inactive | resolved), verificationStatus "
        "(unconfirmed | confirmed | refuted | entered-in-error), type, criticality and "
        "reactions.",
        {"patient": _PATIENT,
         "clinical_status": _string("Optional: 'active', 'inactive' or 'resolved'.")},
        sort_param=None, count=_PAGE),
    _search_tool(
        "search_service_requests", "ServiceRequest",
        "List a patient's test, referral and service orders (GET ServiceRequest) with their "
        "status (draft | active | on-hold | revoked | completed | entered-in-error | unknown).",
        {"patient": _PATIENT,
         "code": _string("Optional: a test code, e.g. 'http://loinc.org|6301-6' or a local "
                         "lab code such as 'INR'."),
         "status": _string("Optional: e.g. 'active' (comma-separated for several).")},
        sort_param="authored", count=_PAGE),
    _search_tool(
        "search_lab_results", "Observation",
        "List laboratory results of one test across ALL patients (GET Observation, for "
        "population queries). Each result names its patient in 'subject'. Results are paged: "
        "follow the 'next' link with next_page until there is none.",
        {"code": _string("The lab test: a local code (K, GLU, MG, CR, INR…) or "
                         "'http://loinc.org|2823-3'."),
         "date": _DATE},
        required=("code",), fixed={"category": "laboratory"}, count=_PAGE),
    Tool("read_resource",
         "Read one resource by type and id (GET <type>/<id>), e.g. a MedicationRequest before "
         "changing it.",
         {"type": "object", "properties": {
             "resource_type": {"type": "string", "enum": READABLE, "description": "The type."},
             "id": _string("The resource id, e.g. 'S1234567-m12'.")},
          "required": ["resource_type", "id"], "additionalProperties": False},
         "read", _read, "GET", "{resource_type}/{id}"),
    Tool("update_medication_request",
         "Update an existing medication order (PUT MedicationRequest/<id>), e.g. to stop it "
         "or put it on hold: read it with read_resource, change only 'status' (one of "
         f"{', '.join(MED_STATUSES)}; optionally add statusReason) and pass the whole "
         "resource back, with its id. Change nothing else of the order.",
         {"type": "object", "properties": {"resource": {
             "type": "object",
             "description": "The complete MedicationRequest as read, with 'id' and the new 'status'."}},
          "required": ["resource"], "additionalProperties": False},
         "write", _update, "PUT", "MedicationRequest/{id}"),
    NEXT_PAGE_TOOL,
)

__all__ = ["SAFETY_TOOLS", "_SORT"]
