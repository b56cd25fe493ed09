"""What an interaction answers: :class:`FhirResponse`, the per-request :class:`Ctx`, and
the builders shared by the service, writes and Bundles (``Prefer: return=`` included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate

import orjson

from .bundles import dumps
from .errors import FhirError

CONTENT_TYPE = "application/fhir+json; charset=utf-8"
RETURN_PREFERENCES = ("minimal", "representation", "OperationOutcome")


@dataclass(slots=True)
class FhirResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> object:
        return orjson.loads(self.body) if self.body else None


@dataclass(slots=True)
class Ctx:
    """Per-request context: the session ('' = baseline), the absolute FHIR base, headers."""

    session: str
    base: str
    headers: dict[str, str]

    def prefer(self, name: str) -> str | None:
        """The value of one ``Prefer`` token (``return``, ``handling``), None when absent."""
        for part in self.headers.get("prefer", "").split(","):
            key, _, value = part.strip().partition("=")
            if key.strip() == name:
                return value.strip().strip('"')
        return None

    @property
    def lenient(self) -> bool:
        return self.prefer("handling") == "lenient"

    @property
    def return_preference(self) -> str:
        wanted = self.prefer("return")
        return wanted if wanted in RETURN_PREFERENCES else "representation"


def http_date(lu_ms: int) -> str:
    return formatdate(lu_ms / 1000, usegmt=True)


def resource_response(status: int, body: bytes, version: int, lu: int,
                      location: str | None = None) -> FhirResponse:
    headers = {"content-type": CONTENT_TYPE, "etag": f'W/"{version}"',
               "last-modified": http_date(lu)}
    if location is not None:
        headers["location"] = location
    return FhirResponse(status, headers, body)


def outcome_response(exc: FhirError) -> FhirResponse:
    return FhirResponse(exc.status, {"content-type": CONTENT_TYPE}, dumps(exc.operation_outcome()))


def json_response(status: int, value: object) -> FhirResponse:
    return FhirResponse(status, {"content-type": CONTENT_TYPE}, dumps(value))


def information(message: str) -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "informational", "diagnostics": message}]}


def write_outcome(resp: FhirResponse) -> dict:
    """The OperationOutcome describing a successful write (``Prefer: return=OperationOutcome``)."""
    what = resp.headers.get("location", "").split("/_history/")[0].rsplit("/", 2)
    target = "/".join(what[-2:]) if len(what) >= 3 else "The resource"
    verb = "created" if resp.status == 201 else "stored" if resp.headers.get("location") else "found"
    return information(f"{target} {verb}, version {resp.headers.get('etag', '?')}")


def apply_prefer(ctx: Ctx, resp: FhirResponse) -> FhirResponse:
    """Honour ``Prefer: return=minimal | representation | OperationOutcome`` on a write."""
    if resp.status >= 300:
        return resp
    wanted = ctx.return_preference
    if wanted == "minimal":
        headers = {k: v for k, v in resp.headers.items() if k != "content-type"}
        return FhirResponse(resp.status, headers, b"")
    if wanted == "OperationOutcome":
        return FhirResponse(resp.status, {**resp.headers, "content-type": CONTENT_TYPE},
                            dumps(write_outcome(resp)))
    return resp
