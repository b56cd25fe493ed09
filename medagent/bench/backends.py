"""Where a trial's FHIR session lives: the embedded service or a server over HTTP.

``open_backend`` picks one for a run: ``LocalBackend`` (the embedded service), or for a
``--fhir-url`` (``fhir_base`` turns ``docker`` and ``embedded-http`` into a URL first)
``choose_backend``: ``HttpBackend`` (medagent's session API) or the shared-server mode's
``SharedServerBackend`` (:mod:`medagent.bench.shared`).

A backend opens one session per trial and hands back a FHIR client bound to it
(``tasks.clients.LocalFhirClient`` or ``HttpFhirClient``, both recording every
request/response pair in ``client.requests``); closing the session fetches its write log
and deletes it.

Over HTTP, a session call that gets no reply or a 5xx is retried (``SESSION_RETRIES``
times, with backoff); if it keeps failing, ``FhirBackendError`` is raised and the runner
records that trial as an error (the run goes on). Only ``check()``, before the first
trial, turns an unusable server into a ``ConfigError`` that stops the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from medagent.bench.shared import SharedServerBackend, probe_sessions
from medagent.errors import ConfigError, FhirBackendError

SESSION_RETRIES = 3
SESSION_BACKOFF = 0.25  # seconds before the first retry, doubled per retry
SESSION_MODES = ("auto", "on", "off")

__all__ = ["SESSION_MODES", "HttpBackend", "LocalBackend", "choose_backend", "fhir_base", "open_backend",
           "session_root"]


class LocalBackend:
    """Sessions on an in-process ``FhirService``; tool calls never touch HTTP."""

    def __init__(self, service: Any) -> None:
        from medagent.tasks.clients import LocalFhirClient

        self.service = service
        self._client_type = LocalFhirClient

    async def open(self) -> tuple[str, Any]:
        session = self.service.create_session()
        return session, self._client_type(self.service, session=session)

    async def close(self, session: str) -> list[dict[str, Any]]:
        writes = self.service.session_log(session)
        self.service.delete_session(session)
        return list(writes)

    async def check(self, suite: Any) -> None:
        return None  # open_service() verified the cohort checksum

    async def aclose(self) -> None:
        return None


def session_root(fhir_url: str) -> str:
    """The server root holding ``/sessions`` for a FHIR base URL (``…/fhir`` stripped)."""
    parts = urlsplit(fhir_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--fhir-url {fhir_url!r}: expected an http(s) URL of a FHIR base")
    root = fhir_url.rstrip("/")
    if root.endswith("/fhir"):
        root = root[: -len("/fhir")]
    return root


def _json(response: httpx.Response) -> Any:
    try:
        doc = response.json()
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _is_fhir_reply(response: httpx.Response) -> bool:
    """A FHIR server answers an unknown resource with an OperationOutcome; any other 404
    (a web framework's "Not Found") means the URL is not a FHIR base."""
    try:
        return response.json().get("resourceType") == "OperationOutcome"
    except (ValueError, AttributeError):
        return False


class HttpBackend:
    """Sessions through a medagent FHIR server's session API (``POST {root}/sessions``)."""

    def __init__(self, fhir_url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        from medagent.tasks.clients import HttpFhirClient

        self.fhir_url = fhir_url
        self.root = session_root(fhir_url)
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        self.http = httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits)
        self._client_type = HttpFhirClient

    async def _call(self, method: str, url: str, *, missing_ok: bool = False,
                    error: type[Exception] = FhirBackendError) -> httpx.Response:
        failure = ""
        for attempt in range(SESSION_RETRIES + 1):
            if attempt:
                await asyncio.sleep(SESSION_BACKOFF * 2 ** (attempt - 1))
            try:
                response = await self.http.request(method, url)
            except httpx.HTTPError as exc:
                failure = f"failed ({type(exc).__name__}: {exc})"
                continue
            if response.status_code < 500:
                break
            failure = f"answered HTTP {response.status_code}"
        else:
            raise error(f"FHIR server {self.root}: {method} {url} {failure}")
        if response.status_code in (401, 403):
            raise error(
                f"FHIR server {self.root} refused {method} {url} (HTTP {response.status_code}): the bearer "
                f"token is {'invalid' if self.token else 'missing'} (set MEDAGENT_TOKEN to the server's token)"
            )
        if response.status_code >= 400 and not (missing_ok and response.status_code == 404):
            raise error(
                f"FHIR server {self.root}: {method} {url} answered HTTP {response.status_code} "
                "(is it a medagent server with the session API?)"
            )
        return response

    async def open(self) -> tuple[str, Any]:
        doc = (await self._call("POST", f"{self.root}/sessions")).json()
        # the session under the root this client reached the server by (a proxy, a tunnel, a
        # published Docker port), not the server's own idea of its address (doc["base_url"])
        base = f"{self.root}/sessions/{doc['id']}/fhir"
        client = self._client_type(base, token=self.token, http=self.http)
        return doc["id"], client

    async def close(self, session: str) -> list[dict[str, Any]]:
        writes: list[dict[str, Any]] = []
        url = f"{self.root}/sessions/{session}/log"
        while True:  # the log is paged: follow Link rel="next" (its since=, under our own root)
            response = await self._call("GET", url)
            doc = response.json()
            if isinstance(doc, dict):
                doc = doc.get("entries", doc.get("log", []))
            writes.extend(doc)
            since = parse_qs(urlsplit(response.links.get("next", {}).get("url", "")).query).get("since")
            if not since or not doc:
                break
            url = f"{self.root}/sessions/{session}/log?since={since[0]}"
        await self._call("DELETE", f"{self.root}/sessions/{session}")
        return writes

    async def check(self, suite: Any) -> None:
        """Fail early, in one line, when the server is unreachable or does not hold the suite's
        cohort: its marker (``Basic``, carrying the cohort checksum) and the baseline's counts of
        ``patients.marker.SAMPLE_TYPES``, as in the shared-server mode (cohorts of different
        profiles share patient MRNs, so a sample Patient cannot tell them apart). Transient
        failures are retried like every session call."""
        from medagent.patients.marker import SAMPLE_TYPES, CohortCheck, marker_checksum, marker_counts, marker_id

        base = self.fhir_url.rstrip("/")
        url = f"{base}/Basic/{marker_id(suite.cohort_checksum)}"
        response = await self._call("GET", url, missing_ok=True, error=ConfigError)
        if response.status_code == 404 and not _is_fhir_reply(response):
            hint = f"; the URL likely lacks /fhir: try --fhir-url {base}/fhir" if not base.endswith("/fhir") else ""
            raise ConfigError(f"{self.fhir_url} is not a FHIR base URL (GET {url} answered HTTP 404 "
                              f"without an OperationOutcome){hint}")
        marker = _json(response) if response.status_code == 200 else None
        if not isinstance(marker, dict) or marker_checksum(marker) != suite.cohort_checksum:
            check = CohortCheck(None)
        else:
            recorded = marker_counts(marker)
            found: dict[str, int | None] = {}
            for rtype in SAMPLE_TYPES:
                reply = await self._call("GET", f"{base}/{rtype}?_summary=count", error=ConfigError)
                total = (_json(reply) or {}).get("total")
                found[rtype] = total if isinstance(total, int) else None
            check = CohortCheck(marker, {t: recorded.get(t, 0) for t in SAMPLE_TYPES}, found)
        if not check.ok:
            raise ConfigError(
                f"FHIR server {self.fhir_url} does not hold the cohort of suite {suite.id} "
                f"(profile {getattr(suite, 'cohort_profile', 'mab-v1')}, seed {suite.cohort_seed}, "
                f"{suite.cohort_n_patients} patients: {check.reason()})"
            )

    async def aclose(self) -> None:
        await self.http.aclose()


async def choose_backend(fhir_url: str, token: str | None, sessions: str = "auto") -> Any:
    """``HttpBackend`` (session API) or ``SharedServerBackend`` for ``fhir_url``; each has
    ``mode`` ("sessions" or "shared")."""
    if sessions not in SESSION_MODES:
        raise ConfigError(f"--sessions {sessions!r}: expected one of {', '.join(SESSION_MODES)}")
    if sessions == "off":
        return SharedServerBackend(fhir_url, token)
    root = session_root(fhir_url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(headers=headers, timeout=30.0) as http:
        try:
            offered = await probe_sessions(root, http)
        except ConfigError:
            if sessions != "on":
                raise
            offered = True  # as the user says; a failing session API is then an error per trial
    if not offered:
        if sessions == "on":
            raise ConfigError(f"--sessions on: the server at {fhir_url} has no session API "
                              f"(POST {root}/sessions did not create one); use --sessions auto or off")
        return SharedServerBackend(fhir_url, token)
    backend = HttpBackend(fhir_url, token=token)
    backend.mode = "sessions"
    return backend


async def open_backend(fhir_url: str | None, suite: Any, sessions: str) -> Any:
    """The backend of a run: ``choose_backend`` for a FHIR URL, else the embedded service."""
    if fhir_url:
        from medagent.fhir_server import ServerSettings

        return await choose_backend(fhir_url, ServerSettings().token, sessions)
    if sessions == "off":
        raise ConfigError("--sessions off needs --fhir-url (a plain FHIR server holding the cohort)")
    from medagent.embedded import open_service

    return LocalBackend(open_service(suite))


@contextlib.contextmanager
def fhir_base(fhir_url: str | None, suite: Any) -> Iterator[str | None]:
    """The FHIR base URL to use: as given; ``docker`` starts a container; ``embedded-http``
    serves the embedded store over a real local socket (every tool call goes through HTTP)."""
    if fhir_url == "docker":
        from medagent import docker_fhir

        with docker_fhir.docker_fhir(seed=suite.cohort_seed, n_patients=suite.cohort_n_patients,
                                     profile=getattr(suite, "cohort_profile", "mab-v1")) as url:
            yield url
    elif fhir_url == "embedded-http":
        from medagent.fhir_server import serve_in_thread

        from medagent.embedded import open_service

        with serve_in_thread(open_service(suite).store) as server:
            yield server.base_url
    else:
        yield fhir_url
