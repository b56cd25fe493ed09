"""Trials on a plain FHIR R4 server without the session API (``fhir_mode: "shared"``).

HAPI, another vendor's server or ``medagent serve --no-sessions`` have no ``/sessions``:
every trial reads and writes the one shared server. ``SharedServerBackend`` keeps that
honest:

- trials run one at a time (``open`` takes a lock that ``close`` gives back), so no trial
  sees another's writes;
- the trial's write log is rebuilt from the requests the tools sent and the server's
  replies (``write_log``), in the session log's entry format
  (``{"seq", "interaction", "method", "url", "status", "resourceType", "id",
  "versionId", "resource"}``, successful writes only);
- afterwards every resource the trial created is deleted again, and a cohort resource it
  changed or deleted is put back (the client keeps a copy, read just before the trial's
  first PUT/PATCH/DELETE of it); a clean-up that fails stops the run, since later trials
  would see the leftovers;
- before the first trial ``check`` identifies the cohort (its marker and sampled counts,
  ``patients.marker``) and makes sure the server lets us clean up (a probe resource is
  created and deleted); otherwise the run refuses to start. ``aclose`` samples the counts
  again and warns when the server no longer holds exactly the cohort.

``medagent.bench.backends.choose_backend`` picks the mode for a FHIR URL:
``sessions="auto"`` probes ``POST {root}/sessions`` (``probe_sessions`` here; the probe
session is deleted again), ``"on"``/``"off"`` force it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
from typing import Any

import httpx

from medagent.errors import ConfigError

__all__ = ["SharedServerBackend", "probe_sessions", "write_log"]

_WRITE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}
_HISTORY = re.compile(r"(?:^|/)([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([^/?#]+))?/?(?:[?#].*)?$")
_PROBE_CODE = {"coding": [{"system": "urn:medagent:cohort", "code": "cleanup-probe"}],
               "text": "medagent clean-up probe (deleted at once)"}


def _location(headers: dict[str, str] | None) -> tuple[str | None, str | None, str | None]:
    """``(type, id, version)`` from a ``Location``/``Content-Location`` header."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    value = headers.get("location") or headers.get("content-location") or ""
    match = _HISTORY.search(value)
    return (match.group(1), match.group(2), match.group(3)) if match else (None, None, None)


def _etag_version(headers: dict[str, str] | None) -> str | None:
    etag = {k.lower(): v for k, v in (headers or {}).items()}.get("etag") or ""
    match = re.search(r'"([^"]+)"', etag)
    return match.group(1) if match else None


def _entry(method: str, url: str, status: int, body: Any, headers: dict[str, str] | None,
           rtype: str, rid: str | None) -> dict[str, Any]:
    resource = body if isinstance(body, dict) and body.get("resourceType") == rtype else None
    loc_type, loc_id, loc_version = _location(headers)
    rid = (resource or {}).get("id") or rid or (loc_id if loc_type == rtype else None)
    version = ((resource or {}).get("meta") or {}).get("versionId") or loc_version or _etag_version(headers)
    if method == "DELETE":
        interaction, resource = "delete", None
    elif method == "POST":
        interaction = "create"
    else:
        interaction = "update"
    return {"interaction": interaction, "method": method, "url": url, "status": status,
            "resourceType": rtype, "id": rid, "versionId": str(version) if version else None,
            "resource": resource}


def write_log(requests: list[dict[str, Any]], headers: list[dict[str, str] | None] | None = None) -> list[dict[str, Any]]:
    """The write log of one trial from its recorded requests (``client.requests``) and the
    replies' headers (same order; may be None): one entry per successful write, in order;
    a transaction or batch adds one per successful entry."""
    out: list[dict[str, Any]] = []
    headers = headers or [None] * len(requests)
    for request, head in zip(requests, headers, strict=False):
        method = str(request.get("method", "")).upper()
        status = request.get("status") or 0
        if method not in _WRITE_METHODS or not 200 <= status < 300:
            continue
        path = str(request.get("path", "")).strip("/")
        parts = path.split("/")
        if path == "" and method == "POST":
            out.extend(_bundle_entries(request.get("body"), request.get("response")))
        elif len(parts) in (1, 2) and parts[0]:
            url = parts[0] if method == "POST" else path
            out.append(_entry(method, url, status, request.get("response"), head, parts[0],
                              parts[1] if len(parts) == 2 else None))
    for seq, entry in enumerate(out, 1):
        entry["seq"] = seq
    return out


def _bundle_entries(sent: Any, reply: Any) -> list[dict[str, Any]]:
    """Entries of a transaction/batch reply, matched with the request entries by position."""
    if not isinstance(sent, dict) or not isinstance(reply, dict):
        return []
    out = []
    for req, res in zip(sent.get("entry") or [], reply.get("entry") or [], strict=False):
        request, response = (req or {}).get("request") or {}, (res or {}).get("response") or {}
        method = str(request.get("method", "")).upper()
        status_text = str(response.get("status", ""))
        status = int(status_text.split()[0]) if status_text[:3].isdigit() else 0
        if method not in _WRITE_METHODS or not 200 <= status < 300:
            continue
        url = str(request.get("url", "")).split("?")[0].strip("/")
        rtype, _, rid = url.partition("/")
        headers = {"location": response.get("location") or "", "etag": response.get("etag") or ""}
        out.append(_entry(method, url, status, (res or {}).get("resource"), headers, rtype, rid or None))
    return out


