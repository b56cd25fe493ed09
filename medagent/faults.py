"""FHIR fault profiles: the agent's session misbehaves as production EHRs do.

``medagent bench --faults light|heavy`` wraps each trial's FHIR client (embedded or
``--fhir-url``, the same wrapper) in a :class:`FaultyClient`. Per request it may:

- **throttle** (HTTP 429) or be **unavailable** (HTTP 503): the request is *not sent*; the
  reply is an ``OperationOutcome`` (issue code ``throttled`` / ``transient``) with a
  ``Retry-After`` header (whole seconds). Nothing was applied: the agent sends it again;
- cut a search's first page **short** (``short_page``): the search is sent with a small
  ``_count`` (1–3), so the server's own page holds only the first results and its
  ``next`` link; the agent sees that link with the ``_count`` it asked for, and must follow
  it (``next_page`` tool, or a ``GET`` of the link in the text protocol);
- reply **slowly** (``slow``): the reply is unchanged, after a bounded delay.

At most one fault per request; each profile caps the error faults and short pages of a
trial (its *budget*), so a trial under ``heavy`` needs at most 3 more steps than without
faults. Decisions come from a random stream seeded by (suite id, task id, epoch): the same
trial making the same requests meets the same faults. Delays (slow replies and
``Retry-After``) are multiplied by ``HarnessSettings.fault_delay_scale``
(``MEDAGENT_FAULT_DELAY_SCALE``; 0 in tests).

Faults touch the agent's tool traffic only: the runner fetches the write log through the
backend (never through this wrapper), and grading reads that log.

**Recorded requests.** Every request record in ``fhir_requests`` that a fault touched
carries ``"fault": <kind>``:

- ``throttled`` / ``unavailable``: never reached the server (``NOT_SENT``); the record
  holds the injected reply (``status`` 429/503, ``response`` = :func:`fault_outcome`) and
  ``retry_after``. A replay skips it (checking the reply is :func:`fault_outcome` of it);
- ``short_page``: sent as recorded (``params`` hold the small ``_count`` actually sent;
  ``response`` is the server's reply); ``asked_count`` is the ``_count`` the agent asked for
  (null if none): the agent's copy of the reply differs only in its ``next`` link, whose
  ``_count`` is ``asked_count`` (:func:`rewrite_next`). Replays as is;
- ``slow``: sent and recorded as is, plus ``delay_s``. Replays as is.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["FAULT_KINDS", "NOT_SENT", "PROFILES", "FaultProfile", "FaultyClient", "fault_outcome",
           "get_profile", "rewrite_next", "trial_seed"]

NOT_SENT = frozenset({"throttled", "unavailable"})  # injected replies: the server never saw these
FAULT_KINDS = ("throttled", "unavailable", "short_page", "slow")
_STATUS = {"throttled": 429, "unavailable": 503}
_ISSUE = {"throttled": ("throttled", "Too many requests"),
          "unavailable": ("transient", "Service temporarily unavailable")}


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """How often, and how many times per trial, each fault strikes."""

    name: str
    error_rate: float  # chance a request is answered 429/503 instead of being sent
    max_errors: int  # error faults per trial at most
    short_page_rate: float  # chance a first search page is cut short
    max_short_pages: int  # short pages per trial at most
    slow_rate: float  # chance a reply is delayed
    slow_s: tuple[float, float]  # delay range, seconds (before scaling)
    retry_after_s: int  # the Retry-After the server asks for (before scaling)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PROFILES: dict[str, FaultProfile] = {
    "light": FaultProfile("light", error_rate=0.1, max_errors=1, short_page_rate=0.2, max_short_pages=1,
                          slow_rate=0.2, slow_s=(0.02, 0.1), retry_after_s=1),
    "heavy": FaultProfile("heavy", error_rate=0.35, max_errors=2, short_page_rate=0.6, max_short_pages=1,
                          slow_rate=0.5, slow_s=(0.05, 0.25), retry_after_s=2),
}
CHOICES = ("none", *PROFILES)


def get_profile(name: str | None) -> FaultProfile | None:
    """The profile called ``name`` (None for ``none``/None)."""
    if name in (None, "", "none"):
        return None
    try:
        return PROFILES[name]
    except KeyError:
        from medagent.errors import ConfigError

        raise ConfigError(f"--faults {name!r}: expected one of {', '.join(CHOICES)}") from None


def trial_seed(suite_id: str, task_id: str, epoch: int) -> int:
    """The fault stream's seed of one trial."""
    digest = hashlib.sha256(f"medagent-faults\x00{suite_id}\x00{task_id}\x00{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def fault_outcome(kind: str, retry_after: str) -> dict[str, Any]:
    """The OperationOutcome of an injected 429/503 (deterministic: replays compare it)."""
    code, text = _ISSUE[kind]
    return {"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": code,
        "diagnostics": f"{text}: nothing was processed; retry after {retry_after} s (Retry-After: {retry_after})."}]}


