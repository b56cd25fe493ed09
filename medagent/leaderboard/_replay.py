"""Replay a trial's recorded FHIR requests against a fresh session of the suite's cohort.

Verification re-grades recorded answers and writes; this proves that the record came from
the environment. For each trial, in a new session of the embedded FHIR service holding
the suite's cohort:

1. every recorded request (``fhir_requests``: method, path, params, body) is sent again,
   with the ids the recorded run generated rewritten to the ones this replay generated;
2. the replayed status and response must equal the recorded ones;
3. the session's write log must equal the recorded ``writes``.

The replay of a trial runs inside one store transaction that is rolled back afterwards,
so verifying leaves the cohort's store exactly as it was.

Only what legitimately varies between two runs is normalised:
- ids the server generates (resource ids of creates, Bundle ids): a recorded id is mapped
  to the replayed one the first time they meet, and must map the same way everywhere after
  (so an edited id is a difference); only ids this replay generated can be mapped;
- ``meta.lastUpdated``;
- the server's base URL (host, port, ``/sessions/<id>``) in links, ``fullUrl`` and locations.

Requests a fault profile touched (``medagent bench --faults``; ``medagent.faults``) carry
``fault``: a ``throttled``/``unavailable`` one never reached the server, so it is not sent
again — its reply must be exactly the injected one (``fault_outcome``); ``short_page`` and
``slow`` ones were sent as recorded and replay like any other. Fault records are refused in a
run without a profile, and beyond the profile's per-trial budget.

A tool call that reached the server made exactly one FHIR request, so the recorded tool
calls (those with an HTTP status) must match the recorded requests one for one: a dropped
request shows up there.

The first difference raises :class:`medagent.errors.SubmissionError` naming the trial.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from medagent.tasks.clients import decode_body
from medagent.tasks.text import short

from medagent.errors import SubmissionError
from medagent.faults import FAULT_KINDS, NOT_SENT, fault_outcome

__all__ = ["Replayer", "open_replayer"]

_FHIR_JSON = "application/fhir+json"
_METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UUID_B = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A FHIR base: scheme, host[:port], an optional session prefix, then /fhir.
_BASE = re.compile(r"https?://[^/\s\"?#]+(?:/sessions/[0-9A-Za-z_-]+)?/fhir(?=[/?\"#]|$)")
_BASE_B = re.compile(rb"https?://[^/\s\"?#]+(?:/sessions/[0-9A-Za-z_-]+)?/fhir(?=[/?\"#]|$)")
_LAST_UPDATED_B = re.compile(rb'"lastUpdated":"[^"]*"')
_BASE_MARK = "<base>"


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class _Ids:
    """Recorded id -> replayed id, one to one; learnt only for ids this replay generated."""

    def __init__(self) -> None:
        self.forward: dict[str, str] = {}
        self.backward: dict[str, str] = {}
        self.generated: set[str] = set()

    def learn(self, recorded: str, replayed: str) -> bool:
        if recorded == replayed:
            return recorded not in self.forward or self.forward[recorded] == replayed
        if self.forward.get(recorded) == replayed:
            return True
        if recorded in self.forward or replayed in self.backward or replayed not in self.generated:
            return False
        self.forward[recorded] = replayed
        self.backward[replayed] = recorded
        return True

    def rewrite(self, value: Any) -> Any:
        """``value`` (a recorded request part) with every mapped id replaced."""
        if not self.forward:
            return value
        if isinstance(value, str):
            return _UUID.sub(lambda m: self.forward.get(m.group(), m.group()), value)
        if isinstance(value, list | tuple):
            return type(value)(self.rewrite(v) for v in value)
        if isinstance(value, dict):
            return {k: self.rewrite(v) for k, v in value.items()}
        return value

    def rewrite_bytes(self, data: bytes) -> bytes:
        if not self.forward:
            return data
        return _UUID_B.sub(lambda m: self.forward.get(m.group().decode(), m.group().decode()).encode(), data)


def _normal_bytes(data: bytes) -> bytes:
    return _LAST_UPDATED_B.sub(b'"lastUpdated":"*"', _BASE_B.sub(_BASE_MARK.encode(), data))


def _base_free(value: Any) -> Any:
    return _BASE.sub(_BASE_MARK, value) if isinstance(value, str) else value


def _fast_form(value: Any) -> Any:
    """``value`` with what legitimately varies in a reply normalised, touching only the few
    places it occurs (the top level and each Bundle entry), for a byte comparison: a
    generated Bundle id, ``meta.lastUpdated``, base URLs in links and ``fullUrl``."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    meta = out.get("meta")
    if isinstance(meta, dict) and "lastUpdated" in meta:
        out["meta"] = {k: v for k, v in meta.items() if k != "lastUpdated"}
    if out.get("resourceType") == "Bundle":
        if isinstance(out.get("id"), str) and _UUID.fullmatch(out["id"]):
            out["id"] = "<generated>"
        if isinstance(out.get("link"), list):
            out["link"] = [{**link, "url": _base_free(link.get("url"))} if isinstance(link, dict) else link
                           for link in out["link"]]
        if isinstance(out.get("entry"), list):
            out["entry"] = [{**e, "fullUrl": _base_free(e["fullUrl"])} if isinstance(e, dict) and "fullUrl" in e
                            else e for e in out["entry"]]
    return out


