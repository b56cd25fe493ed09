"""Typed settings of the FHIR server (environment prefix ``MEDAGENT_``).

| setting              | environment                   | default                            |
|----------------------|-------------------------------|------------------------------------|
| host                 | MEDAGENT_HOST                 | 127.0.0.1                          |
| port                 | MEDAGENT_PORT                 | 8080                               |
| home                 | MEDAGENT_HOME                 | ~/.cache/medagent                  |
| db                   | MEDAGENT_DB                   | $MEDAGENT_HOME/medagent.db         |
| token                | MEDAGENT_TOKEN                | none (no authentication; "" = none)|
| token_file           | MEDAGENT_TOKEN_FILE           | none (a file holding the token)    |
| public_url           | MEDAGENT_PUBLIC_URL           | none: the bound address            |
| trusted_proxies      | MEDAGENT_TRUSTED_PROXIES      | none (JSON list of client IPs)     |
| max_body_bytes       | MEDAGENT_MAX_BODY_BYTES       | 10 MiB                             |
| max_reply_bytes      | MEDAGENT_MAX_REPLY_BYTES      | 64 MiB (a larger reply is a 400)   |
| default_count        | MEDAGENT_DEFAULT_COUNT        | 50 (page size without ``_count``)  |
| max_count            | MEDAGENT_MAX_COUNT            | 1000 (``_count`` is clamped to it) |
| max_include          | MEDAGENT_MAX_INCLUDE          | 1000 (included resources per page) |
| max_log_entries      | MEDAGENT_MAX_LOG_ENTRIES      | 1000 (write-log entries per page)  |
| max_sessions         | MEDAGENT_MAX_SESSIONS         | 1000 (open sessions; then 429)     |
| session_idle_seconds | MEDAGENT_SESSION_IDLE_SECONDS | 3600 (an idle session is deleted)  |
| threads              | MEDAGENT_THREADS              | 4 (worker threads for FHIR requests)|
| sessions             | MEDAGENT_SESSIONS             | true (false: no ``/sessions`` API, a plain FHIR server)|

``threads``: FHIR requests run in worker threads (SQLite releases the GIL while it works);
on the 2-core reference machine 4 threads served ~40 % more searches per second than
anyio's default of 40, which mostly contend for the GIL (benchmarks/fhir_server.py).

``max_log_entries``: ``GET /sessions/{id}/log`` answers at most this many entries and at
most ``max_reply_bytes`` bytes per page; a ``Link: <...?since=SEQ>; rel="next"`` header
names the next page.

``public_url``: the root written into ``Location``, ``fullUrl``, paging links and a
session's ``base_url`` (e.g. ``https://ehr.example.org``; the FHIR base is ``<root>/fhir``).
Without it the root is the address the server is bound to. ``X-Forwarded-Proto`` /
``X-Forwarded-Host`` are read only from the ``trusted_proxies`` addresses; ``Host`` never.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import FhirServerError


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDAGENT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    home: Path = Path("~/.cache/medagent")
    db: Path | None = None
    token: str | None = Field(None, repr=False)
    token_file: Path | None = None
    public_url: str | None = None
    trusted_proxies: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_reply_bytes: int = Field(64 * 1024 * 1024, gt=0)
    default_count: int = Field(50, gt=0)
    max_count: int = Field(1000, gt=0)
    max_include: int = Field(1000, ge=0)
    max_log_entries: int = Field(1000, gt=0)
    max_sessions: int = Field(1000, gt=0)
    session_idle_seconds: float = Field(3600, gt=0)
    threads: int = Field(4, gt=0, le=256)
    sessions: bool = True

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/").removesuffix("/fhir")
        if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
            raise ValueError(f"public_url must be an http(s) URL without query, got {value!r}")
        return value

    @model_validator(mode="after")
    def _fill(self) -> ServerSettings:
        self.home = self.home.expanduser()
        if self.db is None:
            self.db = self.home / "medagent.db"
        elif str(self.db) != ":memory:":
            self.db = self.db.expanduser()
        self.default_count = min(self.default_count, self.max_count)
        if self.token_file is not None and not self.token:
            path = self.token_file.expanduser()
            try:
                self.token = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise FhirServerError(f"cannot read the token file {path}: {exc.strerror}") from None
            if not self.token:
                raise FhirServerError(f"the token file {path} is empty")
        if self.token is not None and not self.token.strip():
            self.token = None  # MEDAGENT_TOKEN="" means no token, on every route alike
        return self

    @property
    def root_url(self) -> str:
        """The server's root URL: ``public_url``, else the configured bind address."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The plain FHIR base URL a client would use."""
        return f"{self.root_url}/fhir"
