"""Load a cohort into any FHIR R4 server over HTTP with transaction Bundles.

Resources go in dependency order (Organization, Practitioner, Patient, Encounter, then the
clinical data) in transaction Bundles of ``batch`` entries. Every entry is a ``PUT`` of the
resource at its own id, so re-running the load is idempotent. Each Bundle is atomic on a
conforming server; a rejected Bundle or an unreachable server raises ``LoadError`` with one
readable line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson

from ._generate import TYPES
from .errors import LoadError
from .manifest import Manifest

DEFAULT_BATCH = 500
_HEAD = b'{"resourceType":"Bundle","type":"transaction","entry":['


def _bundles(directory: Path, manifest: Manifest, batch: int) -> Iterator[tuple[str, int, bytes]]:
    """``(resource type, entry count, Bundle JSON)`` in dependency order."""
    order = [t for t in TYPES if t in manifest.files] + sorted(set(manifest.files) - set(TYPES))
    for rtype in order:
        entries: list[bytes] = []
        with (directory / manifest.files[rtype].path).open("rb") as fh:
            for line in fh:
                rid = orjson.loads(line)["id"]
                request = orjson.dumps({"method": "PUT", "url": f"{rtype}/{rid}"})
                entries.append(b'{"request":' + request + b',"resource":' + line.rstrip(b"\n") + b"}")
                if len(entries) >= batch:
                    yield rtype, len(entries), _HEAD + b",".join(entries) + b"]}"
                    entries = []
        if entries:
            yield rtype, len(entries), _HEAD + b",".join(entries) + b"]}"


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        issues = body.get("issue") or []
        text = "; ".join(i.get("diagnostics") or i.get("details", {}).get("text", "") for i in issues)
    except ValueError:
        text = response.text
    return " ".join(text.split())[:300] or response.reason_phrase


def load_over_http(
    directory: str | Path, base_url: str, token: str | None = None, batch: int = DEFAULT_BATCH,
    http: httpx.Client | None = None, progress: Callable[[int, int], None] | None = None,
    timeout: float = 120.0,
) -> int:
    """PUT every resource of the cohort folder into the server at ``base_url``; returns the count."""
    directory = Path(directory)
    manifest = Manifest.load(directory)
    if batch < 1:
        raise LoadError("the batch size must be at least 1")
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client = http or httpx.Client(timeout=timeout)
    url = base_url.rstrip("/")
    done = 0
    try:
        for rtype, count, body in _bundles(directory, manifest, batch):
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise LoadError(f"cannot reach the FHIR server at {url}: {exc or type(exc).__name__}") from None
            if response.status_code != 200:
                raise LoadError(
                    f"the FHIR server at {url} rejected a transaction of {count} {rtype} resources "
                    f"(HTTP {response.status_code}): {_problem(response)}; {done} resources were loaded before"
                )
            done += count
            if progress:
                progress(done, manifest.total)
    finally:
        if http is None:
            client.close()
    return done