def _unify(recorded: Any, replayed: Any, ids: _Ids, where: str, parent: str = "") -> str | None:
    """The first difference between ``recorded`` and ``replayed`` (a path and both values),
    or None; learns id mappings on the way."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        keys = set(recorded) | set(replayed)
        if parent == "meta":
            keys.discard("lastUpdated")
        for key in sorted(keys):
            if key not in recorded or key not in replayed:
                side = "recorded" if key in recorded else "replayed"
                return f"{where}.{key} only in the {side} one"
            found = _unify(recorded[key], replayed[key], ids, f"{where}.{key}", key)
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(replayed, list):
        if len(recorded) != len(replayed):
            return f"{where}: recorded {len(recorded)} item(s), replay gives {len(replayed)}"
        for i, (a, b) in enumerate(zip(recorded, replayed, strict=True)):
            found = _unify(a, b, ids, f"{where}[{i}]", parent)
            if found:
                return found
        return None
    if isinstance(recorded, str) and isinstance(replayed, str):
        if recorded == replayed or _same_string(recorded, replayed, ids):
            return None
        return f"{where}: recorded {short(recorded)!r}, replay gives {short(replayed)!r}"
    if recorded == replayed and type(recorded) is type(replayed):
        return None
    return f"{where}: recorded {short(recorded)}, replay gives {short(replayed)}"


def _same_string(recorded: str, replayed: str, ids: _Ids) -> bool:
    a, b = _BASE.sub(_BASE_MARK, recorded), _BASE.sub(_BASE_MARK, replayed)
    a_parts, b_parts = _UUID.split(a), _UUID.split(b)
    if a_parts != b_parts:
        return False
    return all(ids.learn(x, y) for x, y in zip(_UUID.findall(a), _UUID.findall(b), strict=True))


def _request_line(number: int, req: dict) -> str:
    query = "&".join(f"{p[0]}={p[1]}" for p in req.get("params") or [] if isinstance(p, list) and len(p) == 2)
    return f"request #{number} {req.get('method')} {req.get('path')}{'?' + query if query else ''}"


def _check_request_shape(trial_id: str, number: int, req: Any) -> tuple[str, str, list[tuple[str, str]], Any, int]:
    bad = f"trial {trial_id}: request #{number} is malformed"
    if not isinstance(req, dict):
        raise SubmissionError(f"{bad} (not an object)")
    method, path, params, status = req.get("method"), req.get("path"), req.get("params") or [], req.get("status")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise SubmissionError(f"{bad} (method {short(method)})")
    if not isinstance(path, str) or not isinstance(status, int) or isinstance(status, bool):
        raise SubmissionError(f"{bad} (path or status)")
    if not isinstance(params, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in params
    ):
        raise SubmissionError(f"{bad} (params must be [name, value] string pairs)")
    return method.upper(), path, [(p[0], p[1]) for p in params], req.get("body"), status


def _check_fault_budget(trial_id: str, requests: list, profile: Any) -> None:
    """Fault records only under a fault profile, of known kinds, within its budget."""
    kinds = [r.get("fault") for r in requests if isinstance(r, dict) and r.get("fault") is not None]
    if not kinds:
        return
    if profile is None:
        raise SubmissionError(f"trial {trial_id}: requests are marked as faults, but the run had no fault profile")
    unknown = sorted({str(k) for k in kinds} - set(FAULT_KINDS))
    if unknown:
        raise SubmissionError(f"trial {trial_id}: unknown fault kind(s) {', '.join(unknown)}")
    errors = sum(k in NOT_SENT for k in kinds)
    if errors > profile.max_errors:
        raise SubmissionError(f"trial {trial_id}: {errors} injected 429/503 replies, more than the "
                              f"{profile.name} profile's {profile.max_errors}")
    short = sum(1 for r in requests if isinstance(r, dict) and r.get("fault") == "short_page"
                and _has_next_link(r.get("response")))
    if short > profile.max_short_pages:
        raise SubmissionError(f"trial {trial_id}: {short} short pages, more than the {profile.name} "
                              f"profile's {profile.max_short_pages}")


def _has_next_link(body: Any) -> bool:
    return isinstance(body, dict) and any(isinstance(link, dict) and link.get("relation") == "next"
                                          for link in body.get("link") or [])


def _check_injected(trial_id: str, number: int, req: dict) -> None:
    """A recorded 429/503 the fault layer made (never sent): it must be exactly that reply."""
    method, _, _, _, status = _check_request_shape(trial_id, number, req)
    kind, retry_after = req["fault"], req.get("retry_after")
    expected_status = 429 if kind == "throttled" else 503
    if (status != expected_status or not isinstance(retry_after, str) or not retry_after.isdigit()
            or req.get("response") != fault_outcome(kind, retry_after)):
        raise SubmissionError(f"trial {trial_id}: {_request_line(number, req)}: recorded as an injected "
                              f"{kind} fault, but its reply is not the one the fault layer gives")


def _check_tool_calls(trial_id: str, trial: dict, requests: list) -> None:
    calls = trial.get("tool_calls") or []
    if not isinstance(calls, list):
        raise SubmissionError(f"trial {trial_id}: tool_calls is not a list")
    reached = [c.get("status") for c in calls if isinstance(c, dict) and c.get("status") is not None]
    recorded = [r.get("status") if isinstance(r, dict) else None for r in requests]
    if len(reached) != len(recorded):
        raise SubmissionError(
            f"trial {trial_id}: {len(reached)} tool call(s) reached the FHIR server but {len(recorded)} "
            "FHIR request(s) are recorded (a request was dropped or added)"
        )
    for number, (a, b) in enumerate(zip(reached, recorded, strict=True), start=1):
        if a != b:
            raise SubmissionError(
                f"trial {trial_id}: tool call #{number} recorded HTTP {a} but its FHIR request recorded HTTP {b}"
            )


class Replayer:
    """Replays trials against one ``fhir_server.FhirService`` (the suite's cohort)."""

    def __init__(self, service: Any, *, max_requests: int | None = None, over_http: bool = False) -> None:
        self.service = service
        self.max_requests = max_requests  # per trial: one request per step at most
        # recorded over HTTP (``tasks.clients.HttpFhirClient``): a query string written into
        # the path never reached the server (httpx replaces it with the params)
        self.over_http = over_http
        self.faults: Any = None  # the run's medagent.faults.FaultProfile (None: no fault allowed)
        self.requests = 0
        self._conn: Any = None

    def replay(self, trial: dict) -> None:
        """Raise :class:`SubmissionError` at the first difference between ``trial``'s record
        and what the server does with its requests."""
        trial_id = trial.get("trial_id")
        requests = trial.get("fhir_requests")
        if requests is None:
            requests = []
        if not isinstance(requests, list):
            raise SubmissionError(f"trial {trial_id}: fhir_requests is not a list")
        if self.max_requests is not None and len(requests) > self.max_requests:
            raise SubmissionError(
                f"trial {trial_id}: {len(requests)} FHIR requests recorded, more than the run's "
                f"{self.max_requests} steps allow"
            )
        _check_tool_calls(trial_id, trial, requests)
        service = self.service
        with self._scratch():
            session = service.create_session()
            ids = _Ids()
            _check_fault_budget(trial_id, requests, self.faults)
            for number, req in enumerate(requests, start=1):
                if isinstance(req, dict) and req.get("fault") in NOT_SENT:
                    _check_injected(trial_id, number, req)
                    continue
                self._one(trial_id, number, req, session, ids)
            log = service.session_log(session)
        self._compare_writes(trial_id, trial.get("writes") or [], log, ids)

    @contextmanager
    def _scratch(self) -> Iterator[None]:
        """Run one trial's replay inside a store transaction that is rolled back: the
        store is left as it was, with no session to delete (which costs more than the
        replay itself). Each request runs under a savepoint, undone when it fails, as
        the store's own transaction would have been."""
        store = getattr(self.service, "store", None)
        if store is None or not hasattr(store, "write_lock"):
            yield
            return
        with store.write_lock:
            conn = store.conn()
            conn.execute("BEGIN IMMEDIATE")
            self._conn = conn
            try:
                yield
            finally:
                self._conn = None
                conn.execute("ROLLBACK")

    def _dispatch(self, method: str, path: str, params: list, raw: bytes | None, headers: dict,
                  session: str) -> Any:
        conn = self._conn
        if conn is None:
            return self.service.dispatch(method, path, params, raw, headers, session)
        conn.execute("SAVEPOINT replay")
        reply = self.service.dispatch(method, path, params, raw, headers, session)
        if reply.status >= 400:
            conn.execute("ROLLBACK TO replay")
        conn.execute("RELEASE replay")
        return reply

    def _one(self, trial_id: str, number: int, req: Any, session: str, ids: _Ids) -> None:
        method, path, params, body, status = _check_request_shape(trial_id, number, req)
        path, params, body = ids.rewrite(path), ids.rewrite(params), ids.rewrite(body)
        if self.over_http and "?" in path:
            path = path.split("?", 1)[0]
        headers = {"accept": _FHIR_JSON}
        raw = None
        if body is not None:
            raw = orjson.dumps(body)
            headers["content-type"] = _FHIR_JSON
        reply = self._dispatch(method, path.lstrip("/"), params, raw, headers, session)
        self.requests += 1
        where = f"trial {trial_id}: {_request_line(number, req)}"
        if reply.status != status:
            raise SubmissionError(f"{where}: recorded HTTP {status}, replay gives HTTP {reply.status}")
        if method != "GET":
            ids.generated.update(m.decode() for m in _UUID_B.findall(b"".join(
                orjson.dumps(e) for e in self.service.session_log(session))))
        replayed = decode_body(reply.body)
        recorded = req.get("response")
        if (isinstance(replayed, dict) and replayed.get("resourceType") == "Bundle" and isinstance(recorded, dict)
                and isinstance(recorded.get("id"), str) and _UUID.fullmatch(recorded["id"])):
            # a Bundle's own id is generated per reply and never referred to: it only needs a uuid
            recorded = {**recorded, "id": replayed.get("id")}
        # fast path: equal once base URLs, lastUpdated and known ids are normalised
        if isinstance(replayed, dict) and isinstance(recorded, dict):
            if _canonical(_fast_form(ids.rewrite(recorded))) == _canonical(_fast_form(replayed)):
                return
        found = _unify(recorded, replayed, ids, "response")
        if found:
            raise SubmissionError(f"{where}: {found}")

    def _compare_writes(self, trial_id: str, recorded: Any, log: list[dict], ids: _Ids) -> None:
        if not isinstance(recorded, list):
            raise SubmissionError(f"trial {trial_id}: writes is not a list")
        if len(recorded) != len(log):
            extra = recorded[len(log)] if len(recorded) > len(log) else log[len(recorded)]
            which = "recorded" if len(recorded) > len(log) else "replayed"
            desc = (f"{extra.get('interaction')} {extra.get('resourceType')}" if isinstance(extra, dict) else "?")
            raise SubmissionError(
                f"trial {trial_id}: recorded {len(recorded)} write(s) but replaying its requests gives "
                f"{len(log)} (first unmatched, {which}: {desc})"
            )
        if _normal_bytes(ids.rewrite_bytes(_canonical(recorded))) == _normal_bytes(_canonical(log)):
            return
        for number, (mine, theirs) in enumerate(zip(recorded, log, strict=True), start=1):
            found = _unify(mine, theirs, ids, f"write #{number}")
            if found:
                raise SubmissionError(f"trial {trial_id}: {found} (writes do not follow from the requests)")


def open_replayer(suite: Any) -> Replayer:
    """A replayer on the embedded store of ``suite``'s cohort (created on first use, as
    ``medagent bench`` does)."""
    from medagent.embedded import open_service
    from medagent.errors import ConfigError

    try:
        return Replayer(open_service(suite))
    except ConfigError as exc:
        raise SubmissionError(f"cannot replay: {exc}") from None
