"""The agent's tools: typed versions of the original benchmark's nine FHIR functions.

Every tool has a ``name``, a ``description``, JSON-schema ``parameters`` (documented per
parameter), a ``kind`` (``read`` or ``write``), ``async call(client, args) -> ToolResult``
and the one FHIR request it makes: ``method``, ``path`` (relative to the FHIR base; a
``{name}`` placeholder is filled from argument ``name``, and a path that is one
placeholder is the whole URL the argument gives), ``fixed`` (search parameters always sent)
and ``query`` (argument → FHIR search parameter). Whoever shows the tools as HTTP — the
plain-text protocol's function list — reads them from there. Tools never raise into the agent loop: bad arguments give
``ToolResult(ok=False, status=None, content={"error": …})`` with a message saying what to
fix, and an error reply of the server (a 4xx OperationOutcome) comes back as the content.

Reads return the server's searchset Bundle, lightly trimmed for the model: each resource
loses ``meta`` and its narrative ``text``; entries lose ``fullUrl``/``search``; the bundle
keeps ``type``, ``total``, ``entry`` and, when more results match than the page holds, its
``next`` link (``NEXT_PAGE_TOOL`` follows it). Values, units, codes and dates are untouched.
A 429/503 reply's ``Retry-After`` (seconds) is the result's ``retry_after``.
Searches of dated resources are sorted newest first unless ``sort`` says otherwise.

Writes take a complete FHIR R4 resource (the agent builds real FHIR) and POST it; the
server validates it and the content is the stored resource (or the OperationOutcome).

``finish(answer)`` ends a trial; it is handled by the harness, not the server, and its
schema is ``FINISH_TOOL``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from .clients import FhirClient
from .errors import FhirClientError, ToolError
from .models import FhirReply, ToolResult
from .text import short

_PATIENT = {"type": "string",
            "description": "The patient's MRN, which is the Patient id (e.g. 'S1234567'); "
                           "'Patient/S1234567' also works."}
_DATE = {"type": "array", "items": {"type": "string"},
         "description": "FHIR date filters, each a date/dateTime with an optional prefix "
                        "(eq, ne, gt, lt, ge, le), all of which must hold; e.g. "
                        "['ge2023-11-12T10:15:00+00:00', 'le2023-11-13T10:15:00+00:00']."}
_SORT = {"type": "string", "enum": ["-date", "date"],
         "description": "Order of results by date: '-date' newest first (default), "
                        "'date' oldest first."}
_COUNT = {"type": "integer", "minimum": 1, "maximum": 1000,
          "description": "Maximum number of resources returned (default 50, at most 1000). "
                         "The bundle's 'total' says how many matched."}


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict
    kind: str  # "read" | "write"
    _run: Callable[[FhirClient, dict], Awaitable[ToolResult]]
    method: str  # the FHIR request it makes: "GET" | "POST" | "PUT"
    path: str  # relative to the FHIR base; "{arg}" is filled from argument arg ("{url}": the whole URL)
    fixed: dict[str, str] = field(default_factory=dict)  # search parameters always sent
    query: dict[str, str] = field(default_factory=dict)  # argument -> FHIR search parameter

    @property
    def url_args(self) -> tuple[str, ...]:
        """The arguments that go into the path (``{resource_type}/{id}`` → both)."""
        return tuple(re.findall(r"\{([a-z_]+)\}", self.path))

    async def call(self, client: FhirClient, args: Any) -> ToolResult:
        try:
            clean = validate_args(self, args)
            return await self._run(client, clean)
        except ToolError as exc:
            return ToolResult(False, None, {"error": str(exc)})
        except FhirClientError as exc:
            return ToolResult(False, None, {"error": f"FHIR server unreachable: {exc}"})

    def schema(self) -> dict:
        """The OpenAI-style function declaration of this tool."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}


