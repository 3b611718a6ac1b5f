"""Engine settings (pydantic-settings, environment prefix ``TOWN_``, e.g. ``TOWN_VISION_RADIUS=6``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseSettings):
    """Knobs of the world engine. Other ``TOWN_*`` variables (LLM, cache...) belong to other settings."""

    model_config = SettingsConfigDict(env_prefix="TOWN_", extra="ignore")

    seconds_per_tick: int | None = Field(
        default=None, ge=1, le=3600, description="game seconds per tick; None = the scenario's value"
    )
    tiles_per_tick: int = Field(default=6, ge=1, le=100, description="walking speed, tiles per tick")
    vision_radius: int = Field(default=8, ge=1, le=100, description="tiles an agent sees around itself")
    attention_limit: int = Field(default=8, ge=1, le=100, description="most perceived events per tick")
    talk_radius: int = Field(default=6, ge=1, le=100, description="tiles within which a conversation can start")
    max_conversation_turns: int = Field(default=8, ge=2, le=100, description="lines before a conversation ends")
    conversation_cooldown_min: int = Field(
        default=60, ge=0, le=24 * 60, description="game minutes before the same pair may talk again"
    )
    conversation_timeout_ticks: int = Field(
        default=3, ge=1, le=100, description="ticks of silence (the speaker not answering) that end a conversation"
    )
    concurrency: int = Field(default=8, ge=1, le=256, description="minds deciding at once within a tick")