def _make_client(base_url: str, token: str | None, http: httpx.AsyncClient) -> Any:
    """An ``HttpFhirClient`` that also keeps each reply's headers (ids in ``Location``) and,
    before the first change of an existing resource, a copy of it (to put it back)."""
    from medagent.tasks.clients import HttpFhirClient

    class _Client(HttpFhirClient):
        def __init__(self) -> None:
            super().__init__(base_url, token=token, http=http)
            self._headers_of: dict[int, dict[str, str]] = {}  # id(record in requests) -> headers
            self.snapshots: dict[tuple[str, str], dict[str, Any] | None] = {}

        async def request(self, method, path, params=None, json=None):  # noqa: ANN001, ANN202
            targets = [(method, path)]
            if path.strip("/") == "" and isinstance(json, dict):  # a batch/transaction Bundle
                targets = [((e.get("request") or {}).get("method", ""), (e.get("request") or {}).get("url", ""))
                           for e in json.get("entry") or [] if isinstance(e, dict)]
            for verb, target in targets:
                parts = str(target).split("?")[0].strip("/").split("/")
                if str(verb).upper() in ("PUT", "DELETE", "PATCH") and len(parts) == 2 and all(parts):
                    key = (parts[0], parts[1])
                    if key not in self.snapshots:
                        self.snapshots[key] = await self._snapshot(f"{parts[0]}/{parts[1]}")
            reply = await super().request(method, path, params=params, json=json)
            self._headers_of[id(self.requests[-1])] = dict(reply.headers or {})
            return reply

        @property
        def reply_headers(self) -> list[dict[str, str] | None]:
            """Headers of each reply in ``requests`` (kept by record, since the harness drops
            the records of retried attempts)."""
            return [self._headers_of.get(id(record)) for record in self.requests]

        async def _snapshot(self, path: str) -> dict[str, Any] | None:
            try:
                response = await http.get(f"{self.base_url}/{path.strip('/')}", headers=self._headers)
                return response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                return None

    return _Client()


