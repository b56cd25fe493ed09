"""Typed settings of the FHIR server (environment prefix ``MEDAGENT_``).

| setting          | environment               | default                          |
|------------------|---------------------------|----------------------------------|
| host             | MEDAGENT_HOST             | 127.0.0.1                        |
| port             | MEDAGENT_PORT             | 8080                             |
| home             | MEDAGENT_HOME             | ~/.cache/medagent                |
| db               | MEDAGENT_DB               | $MEDAGENT_HOME/medagent.db       |
| token            | MEDAGENT_TOKEN            | none (no authentication)         |
| max_body_bytes   | MEDAGENT_MAX_BODY_BYTES   | 10 MiB                           |
| default_count    | MEDAGENT_DEFAULT_COUNT    | 50 (page size without ``_count``)|
| max_count        | MEDAGENT_MAX_COUNT        | 1000 (``_count`` is clamped to it)|
| threads          | MEDAGENT_THREADS          | 4 (worker threads for FHIR requests)|
| sessions         | MEDAGENT_SESSIONS         | true (false: no ``/sessions`` API, a plain FHIR server)|

``threads``: FHIR requests run in worker threads (SQLite releases the GIL while it works);
on the 2-core reference machine 4 threads served ~40 % more searches per second than
anyio's default of 40, which mostly contend for the GIL (benchmarks/fhir_server.py).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDAGENT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    home: Path = Path("~/.cache/medagent")
    db: Path | None = None
    token: str | None = Field(None, repr=False)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    default_count: int = Field(50, gt=0)
    max_count: int = Field(1000, gt=0)
    threads: int = Field(4, gt=0, le=256)
    sessions: bool = True

    @model_validator(mode="after")
    def _fill_db(self) -> ServerSettings:
        self.home = self.home.expanduser()
        if self.db is None:
            self.db = self.home / "medagent.db"
        elif str(self.db) != ":memory:":
            self.db = self.db.expanduser()
        self.default_count = min(self.default_count, self.max_count)
        return self

    @property
    def base_url(self) -> str:
        """The plain FHIR base URL a client on this machine would use."""
        return f"http://{self.host}:{self.port}/fhir"