def rewrite_next(body: Any, count: int | None) -> Any:
    """``body`` (a searchset Bundle) with its ``next`` link asking for ``count`` results a
    page (no ``_count`` when None, i.e. the server's default)."""
    if not isinstance(body, dict) or not isinstance(body.get("link"), list):
        return body
    links = []
    for link in body["link"]:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            parts = urlsplit(link["url"])
            query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "_count"]
            if count is not None:
                query.append(("_count", str(count)))
            link = {**link, "url": urlunsplit(parts._replace(query=urlencode(query)))}
        links.append(link)
    return {**body, "link": links}


def _count_of(pairs: list[tuple[str, str]]) -> int | None:
    for key, value in pairs:
        if key == "_count":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _first_page_search(method: str, path: str, pairs: list[tuple[str, str]]) -> bool:
    path = path.strip("/")
    return (method == "GET" and "/" not in path and path[:1].isupper()
            and not any(k in ("_offset", "_summary") for k, _ in pairs))


class FaultyClient:
    """A ``tasks.FhirClient`` that injects one trial's faults in front of ``inner``.

    ``requests`` is the inner client's record (one list): injected replies are appended
    to it, and the records of sent requests are annotated (see the module docs).
    ``counts`` tallies the faults injected (``{kind: n}``). ``inner`` may be given later
    with :meth:`over`."""

    def __init__(self, inner: Any, profile: FaultProfile, seed: int, *, delay_scale: float = 1.0,
                 sleep: Any = asyncio.sleep) -> None:
        self._inner = inner
        self.profile = profile
        self._rng = random.Random(seed)
        self._scale = max(0.0, float(delay_scale))
        self._sleep = sleep
        self.counts: dict[str, int] = {}
        self._errors = 0
        self._short = 0

    def over(self, inner: Any) -> FaultyClient:
        """Put this fault layer in front of ``inner`` (the trial env does, outside its own
        retries of real server failures, so those never hide an injected fault)."""
        self._inner = inner
        return self

    @property
    def requests(self) -> list[dict]:
        return self._inner.requests

    @property
    def steps_given_back(self) -> int:
        """Steps the agent spent on the EHR's misbehaviour: each injected 429/503 and each
        short page met. The trial's step budget grows by this many, so no agent runs out of
        rounds because of a fault (at most ``max_errors + max_short_pages`` a trial)."""
        return self._errors + self._short

    def _retry_after(self) -> str:
        return str(math.ceil(self.profile.retry_after_s * self._scale))

    async def request(self, method: str, path: str, params: Any = None, json: Any = None) -> Any:
        from medagent.tasks.clients import param_pairs
        from medagent.tasks.models import FhirReply

        method = method.upper()
        pairs = param_pairs(params)
        p = self.profile
        # a fixed number of draws per request, whatever is decided: the stream stays aligned
        u_error, u_kind, u_page, u_size, u_slow, u_delay = (self._rng.random() for _ in range(6))
        if u_error < p.error_rate and self._errors < p.max_errors:
            self._errors += 1
            kind = "throttled" if u_kind < 0.5 else "unavailable"
            retry_after = self._retry_after()
            body = fault_outcome(kind, retry_after)
            self._count(kind)
            self.requests.append({"method": method, "path": path, "params": [list(x) for x in pairs],
                                  "body": json, "status": _STATUS[kind], "response": body,
                                  "fault": kind, "retry_after": retry_after})
            return FhirReply(_STATUS[kind], body, {"Retry-After": retry_after,
                                                   "Content-Type": "application/fhir+json"})
        asked = _count_of(pairs)
        size = 1 + int(u_size * 3)  # 1-3 results on the short page
        if (u_page < p.short_page_rate and self._short < p.max_short_pages
                and _first_page_search(method, path, pairs) and (asked is None or asked > size)):
            sent = [(k, v) for k, v in pairs if k != "_count"] + [("_count", str(size))]
            reply = await self._inner.request(method, path, params=sent, json=json)
            self.requests[-1].update(fault="short_page", asked_count=asked)
            if not _has_next(reply.body):
                return reply  # everything fitted on the short page: the budget is kept
            self._short += 1
            self._count("short_page")
            return FhirReply(reply.status, rewrite_next(reply.body, asked), reply.headers)
        if u_slow < p.slow_rate:
            low, high = p.slow_s
            delay = round((low + (high - low) * u_delay) * self._scale, 4)
            await self._sleep(delay)
            reply = await self._inner.request(method, path, params=pairs, json=json)
            self._count("slow")
            self.requests[-1].update(fault="slow", delay_s=delay)
            return reply
        return await self._inner.request(method, path, params=pairs, json=json)

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def __getattr__(self, name: str) -> Any:  # aclose, base_url… of the inner client
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def _has_next(body: Any) -> bool:
    return isinstance(body, dict) and any(
        isinstance(link, dict) and link.get("relation") == "next" for link in body.get("link") or [])
