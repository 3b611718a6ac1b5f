"""An eval arm's LLM cascade: the ``small_*`` keys of its settings file's ``[llm]`` table (``--compare-settings``).

All runs share one backend, so it is opened with the small model any arm needs and each run's face asks of it
only the steps of its own arm (the file's ``small_steps``, else the configured ones)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from town.app.session import UserError

if TYPE_CHECKING:
    from town.app.eval.spec import Arm, EvalSpec

SMALL_KEYS = ("small_steps", "small_base_urls", "small_model", "small_embedded_model", "small_retries")


def arm_cascade(arm: Arm) -> dict[str, Any]:
    """The arm file's ``[llm]`` ``small_*`` keys, checked like the settings (one line naming the file); {} if none.

    The file's other ``[llm]`` keys are not the arm's: every run shares the configured endpoints."""
    from agents import SettingsError, agent_settings

    if arm.settings is None:
        return {}
    path = Path(arm.settings)
    table = arm.table("llm")
    table = {} if table is None else table
    picked = {k: v for k, v in table.items() if k in SMALL_KEYS}
    if picked:
        try:
            agent_settings(**picked)
        except SettingsError as exc:
            # the settings name the key as an argument: it came from this file
            raise UserError(re.sub(r"from argument \w+", f"from {path} [llm]", str(exc), count=1)) from exc
    return picked


def backend_overrides(spec: EvalSpec) -> dict[str, Any]:
    """Settings for the shared backend: the arms' small model, asked (by default) for every arm's steps; {} when
    no arm's file has a ``small_*`` key (the configured settings hold)."""
    from agents import agent_settings

    tables = [arm_cascade(a) for a in spec.arms.values()]
    if not any(tables):
        return {}
    out: dict[str, Any] = {}
    for table in tables:
        for key, value in table.items():
            if key != "small_steps" and out.get(key, value) != value:
                raise UserError(f"the arms' settings files give two values of [llm] {key}: one small model serves "
                                "every arm")
            out[key] = value
    steps = list(agent_settings().small_steps)
    for table in tables:
        steps += [s for s in agent_settings(**table).small_steps if s not in steps]
    return {**out, "small_steps": steps}


def configured_small_steps(spec: EvalSpec) -> list[str] | None:
    """The configured ``small_steps`` when some arm's file sets its own (the backend then routes the union of
    them, so a face outside the arms, the judge's, is given these); None when none does."""
    from agents import agent_settings

    if not any("small_steps" in arm_cascade(a) for a in spec.arms.values()):
        return None
    return agent_settings().small_steps


def arm_small_steps(spec: EvalSpec, arm: str) -> list[str] | None:
    """The steps the arm's runs ask of the small model when some arm's file sets ``small_steps`` (the file's,
    else the configured ones); None: the backend's own routing."""
    from agents import agent_settings

    configured = configured_small_steps(spec)
    table = arm_cascade(spec.arms[arm])
    if configured is None or "small_steps" not in table:
        return configured
    return agent_settings(**table).small_steps
