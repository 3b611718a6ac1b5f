"""Checks of a run's inputs before anything is written: a rejected input is one line, exit 2, nothing on disk.

`town run` and `town resume` call these before logging opens ``RUN/town.log`` (which would create the folder).
Like town.app.session, it reaches the minds only through the public ``agents`` API.
"""

from __future__ import annotations

from pathlib import Path

from town.app import checkpoint as ckpt
from town.app import rundir
from town.app.session import RunConfig, UserError
from town.app.town_env import check_environment
from town.app.session import _load_scenario as load_scenario_or_fail
from town.world.config import SettingsError, engine_settings
from town.world.maps import MapError


def check_run(cfg: RunConfig) -> None:
    """Check every input of a fresh run before anything is written (the run folder, town.log, memory)."""
    import agents

    try:
        rundir.check_hours(cfg.hours)
        rundir.check_new_run_dir(cfg.run_dir)
    except rundir.RunDirError as exc:
        raise UserError(str(exc)) from exc
    scenario = load_scenario_or_fail(cfg.scenario)
    try:
        scenario.load_map()
        engine_settings()
        agents.MindRuntime.check_inputs(cfg.prompts_dir)
        check_environment()
    except (MapError, SettingsError, agents.SettingsError, agents.PromptError) as exc:
        raise UserError(str(exc)) from exc


def check_resume(run_dir: Path, hours: float, prompts_dir: Path | None) -> None:
    """Check a resume's inputs before logging opens town.log in the run folder."""
    import agents

    try:
        rundir.check_hours(hours)
    except rundir.RunDirError as exc:
        raise UserError(str(exc)) from exc
    if not ckpt.has_checkpoint(run_dir):
        raise UserError(f"{run_dir / ckpt.CHECKPOINT} not found: nothing to resume")
    try:
        engine_settings()  # the resumed world keeps its saved knobs, but the concurrency is read again
        agents.MindRuntime.check_inputs(prompts_dir)
        check_environment()
    except (SettingsError, agents.SettingsError, agents.PromptError) as exc:
        raise UserError(str(exc)) from exc
