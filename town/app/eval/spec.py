"""What a `town eval` folder measures: its arms (template folder and/or settings file) and its spec, kept apart
from the runner so that the arm readers (cascade.py) and the runner both import it without a loop."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Arm(BaseModel):
    """One side of an A/B: a template folder and/or a settings file (``[mind]`` table; ``[llm]``'s cascade keys,
    eval/cascade.py)."""

    model_config = ConfigDict(extra="forbid")
    prompts: str | None = None
    settings: str | None = None


class EvalSpec(BaseModel):
    """What an eval folder measures; a rerun with a different spec is refused, not mixed in."""

    model_config = ConfigDict(extra="forbid")
    scenario: str
    seeds: list[int] = Field(min_length=1)
    hours: float = Field(gt=0)
    arms: dict[str, Arm]
    ablation_questions: int = Field(10, ge=0)
    ablation_runs: int = Field(1, ge=0)
    questions: str | None = None
    judge: dict[str, Any] = Field(default_factory=dict)
