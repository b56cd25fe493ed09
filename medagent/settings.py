"""Typed settings of the benchmark harness (``medagent bench``, agents, gym).

Sources, highest priority first: environment variables (prefix ``MEDAGENT_``), then the
settings file, then the defaults below. The settings file is TOML, read from
``$MEDAGENT_CONFIG`` or ``~/.config/medagent/settings.toml`` when it exists::

    api_key = "sk-..."                 # used when no key is in the environment
    base_url = "http://127.0.0.1:8000/v1"
    max_retries = 6
    backoff_base = 1.0
    backoff_max = 60.0
    request_timeout = 120.0
    trial_timeout = 900.0

    [prices."my-model"]                # USD per million tokens (see medagent.pricing)
    input = 0.5
    output = 1.5

| setting          | environment                 | default | meaning |
|------------------|-----------------------------|---------|---------|
| api_key          | MEDAGENT_API_KEY            | none    | provider key (after ``--api-key-env``/``OPENAI_API_KEY``) |
| base_url         | MEDAGENT_BASE_URL           | none    | OpenAI-compatible base URL (``--base-url`` wins) |
| max_retries      | MEDAGENT_MAX_RETRIES        | 6       | transport retries of one provider call (connection, timeout, 429, 5xx) before the trial is an error |
| backoff_base     | MEDAGENT_BACKOFF_BASE       | 1.0 s   | first backoff delay; doubles per retry, with jitter |
| backoff_max      | MEDAGENT_BACKOFF_MAX        | 60 s    | cap of one backoff delay (a longer Retry-After is honoured up to 300 s) |
| request_timeout  | MEDAGENT_REQUEST_TIMEOUT    | 120 s   | timeout of one provider request (connecting: at most 10 s) |
| trial_timeout    | MEDAGENT_TRIAL_TIMEOUT      | 900 s   | wall-time limit of one trial |
| prices           | (settings file only)        | {}      | extra or overriding model prices |

The API key is held as a ``SecretStr``: it never appears in ``repr``, logs or result files.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG = Path("~/.config/medagent/settings.toml")


def config_path() -> Path:
    """The settings file in use (it may not exist)."""
    return Path(os.environ.get("MEDAGENT_CONFIG") or DEFAULT_CONFIG).expanduser()


class Price(BaseModel):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class HarnessSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDAGENT_", extra="ignore")

    api_key: SecretStr | None = None
    base_url: str | None = None
    max_retries: int = Field(6, ge=0)
    backoff_base: float = Field(1.0, ge=0)
    backoff_max: float = Field(60.0, ge=0)
    request_timeout: float = Field(120.0, gt=0)
    trial_timeout: float = Field(900.0, gt=0)
    # multiplies the delays of ``--faults`` (slow replies, Retry-After); 0 makes them instant
    fault_delay_scale: float = Field(1.0, ge=0, le=10)
    prices: dict[str, Price] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_path()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(**overrides: object) -> HarnessSettings:
    """Read the settings; a malformed file or value becomes one readable ConfigError."""
    from pydantic import ValidationError

    from medagent.errors import ConfigError

    try:
        return HarnessSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        env_name = f"MEDAGENT_{str(first['loc'][0]).upper()}" if first["loc"] else ""
        if env_name in os.environ and where not in overrides:  # the environment wins over the file
            raise ConfigError(f"bad environment variable {env_name}={os.environ[env_name]!r}: {first['msg']}") from None
        source = f" (see {config_path()})" if config_path().is_file() and where not in overrides else ""
        raise ConfigError(f"bad setting {where}: {first['msg']}{source}") from None
    except ValueError as exc:  # a TOML syntax error in the settings file
        raise ConfigError(f"cannot read {config_path()}: {exc}") from None


def resolve_api_key(settings: HarnessSettings, env_name: str | None = None) -> str | None:
    """The provider key: ``$env_name`` if given, else ``$OPENAI_API_KEY``, else the settings."""
    from medagent.errors import ConfigError

    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(f"--api-key-env {env_name}: that environment variable is not set")
        return value
    if os.environ.get("OPENAI_API_KEY"):
        return os.environ["OPENAI_API_KEY"]
    return settings.api_key.get_secret_value() if settings.api_key else None
