"""LLM settings: environment (``TOWN_*``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``) and an optional TOML file.

Sources, strongest first: keyword arguments, environment variables, the ``[llm]`` table of the TOML
config file (``$TOWN_CONFIG``, or ``town.toml`` in the working folder when present), field defaults.

Example ``town.toml``::

    [llm]
    base_urls = ["http://10.0.0.5:8000/v1", "http://10.0.0.6:8000/v1"]
    model = "Qwen/Qwen2.5-7B-Instruct"
    concurrency = 16
    cache_path = "llm_cache.sqlite"
    # the cascade (off unless small_steps names steps): these steps go to a small model first
    small_base_urls = ["http://10.0.0.7:8000/v1"]
    small_steps = ["perceive_importance", "react_decide"]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agents.llm.redact import redact

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pydantic-settings needs tomli on 3.10 too
    import tomli as tomllib

class SettingsError(ValueError):
    """Bad settings in the environment or the config file; the message names the key and where it came from."""


if TYPE_CHECKING:
    from agents.context import CognitionSettings

CONFIG_ENV = "TOWN_CONFIG"
DEFAULT_CONFIG_FILE = "town.toml"
TOML_TABLE = "llm"
MIN_CTX_PER_SLOT = 2048
EMBEDDED_SIZES = ("1.5b", "0.5b")
SERVER_TIMEOUT_S = 120.0
#: a 300-token answer at a few tokens a second, behind other slots, on a busy 2-core machine: a retry after 120 s
#: only adds work to the same server (seen: a run whose machine was shared timed out, retried and fell back)
EMBEDDED_TIMEOUT_S = 600.0
#: slots of the cascade's small embedded server: it answers short routine steps, beside the main server's slots
SMALL_EMBEDDED_SLOTS = 2


def config_file() -> Path | None:
    """The TOML file to read: ``$TOWN_CONFIG`` (must exist) or ``./town.toml`` if present."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{CONFIG_ENV}={explicit}: no such config file")
    else:
        path = Path.cwd() / DEFAULT_CONFIG_FILE
        if not path.is_file():
            return None
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {path}: invalid TOML: {exc}") from exc
    return path


def _toml_sources(settings_cls: type[BaseSettings], table: str) -> list[PydanticBaseSettingsSource]:
    """The config file's ``[table]`` as a settings source, if the file exists and has that table."""
    path = config_file()
    if path is None or table not in tomllib.loads(path.read_text(encoding="utf-8")):
        return []
    return [TomlConfigSettingsSource(settings_cls, toml_file=path, toml_table_header=(table,))]


class _TableSettings(BaseSettings):
    """Settings from keyword arguments, then the environment, then one table (``toml_table``) of the config file."""

    toml_table: ClassVar[str]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, *_toml_sources(settings_cls, cls.toml_table))