def validate_args(tool: Tool, args: Any) -> dict:
    """Check ``args`` against the tool's schema; coerce the harmless mismatches."""
    if isinstance(args, str | bytes):  # a model's raw arguments text
        try:
            args = orjson.loads(args or b"{}")
        except orjson.JSONDecodeError:
            text = args if isinstance(args, str) else args.decode("utf-8", "replace")
            raise ToolError(f"{tool.name}: the arguments are not a JSON object: {short(text, 200)}") from None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ToolError(f"{tool.name}: arguments must be a JSON object, got {type(args).__name__}")
    props: dict = tool.parameters["properties"]
    unknown = sorted(set(args) - set(props))
    if unknown:
        raise ToolError(f"{tool.name}: unknown argument(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(props)}")
    missing = [k for k in tool.parameters.get("required", []) if args.get(k) in (None, "")]
    if missing:
        raise ToolError(f"{tool.name}: missing required argument(s) {', '.join(missing)}")
    return {k: _coerce(tool.name, k, props[k], v) for k, v in args.items() if v is not None}


def _coerce(tool: str, key: str, spec: dict, value: Any) -> Any:
    kind = spec["type"]
    if kind == "string":
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ToolError(f"{tool}: '{key}' must be a string")
        if "enum" in spec and value not in spec["enum"]:
            raise ToolError(f"{tool}: '{key}' must be one of {', '.join(spec['enum'])}")
        return value
    if kind == "integer":
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ToolError(f"{tool}: '{key}' must be an integer") from None
        low, high = spec.get("minimum", number), spec.get("maximum", number)
        if isinstance(value, bool) or not low <= number <= high:
            raise ToolError(f"{tool}: '{key}' must be between {low} and {high}")
        return number
    if kind == "array":
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ToolError(f"{tool}: '{key}' must be a list of strings")
        return values
    if isinstance(value, str):  # an object sent as a JSON string (double-encoded)
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
    if not isinstance(value, dict):  # object
        raise ToolError(f"{tool}: '{key}' must be a JSON object")
    return value


