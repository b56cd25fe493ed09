"""The cohort marker: one ``Basic`` resource that says which cohort a FHIR server holds.

Every server loaded with a medagent cohort — the embedded store (``seed_store``) or any
FHIR R4 server (``medagent seed --fhir-url``) — holds ``Basic/<marker_id(checksum)>``:

- ``identifier``: system ``urn:medagent:cohort``, value = the cohort checksum;
- ``code``: ``urn:medagent:cohort|cohort-marker``;
- ``extension``: the cohort's profile, seed, size and generator version, and per resource type the
  number of resources the cohort holds (``urn:medagent:cohort-count`` with ``type`` and
  ``count`` sub-extensions).

A server is taken to hold the cohort when its marker is there AND the server's counts of a
few resource types (``SAMPLE_TYPES``, read with ``_summary=count``) equal the marker's: a
half-finished load has no marker yet (it is written last), and leftover or missing
resources show in the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from .manifest import Manifest

if TYPE_CHECKING:
    from medagent.fhir_server.store import Store

SYSTEM = "urn:medagent:cohort"
COUNT_URL = "urn:medagent:cohort-count"
# What bench and seed compare: the patients, and the types the task tools write.
SAMPLE_TYPES = ("Patient", "Observation", "MedicationRequest", "ServiceRequest")


def marker_id(checksum: str) -> str:
    return f"medagent-cohort-{checksum[:32]}"


def marker_resource(manifest: Manifest) -> dict[str, Any]:
    """The marker of ``manifest``'s cohort (deterministic: no time other than the cohort's now)."""
    counts = [
        {"url": COUNT_URL, "extension": [{"url": "type", "valueCode": rtype},
                                         {"url": "count", "valueInteger": entry.count}]}
        for rtype, entry in sorted(manifest.files.items())
    ]
    return {
        "resourceType": "Basic",
        "id": marker_id(manifest.checksum),
        "meta": {"lastUpdated": manifest.now},
        "identifier": [{"system": SYSTEM, "value": manifest.checksum}],
        "code": {"coding": [{"system": SYSTEM, "code": "cohort-marker"}],
                 "text": "medagent synthetic cohort marker"},
        "extension": [
            {"url": "urn:medagent:cohort-profile", "valueString": manifest.profile},
            {"url": "urn:medagent:cohort-seed", "valueInteger": manifest.seed},
            {"url": "urn:medagent:cohort-patients", "valueInteger": manifest.n_patients},
            {"url": "urn:medagent:generator-version", "valueString": manifest.generator_version},
            *counts,
        ],
    }


def marker_counts(resource: dict[str, Any]) -> dict[str, int]:
    """``{resource type: count}`` recorded in a marker."""
    out: dict[str, int] = {}
    for ext in resource.get("extension") or []:
        if not isinstance(ext, dict) or ext.get("url") != COUNT_URL:
            continue
        parts = {e.get("url"): e for e in ext.get("extension") or [] if isinstance(e, dict)}
        rtype = (parts.get("type") or {}).get("valueCode")
        count = (parts.get("count") or {}).get("valueInteger")
        if isinstance(rtype, str) and isinstance(count, int):
            out[rtype] = count
    return out


def marker_checksum(resource: dict[str, Any]) -> str | None:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == SYSTEM:
            return ident.get("value")
    return None


# -- the embedded store -------------------------------------------------------------------


def store_marker(store: Store, manifest: Manifest) -> None:
    """Put the marker into the store's baseline (call inside ``store.write()`` or alone)."""
    store.bulk_load([orjson.dumps(marker_resource(manifest), option=orjson.OPT_SORT_KEYS)])


def ensure_marker(store: Store) -> bool:
    """Add the marker to a store seeded before markers existed; True when it was added."""
    raw = store.get_meta("cohort_manifest")
    if not raw:
        return False
    manifest = Manifest.model_validate_json(raw)
    if store.current("Basic", marker_id(manifest.checksum), "") is not None:
        return False
    store_marker(store, manifest)
    return True


# -- any FHIR server over HTTP ------------------------------------------------------------


@dataclass
class CohortCheck:
    """What a server holds, compared with a cohort: ``ok`` when the marker is there and the
    sampled counts match."""

    marker: dict[str, Any] | None
    expected: dict[str, int] = field(default_factory=dict)
    found: dict[str, int | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.marker is not None and not self.mismatches

    @property
    def mismatches(self) -> list[str]:
        return [f"{t}: {self.found.get(t)} on the server, {n} in the cohort"
                for t, n in self.expected.items() if self.found.get(t) != n]

    def reason(self) -> str:
        if self.marker is None:
            return "no cohort marker on the server"
        return "; ".join(self.mismatches) or "the server holds the cohort"


def server_count(http: httpx.Client, base_url: str, rtype: str) -> int | None:
    """``Bundle.total`` of ``GET {base}/{rtype}?_summary=count``; None when not answered."""
    try:
        response = http.get(f"{base_url.rstrip('/')}/{rtype}", params={"_summary": "count"})
        total = response.json().get("total") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return total if isinstance(total, int) else None


def read_marker(http: httpx.Client, base_url: str, checksum: str) -> dict[str, Any] | None:
    """The cohort's marker on the server, or None (absent, deleted or another cohort's)."""
    try:
        response = http.get(f"{base_url.rstrip('/')}/Basic/{marker_id(checksum)}")
        if response.status_code != 200:
            return None
        resource = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(resource, dict) or marker_checksum(resource) != checksum:
        return None
    return resource


def check_server(http: httpx.Client, base_url: str, checksum: str,
                 types: tuple[str, ...] = SAMPLE_TYPES) -> CohortCheck:
    """Does the server at ``base_url`` hold the cohort ``checksum``? (marker + sampled counts)"""
    marker = read_marker(http, base_url, checksum)
    if marker is None:
        return CohortCheck(None)
    recorded = marker_counts(marker)
    expected = {t: recorded.get(t, 0) for t in types}
    found = {t: server_count(http, base_url, t) for t in types}
    return CohortCheck(marker, expected, found)