class SharedServerBackend:
    """One trial at a time on a plain FHIR server; each trial's writes are undone after it."""

    mode = "shared"

    def __init__(self, fhir_url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        self.fhir_url = fhir_url.rstrip("/")
        self.token = token
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.AsyncClient(headers=headers, timeout=timeout)
        self._lock = asyncio.Lock()
        self._clients: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self.cohort_check: Any = None  # patients.marker.CohortCheck before the first trial
        self.final_check: Any = None  # ... and after the last (aclose)
        self.checksum: str | None = None

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.fhir_url}/{path.lstrip('/')}"
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ConfigError(f"FHIR server {self.fhir_url}: {method} {url} failed ({exc or type(exc).__name__})") from None

    # -- before the run ---------------------------------------------------------------
    async def check(self, suite: Any) -> None:
        """Refuse to start unless the server holds the suite's cohort and lets us clean up."""
        from medagent.patients.marker import check_server

        self.checksum = suite.cohort_checksum
        with httpx.Client(headers=dict(self.http.headers), timeout=self.http.timeout) as http:
            check = await asyncio.to_thread(check_server, http, self.fhir_url, suite.cohort_checksum)
        if not check.ok:
            raise ConfigError(
                f"FHIR server {self.fhir_url} does not hold the cohort of suite {suite.id} "
                f"({check.reason()}); load it with: medagent seed --fhir-url {self.fhir_url} "
                f"--seed {suite.cohort_seed} --patients {suite.cohort_n_patients}"
            )
        self.cohort_check = check
        await self._probe_cleanup()

    async def _probe_cleanup(self) -> None:
        """Create a probe resource and delete it: a server that refuses either cannot run
        action tasks without leaving writes behind."""
        probe = {"resourceType": "Basic", "code": _PROBE_CODE}
        created = await self._request("POST", "Basic", json=probe,
                                      headers={"Content-Type": "application/fhir+json"})
        if created.status_code not in (200, 201):
            raise ConfigError(f"FHIR server {self.fhir_url} refused a create (POST Basic → HTTP "
                              f"{created.status_code}); without writes the action tasks cannot run")
        try:
            body = created.json()
        except ValueError:
            body = None
        entry = _entry("POST", "Basic", created.status_code, body, dict(created.headers), "Basic", None)
        if not entry["id"]:
            raise ConfigError(f"FHIR server {self.fhir_url} did not say which id it gave a created "
                              "resource (no body, no Location): created resources could not be removed")
        deleted = await self._request("DELETE", f"Basic/{entry['id']}")
        if deleted.status_code not in (200, 202, 204):
            raise ConfigError(
                f"FHIR server {self.fhir_url} refused DELETE (HTTP {deleted.status_code}): the resources "
                f"a trial creates could not be removed afterwards, so the run does not start "
                f"(Basic/{entry['id']} was left behind)")
        gone = await self._request("GET", f"Basic/{entry['id']}")
        if gone.status_code not in (404, 410):
            raise ConfigError(f"FHIR server {self.fhir_url} still serves Basic/{entry['id']} after "
                              f"DELETE (HTTP {gone.status_code}): created resources could not be removed")

    # -- one trial ----------------------------------------------------------------------
    async def open(self) -> tuple[str, Any]:
        await self._lock.acquire()
        sid = f"shared-{next(self._ids)}"
        client = _make_client(self.fhir_url, self.token, self.http)
        self._clients[sid] = client
        return sid, client

    async def close(self, session: str) -> list[dict[str, Any]]:
        """The trial's write log; its writes are undone before the next trial may start."""
        try:
            client = self._clients.pop(session)
            writes = write_log(client.requests, client.reply_headers)
            await self._undo(writes, client.snapshots)
            return writes
        finally:
            self._lock.release()

    async def _undo(self, writes: list[dict[str, Any]], snapshots: dict[tuple[str, str], Any]) -> None:
        """Newest first: delete what the trial created, put back what it changed or deleted."""
        first: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in writes:
            if entry["id"]:
                first.setdefault((entry["resourceType"], entry["id"]), entry)
        for key, entry in reversed(list(first.items())):
            if key in snapshots:
                before = snapshots[key]  # None: it did not exist before the trial
            elif entry["interaction"] == "create" or entry["status"] == 201:
                before = None
            else:  # e.g. a conditional update: what it replaced was not seen
                raise ConfigError(
                    f"FHIR server {self.fhir_url}: a trial changed {key[0]}/{key[1]} in a way that cannot "
                    f"be undone ({entry['method']} {entry['url']}); the run stops (reload the cohort "
                    f"with: medagent seed --fhir-url {self.fhir_url} --force)")
            if before is None:
                response = await self._request("DELETE", f"{key[0]}/{key[1]}")
                if response.status_code not in (200, 202, 204, 404, 410):
                    raise ConfigError(f"FHIR server {self.fhir_url}: cannot remove {key[0]}/{key[1]} "
                                      f"written by a trial (DELETE → HTTP {response.status_code}); "
                                      "the run stops so that later trials do not see it")
            else:
                resource = {k: v for k, v in before.items() if k != "meta"}
                response = await self._request("PUT", f"{key[0]}/{key[1]}", json=resource,
                                               headers={"Content-Type": "application/fhir+json"})
                if response.status_code not in (200, 201):
                    raise ConfigError(
                        f"FHIR server {self.fhir_url}: a trial changed {key[0]}/{key[1]} and putting it "
                        f"back failed (PUT → HTTP {response.status_code}); the run stops (reload the "
                        f"cohort with: medagent seed --fhir-url {self.fhir_url} --force)")

    # -- after the run --------------------------------------------------------------------
    async def aclose(self) -> None:
        try:
            if self.cohort_check is not None and self.checksum:
                from medagent.patients.marker import check_server

                with httpx.Client(headers=dict(self.http.headers), timeout=self.http.timeout) as http:
                    self.final_check = await asyncio.to_thread(check_server, http, self.fhir_url, self.checksum)
                if not self.final_check.ok:
                    print(f"medagent: warning: after the run the FHIR server {self.fhir_url} no longer "
                          f"holds exactly the cohort: {self.final_check.reason()}", file=sys.stderr)
        finally:
            await self.http.aclose()


async def probe_sessions(root: str, http: httpx.AsyncClient) -> bool:
    """Does the server at ``root`` offer medagent's session API? ``POST {root}/sessions``:
    201 yes (the probe session is deleted again); 404, 405 or 501 no (no such route); a
    5xx yes (the API is there but failing: each trial records the failure); anything else
    (401, 403, …) cannot tell, a ``ConfigError`` that asks for ``--sessions on|off``."""
    url = f"{root}/sessions"
    try:
        response = await http.post(url)
    except httpx.HTTPError as exc:
        raise ConfigError(f"FHIR server {root}: POST {url} failed ({exc or type(exc).__name__})") from None
    status = response.status_code
    if status in (404, 405, 501):
        return False
    if status >= 500:
        return True
    if status in (401, 403):  # the server is there and wants a (valid) token
        sent = "invalid" if "authorization" in http.headers else "missing"
        raise ConfigError(f"FHIR server {root} refused POST {url} (HTTP {status}): the bearer token is {sent} "
                          "(set MEDAGENT_TOKEN to the server's token)")
    if status != 201:
        raise ConfigError(f"cannot tell whether {root} has medagent's session API (POST {url} answered "
                          f"HTTP {status}); give --sessions on or --sessions off")
    try:
        sid = response.json()["id"]
    except (ValueError, KeyError, TypeError):
        return False
    try:
        await http.delete(f"{root}/sessions/{sid}")
    except httpx.HTTPError:
        pass
    return True
