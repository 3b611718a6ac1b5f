"""The engine's settings: the ``[engine]`` table of town.toml, ``TOWN_ENGINE_*`` variables, and flags.

Sources, strongest first: flags (keyword arguments), the environment, the config file (``$TOWN_CONFIG`` or
``./town.toml``), field defaults. A misspelt or out-of-range value is one line naming the key and its source.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_ENV = "TOWN_CONFIG"
DEFAULT_CONFIG_FILE = "town.toml"
ENGINE_TABLE = "engine"
ENV_PREFIX = "TOWN_ENGINE_"


class SettingsError(ValueError):
    """A bad setting; the message is one line naming the key and where it came from (flag, environment, file)."""


class EngineSettings(BaseModel):
    """Knobs of the world engine. Built from defaults or keyword arguments; :func:`engine_settings` reads the
    configured ones. Unknown keys are ignored here only so that old checkpoints' saved settings still load."""

    model_config = ConfigDict(extra="ignore")

    seconds_per_tick: int | None = Field(
        default=None, ge=1, le=3600, description="game seconds per tick; None = the scenario's value"
    )
    tiles_per_tick: int = Field(default=6, ge=1, le=100, description="walking speed, tiles per tick")
    vision_radius: int = Field(default=8, ge=1, le=100, description="tiles an agent sees around itself")
    attention_limit: int = Field(default=8, ge=1, le=100, description="most perceived events per tick")
    talk_radius: int = Field(default=6, ge=1, le=100, description="tiles within which a conversation can start")
    approach_ticks: int = Field(
        default=5, ge=0, le=100,
        description="ticks an agent may walk up to someone out of talk range to start a conversation (0 = refuse)",
    )
    max_conversation_turns: int = Field(default=8, ge=2, le=100, description="lines before a conversation ends")
    opening_line_heard: bool = Field(
        default=True,
        description="an agent spoken to in a tick hears the opening line whatever the name order: its own action for "
        "that tick (decided before the line) waits for the conversation's end instead of leaving it; sleeping still "
        "leaves (false: a move or object use applied after the line ends the conversation as 'left')",
    )
    conversation_cooldown_min: int = Field(
        default=60, ge=0, le=24 * 60,
        description="game minutes before the same pair may talk again (the minds skip asking within it too)",
    )
    conversation_timeout_ticks: int = Field(
        default=3, ge=1, le=100, description="ticks of silence (the speaker not answering) that end a conversation"
    )
    decide_concurrency: int = Field(
        default=8, ge=1, le=256,
        description="minds deciding at once within a tick (LLM requests in flight are [llm] concurrency)",
    )


#: names that worked before the ``[engine]`` table: ``TOWN_VISION_RADIUS`` still sets ``vision_radius``.
#: ``TOWN_CONCURRENCY`` is not one of them: it is the LLM's ``[llm] concurrency`` alone.
LEGACY_ENV = {f"TOWN_{name.upper()}": name for name in EngineSettings.model_fields if name != "decide_concurrency"}


def env_names() -> set[str]:
    """Every ``TOWN_*`` variable the engine reads: ``TOWN_ENGINE_<KEY>``, the older names, and ``TOWN_CONFIG``."""
    return {CONFIG_ENV, *LEGACY_ENV, *(ENV_PREFIX + name.upper() for name in EngineSettings.model_fields)}


def config_file() -> Path | None:
    """The TOML file to read: ``$TOWN_CONFIG`` (must exist) or ``./town.toml`` if present."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SettingsError(f"{CONFIG_ENV}={explicit}: no such config file")
        return path
    path = Path.cwd() / DEFAULT_CONFIG_FILE
    return path if path.is_file() else None


def read_table(table: str) -> tuple[dict[str, Any], Path | None]:
    """The config file's ``[table]`` (empty when there is no file or no such table) and the file's path.

    The minds' settings (agents/settings.py) keep their own small copy of this lookup: the world core must not
    import ``agents``, and ``agents`` imports only the world's contracts, so neither can share it.
    """
    path = config_file()
    if path is None:
        return {}, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: invalid TOML: {exc}") from exc
    value = data.get(table, {})
    if not isinstance(value, dict):
        raise SettingsError(f"config file {path}: {table} must be a table, got {value!r}")
    return value, path


def engine_settings(flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> EngineSettings:
    """The engine's settings: defaults, then ``[engine]`` of the config file, then the environment
    (``TOWN_ENGINE_<KEY>``, or the older ``TOWN_<KEY>``), then ``flags``; else a one-line SettingsError."""
    env = os.environ if env is None else env
    table, path = read_table(ENGINE_TABLE)
    known = set(EngineSettings.model_fields)
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for key, value in table.items():
        if key not in known:
            raise SettingsError(f"{path}: [{ENGINE_TABLE}] {key}: unknown key (known: {', '.join(sorted(known))})")
        values[key], source[key] = value, f"{path} [{ENGINE_TABLE}]"
    for var, key in LEGACY_ENV.items():  # before the TOWN_ENGINE_* names, which win
        if var in env:
            values[key], source[key] = env[var], f"environment variable {var}"
    for var, value in sorted(env.items()):
        if var.startswith(ENV_PREFIX):
            key = var[len(ENV_PREFIX):].lower()
            if key not in known:
                raise SettingsError(f"environment variable {var}: unknown engine setting {key!r}")
            values[key], source[key] = value, f"environment variable {var}"
    for key, value in (flags or {}).items():
        if value is not None:
            values[key], source[key] = value, f"flag --{key.replace('_', '-')}"
    try:
        return EngineSettings.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "value"
        raise SettingsError(
            f"{source.get(key, 'engine settings')}: {key}={err.get('input')}: {err['msg']}"
        ) from exc