def trim_bundle(bundle: Any) -> Any:
    """The searchset Bundle without bulky bookkeeping (see module docs)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return bundle
    out: dict = {"resourceType": "Bundle", "type": bundle.get("type", "searchset")}
    if "total" in bundle:
        out["total"] = bundle["total"]
    entries = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if isinstance(resource, dict):
            entries.append({"resource": {k: v for k, v in resource.items()
                                         if k not in ("meta", "text")}})
    out["entry"] = entries
    nxt = [link for link in bundle.get("link") or []
           if isinstance(link, dict) and link.get("relation") == "next"]
    if nxt:  # more results than this page holds: the next page's URL (``next_page``)
        out["link"] = [{"relation": "next", "url": nxt[0].get("url")}]
    return out


def retry_after(reply: FhirReply) -> float | None:
    """The seconds a 429/503 reply asks the client to wait (``Retry-After`` in seconds)."""
    if reply.status not in (429, 503):
        return None
    value = next((v for k, v in (reply.headers or {}).items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the caller falls back to its own backoff


def _reply_result(reply: FhirReply, trim: bool = False) -> ToolResult:
    ok = 200 <= reply.status < 300
    return ToolResult(ok, reply.status, trim_bundle(reply.body) if ok and trim else reply.body,
                      retry_after(reply))


def _search(resource_type: str, mapping: dict[str, str], fixed: dict[str, str],
            sort_param: str | None) -> Callable[[FhirClient, dict], Awaitable[ToolResult]]:
    async def run(client: FhirClient, args: dict) -> ToolResult:
        params: list[tuple[str, str]] = list(fixed.items())
        for key, value in args.items():
            if key in ("sort", "count"):
                continue
            for v in value if isinstance(value, list) else [value]:
                params.append((mapping.get(key, key), v))
        if sort_param:
            order = args.get("sort", "-date")
            params.append(("_sort", ("-" if order.startswith("-") else "") + sort_param))
        params.append(("_count", str(args.get("count", 50))))
        return _reply_result(await client.request("GET", resource_type, params), trim=True)
    return run


def _create(resource_type: str) -> Callable[[FhirClient, dict], Awaitable[ToolResult]]:
    async def run(client: FhirClient, args: dict) -> ToolResult:
        resource = dict(args["resource"])
        given = resource.setdefault("resourceType", resource_type)
        if given != resource_type:
            raise ToolError(f"this tool creates a {resource_type}; the resource given is a {given}")
        return _reply_result(await client.request("POST", resource_type, json=resource))
    return run


_SEARCH_PATH = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


async def _next_page(client: FhirClient, args: dict) -> ToolResult:
    parts = urlsplit(args["url"].strip())
    path = parts.path.rsplit("/fhir/", 1)[-1].strip("/") if "/fhir/" in parts.path else parts.path.strip("/")
    if not _SEARCH_PATH.match(path):
        raise ToolError("next_page: 'url' must be the 'next' link of a search result Bundle "
                        "(e.g. 'http://…/fhir/Observation?…&_offset=50')")
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "_format"]
    return _reply_result(await client.request("GET", path, params), trim=True)


def _search_tool(name: str, resource_type: str, description: str, props: dict,
                 required: tuple[str, ...] = ("patient",), fixed: dict | None = None,
                 sort_param: str | None = "date", count: dict | None = None) -> Tool:
    properties = dict(props)
    if sort_param:
        properties.update(sort=_SORT)
    properties.update(count=count or _COUNT)
    mapping = {k: k.replace("_", "-") for k in properties if k not in ("sort", "count")}
    mapping["count"] = "_count"
    if sort_param:
        mapping["sort"] = "_sort"
    fixed = fixed or {}
    return Tool(name, description,
                {"type": "object", "properties": properties, "required": list(required),
                 "additionalProperties": False},
                "read", _search(resource_type, mapping, fixed, sort_param), "GET", resource_type, fixed, mapping)


def _create_tool(name: str, resource_type: str, description: str) -> Tool:
    params = {"type": "object", "properties": {"resource": {
        "type": "object",
        "description": f"The complete FHIR R4 {resource_type} resource as JSON "
                       f"(resourceType '{resource_type}')."}},
        "required": ["resource"], "additionalProperties": False}
    return Tool(name, description, params, "write", _create(resource_type), "POST", resource_type)


def _string(description: str) -> dict:
    return {"type": "string", "description": description}


TOOLS: tuple[Tool, ...] = (
    _search_tool(
        "search_patients", "Patient",
        "Find patients (GET Patient) by demographics. Name searches match the start of a "
        "name, case-insensitively, so compare the returned names yourself. The Patient id "
        "is the MRN.",
        {"given": _string("Given (first) name, e.g. 'Maria'."),
         "family": _string("Family (last) name, e.g. 'Lopez'."),
         "name": _string("Any part of the name (given or family)."),
         "birthdate": _string("Date of birth, YYYY-MM-DD (a prefix such as 'ge' is allowed)."),
         "identifier": _string("An identifier such as the MRN, e.g. 'S1234567'."),
         "gender": {"type": "string", "enum": ["male", "female", "other", "unknown"],
                    "description": "Administrative gender."},
         "address": _string("Any part of the address."),
         "address_city": _string("City."),
         "address_state": _string("State."),
         "address_postalcode": _string("Postal code."),
         "telecom": _string("Phone number or e-mail.")},
        required=(), sort_param=None),
    _search_tool(
        "search_conditions", "Condition",
        "List a patient's conditions (GET Condition): problem-list items and encounter "
        "diagnoses, coded in SNOMED CT and ICD-10-CM.",
        {"patient": _PATIENT,
         "category": _string("'problem-list-item' or 'encounter-diagnosis'."),
         "code": _string("A condition code, optionally 'system|code'."),
         "clinical_status": _string("e.g. 'active', 'resolved'.")},
        sort_param=None),
    _search_tool(
        "search_lab_observations", "Observation",
        "List a patient's laboratory results (GET Observation) for one test. Each result "
        "has effectiveDateTime (when the sample was taken), valueQuantity (value and "
        "unit) and the test code.",
        {"patient": _PATIENT,
         "code": _string("The lab test: a local code (MG magnesium, GLU glucose, K "
                         "potassium, A1C hemoglobin A1c, CR creatinine, NA sodium, BUN, "
                         "TBIL, INR, HGB, WBC, PLT) or a LOINC code as "
                         "'http://loinc.org|2823-3'."),
         "date": _DATE},
        required=("patient", "code"), fixed={"category": "laboratory"}),
    _search_tool(
        "search_vital_signs", "Observation",
        "List a patient's vital signs (GET Observation, category vital-signs): blood "
        "pressure, heart rate, respiratory rate, temperature, SpO2, weight, height, BMI.",
        {"patient": _PATIENT,
         "code": _string("Optional LOINC code, e.g. '85354-9' (blood pressure panel)."),
         "date": _DATE},
        fixed={"category": "vital-signs"}),
    _create_tool(
        "create_vital_sign", "Observation",
        "Record a vital sign (POST Observation). Give a complete FHIR Observation: status, "
        "category vital-signs (system "
        "http://terminology.hl7.org/CodeSystem/observation-category), code, subject "
        "{'reference': 'Patient/<MRN>'}, effectiveDateTime, and the value (valueQuantity, "
        "or components for a blood pressure)."),
    _search_tool(
        "search_medication_requests", "MedicationRequest",
        "List a patient's medication orders (GET MedicationRequest).",
        {"patient": _PATIENT,
         "status": _string("e.g. 'active', 'completed', 'stopped'."),
         "code": _string("A medication code, optionally 'system|code' (RxNorm or NDC)."),
         "authoredon": _DATE | {"description": "Filters on authoredOn; same syntax as "
                                               "other date filters, e.g. ['ge2023-01-01']."}},
        sort_param="authoredon"),
    _create_tool(
        "create_medication_request", "MedicationRequest",
        "Order a medication (POST MedicationRequest). Give a complete FHIR MedicationRequest: "
        "status, intent, medicationCodeableConcept, subject {'reference': 'Patient/<MRN>'}, "
        "authoredOn, and dosageInstruction (route as a CodeableConcept, doseAndRate with "
        "doseQuantity and rateQuantity or rateRatio, UCUM units)."),
    _search_tool(
        "search_procedures", "Procedure",
        "List a patient's procedures (GET Procedure).",
        {"patient": _PATIENT,
         "code": _string("A procedure code, optionally 'system|code'."),
         "date": _DATE}),
    _create_tool(
        "create_service_request", "ServiceRequest",
        "Order a test, referral or other service (POST ServiceRequest). Give a complete FHIR "
        "ServiceRequest: status, intent, code (a CodeableConcept with coding), subject "
        "{'reference': 'Patient/<MRN>'}, authoredOn, and as needed priority, "
        "occurrenceDateTime and note [{'text': …}]."),
)

TOOLS_BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}

# Offered in addition to a suite's tools when the session pages (``medagent bench
# --faults``): a search result whose Bundle has a ``link`` with relation ``next`` holds
# only the first page; this fetches the next one.
NEXT_PAGE_TOOL = Tool(
    "next_page",
    "Fetch the next page of a search result (GET the URL of the result Bundle's link with "
    "relation 'next'). Use it until a page has no 'next' link to see every result.",
    {"type": "object", "properties": {"url": _string("The 'next' link's url, exactly as given.")},
     "required": ["url"], "additionalProperties": False},
    "read", _next_page, "GET", "{url}")

FINISH_TOOL: dict = {"type": "function", "function": {
    "name": "finish",
    "description": "End the task and give your final answer as a JSON list, in exactly the "
                   "format the task asks for (e.g. [\"S1234567\"], [52], [1.8], [-1], "
                   "[6.1, \"2023-05-02T08:30:00+00:00\"], or [] when no answer is asked).",
    "parameters": {"type": "object", "properties": {"answer": {
        "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]},
        "description": "The answer list."}},
        "required": ["answer"], "additionalProperties": False}}}


def tool_schemas(include_finish: bool = True) -> list[dict]:
    """OpenAI-style declarations of every tool (and of ``finish``)."""
    return [t.schema() for t in TOOLS] + ([FINISH_TOOL] if include_finish else [])


def get_tool(name: str) -> Tool:
    try:
        return TOOLS_BY_NAME[name]
    except KeyError:
        raise ToolError(f"unknown tool {name!r}; tools: {', '.join(TOOLS_BY_NAME)}") from None