class AgentSettings(_TableSettings):
    """How the minds reach an LLM: a pool of OpenAI-compatible servers, or the embedded llama.cpp model."""

    toml_table: ClassVar[str] = TOML_TABLE

    model_config = SettingsConfigDict(env_prefix="TOWN_", extra="ignore", populate_by_name=True)

    base_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("TOWN_BASE_URLS", "OPENAI_BASE_URL", "base_urls"),
        description="OpenAI-compatible endpoints (comma separated in the environment); empty = embedded model",
    )
    api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TOWN_API_KEY", "OPENAI_API_KEY", "api_key"),
        description="bearer key for the endpoints; None for local servers that need none",
    )
    model: str | None = Field(
        default=None,
        description="model name sent to the server; None = the server's first listed model "
        "(the embedded server's is its file name)",
    )
    embedded_model: str = Field(
        default="1.5b", description="the embedded model: 1.5b, 0.5b, or the path of your own .gguf file"
    )
    embedded_ctx: int = Field(default=8192, ge=512, description="total context of the embedded server (all slots)")
    embedded_parallel: int = Field(default=4, ge=1, le=64, description="parallel slots of the embedded server")
    embedded_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    embedded_speculative: Literal["none", "ngram", "draft"] = Field(
        default="none", description="speculative decoding on the embedded server: none, ngram (drafts copied from "
        "the prompt and the answer so far) or draft (embedded_draft_model drafts, the model checks)",
    )
    embedded_draft_model: str = Field(
        default="0.5b", description="the draft model of embedded_speculative = draft (0.5b or a .gguf path of the "
        "same tokenizer)",
    )
    embedded_draft_max: int = Field(default=8, ge=1, le=64, description="tokens drafted per step")
    request_timeout_s: float | None = Field(
        default=None, gt=0,
        description="seconds before a request is abandoned (and retried); None = 120 for servers, 600 for the embedded "
        "model, which is slow on a small CPU and never down while the run is",
    )
    retries: int = Field(default=2, ge=0, le=10, description="retries after a failed or unparsable answer")
    backoff_s: float = Field(default=0.5, ge=0, description="first retry backoff; doubles per consecutive failure")
    max_backoff_s: float = Field(default=8.0, ge=0)
    concurrency: int = Field(default=8, ge=1, le=1024, description="LLM requests in flight at once")
    park_after: int = Field(default=3, ge=1, description="consecutive failures that park an endpoint")
    park_s: float = Field(default=30.0, ge=0, description="how long a failing endpoint is parked")
    affinity_slack: int = Field(
        default=0, ge=0, le=1024, description="keep each agent on its own endpoint of the pool (its prompt prefix "
        "stays cached there) unless that one has this many more requests in flight than the least busy (0: off)",
    )
    max_retry_after_s: float = Field(default=30.0, ge=0, description="cap on a 429's Retry-After wait")
    outage_after: int = Field(
        default=20, ge=0, description="failed requests in a row, on every endpoint, that stop the run (0 = never)"
    )
    cache_path: Path | None = Field(default=None, description="SQLite response cache; None = no cache")
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="when set, overrides every request's temperature (0 = greedy)"
    )
    seed: int | None = Field(default=None, description="request seed when the caller gives none")
    # the cascade (agents/llm/cascade.py): off while small_steps is empty
    small_steps: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="steps asked of the small model first (comma separated in the environment), escalating to the "
        "main model when its answer does not parse or validate; empty = no cascade",
    )
    small_base_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="the small model's OpenAI-compatible endpoints; empty = a second embedded server "
        "(small_embedded_model) when small_steps is set",
    )
    small_model: str | None = Field(
        default=None, description="model name sent to the small endpoints; None = their first listed model"
    )
    small_embedded_model: str = Field(
        default="0.5b", description="the small embedded model (0.5b, 1.5b or a .gguf path), when no small_base_urls"
    )
    small_retries: int = Field(
        default=0, ge=0, le=10, description="re-asks of the small model before escalating (0 = one small attempt)"
    )

    @field_validator("small_steps", mode="before")
    @classmethod
    def _split_steps(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [s for s in (p.strip() for p in value.split(",")) if s]
        return value

    @field_validator("small_steps")
    @classmethod
    def _known_steps(cls, value: list[str]) -> list[str]:
        if not value:
            return value
        import agents.steps  # noqa: F401 - importing the steps registers them
        from agents.step_registry import registered_steps

        known = registered_steps()
        unknown = [s for s in value if s not in known]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r} (steps: {', '.join(sorted(known))})")
        return list(dict.fromkeys(value))

    @field_validator("base_urls", "small_base_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [u for u in (p.strip() for p in value.split(",")) if u]
        if isinstance(value, list):
            for url in value:
                if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                    raise ValueError(f"base URL {url!r} must start with http:// or https://")
            return [u.rstrip("/") for u in value]
        return value

    @field_validator("embedded_model", "small_embedded_model", "embedded_draft_model")
    @classmethod
    def _size_or_gguf(cls, value: str) -> str:
        if value in EMBEDDED_SIZES:
            return value
        path = Path(value).expanduser()
        if path.suffix.lower() != ".gguf" or not path.is_file():
            raise ValueError(f"must be {' or '.join(EMBEDDED_SIZES)} or the path of an existing .gguf file")
        return str(path)

    @property
    def embedded_file(self) -> Path | None:
        """The user's own GGUF file when ``embedded_model`` is a path, else None (one of ours, by size)."""
        return None if self.embedded_model in EMBEDDED_SIZES else Path(self.embedded_model)

    @property
    def embedded_draft_file(self) -> Path | None:
        """Like :attr:`embedded_file`, for the speculative draft model."""
        return None if self.embedded_draft_model in EMBEDDED_SIZES else Path(self.embedded_draft_model)

    @property
    def small_embedded_file(self) -> Path | None:
        """Like :attr:`embedded_file`, for the cascade's small embedded model."""
        return None if self.small_embedded_model in EMBEDDED_SIZES else Path(self.small_embedded_model)

    @property
    def small_embedded(self) -> bool:
        """True when the cascade is on and its small model is a second embedded server."""
        return bool(self.small_steps) and not self.small_base_urls

    @model_validator(mode="after")
    def _ctx_per_slot(self) -> AgentSettings:
        per_slot = self.embedded_ctx // self.embedded_parallel
        if per_slot < MIN_CTX_PER_SLOT:
            raise ValueError(
                f"embedded_ctx={self.embedded_ctx} over embedded_parallel={self.embedded_parallel} slots gives "
                f"{per_slot} tokens per slot; at least {MIN_CTX_PER_SLOT} are needed for the prompts"
            )
        return self

    @property
    def embedded(self) -> bool:
        """True when no endpoint is configured and the embedded model is used."""
        return not self.base_urls

    @property
    def timeout_s(self) -> float:
        """The request timeout in force: the configured one, else the default for servers or the embedded model."""
        if self.request_timeout_s is not None:
            return self.request_timeout_s
        return EMBEDDED_TIMEOUT_S if self.embedded else SERVER_TIMEOUT_S

    @property
    def small_timeout_s(self) -> float:
        """The request timeout of the cascade's small model (as :attr:`timeout_s`, for its own kind of server)."""
        if self.request_timeout_s is not None:
            return self.request_timeout_s
        return EMBEDDED_TIMEOUT_S if self.small_embedded else SERVER_TIMEOUT_S


MIND_TABLE = "mind"
#: kept in CognitionSettings for the steps, but set once, in [engine]: the session copies the world's values in
ENGINE_KNOBS = ("conversation_cooldown_min", "max_conversation_turns")


def cognition_settings() -> CognitionSettings:
    """The minds' :class:`~agents.context.CognitionSettings`: field defaults, then the ``[mind]`` table of the
    config file (``[mind.retrieval]`` for the retrieval weights), then ``TOWN_MIND_*`` variables, strongest (nested
    with ``__``: ``TOWN_MIND_RETRIEVAL__RECENCY=0.5``). Unknown keys are errors: a misspelt knob is not ignored."""
    from agents.context import RENAMED_MESSAGE, CognitionSettings

    class MindSettings(_TableSettings, CognitionSettings):
        model_config = SettingsConfigDict(env_prefix="TOWN_MIND_", env_nested_delimiter="__", extra="forbid")
        toml_table: ClassVar[str] = MIND_TABLE

    try:
        table = _table(MIND_TABLE)
        for key in ENGINE_KNOBS:
            var = f"TOWN_MIND_{key.upper()}"
            if key in table or var in os.environ:
                where = var if var in os.environ else f"{config_file()} [{MIND_TABLE}]"
                raise SettingsError(f"{where}: {key} is an [engine] setting (TOWN_ENGINE_{key.upper()}), one for "
                                    "the world and the minds")
        if "attention_limit" in table or "TOWN_MIND_ATTENTION_LIMIT" in os.environ:
            where = ("environment variable TOWN_MIND_ATTENTION_LIMIT" if "TOWN_MIND_ATTENTION_LIMIT" in os.environ
                     else f"{config_file()} [{MIND_TABLE}]")
            raise SettingsError(f"{where}: {RENAMED_MESSAGE}")
        return CognitionSettings.model_validate(MindSettings().model_dump())
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        raise _settings_error("mind", exc, "TOWN_MIND_", MIND_TABLE) from exc


def env_names() -> set[str]:
    """Every ``TOWN_*`` variable the minds' side reads: the ``[llm]`` and ``[mind]`` fields (and their aliases),
    ``TOWN_CONFIG`` and ``TOWN_CACHE_DIR``. Taken from the models, so a new knob is known without a second list."""
    from agents.context import CognitionSettings
    from agents.llm.model_files import CACHE_DIR_ENV

    names = {CONFIG_ENV, CACHE_DIR_ENV}
    for name, field in AgentSettings.model_fields.items():
        names.add(f"TOWN_{name.upper()}")
        names.update(n for n in getattr(field.validation_alias, "choices", []) if isinstance(n, str) and n.isupper())
    for name, field in CognitionSettings.model_fields.items():
        names.add(f"TOWN_MIND_{name.upper()}")
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            names.update(f"TOWN_MIND_{name.upper()}__{inner.upper()}" for inner in sub.model_fields)
    return names


def agent_settings(**overrides: Any) -> AgentSettings:
    """:class:`AgentSettings` from ``overrides``, the environment and the ``[llm]`` table, or a SettingsError."""
    try:
        known = set(AgentSettings.model_fields)
        for key in _table(TOML_TABLE):
            if key not in known:
                raise SettingsError(f"{config_file()}: [{TOML_TABLE}] {key}: unknown key (known: "
                                    f"{', '.join(sorted(known))})")
        return AgentSettings(**overrides)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        raise _settings_error("LLM", exc, "TOWN_", TOML_TABLE, overrides) from exc


def _table(table: str) -> dict[str, Any]:
    """The config file's ``[table]``, or ``{}``. A copy of town.world.config.read_table's lookup: agents imports
    only the world's contracts, and the world core never imports agents, so the two keep a small one each."""
    path = config_file()
    return tomllib.loads(path.read_text(encoding="utf-8")).get(table, {}) if path else {}


def _where(key: str, env_prefix: str, table: str, overrides: dict[str, Any]) -> str:
    """Where a rejected ``key`` (dotted for nested tables) came from: argument, environment variable or file."""
    first = key.split(".")[0]
    if first in overrides:
        return f"argument {first}"
    field = AgentSettings.model_fields.get(first) if table == TOML_TABLE else None
    alias = field.validation_alias if field is not None else None
    names = [n for n in getattr(alias, "choices", []) if isinstance(n, str) and n.isupper()]
    names.append(env_prefix + key.upper().replace(".", "__"))
    for name in names:
        if name in os.environ:
            return f"environment variable {name}"
    try:
        path = config_file()
    except (FileNotFoundError, ValueError):
        path = None
    return f"{path} [{table}]" if path else f"{table} settings"


def _settings_error(what: str, exc: Exception, env_prefix: str, table: str,
                    overrides: dict[str, Any] | None = None) -> SettingsError:
    """One line naming the rejected key, its value and where it came from (argument, environment, file)."""
    if not isinstance(exc, ValidationError):
        return SettingsError(redact(str(exc)))  # a bad TOWN_CONFIG path, invalid TOML, an unknown key
    err = exc.errors()[0]
    key = ".".join(map(str, err["loc"])) or "value"
    where = _where(key, env_prefix, table, overrides or {})
    # a rejected value may be a URL with a key in it: the message is shown and logged
    return SettingsError(redact(f"bad {what} setting from {where}: {key}: {err['msg']} (got {err.get('input')!r})"))
