"""`town eval` runs: N seeds (per arm for an A/B) as ordinary run folders under one eval folder, stepped with
the app's own Session machinery, probed and (for the first runs) put through the believability ablations.

Everything is resumable: a finished run is not rerun, a half run is resumed from its checkpoint, a probe or
ablation already written is kept. All runs share one LLM backend (and its response cache in the eval
folder), each through its own ``backend.share(seed=...)`` so accounting and seeds stay per run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from town.app import checkpoint as ckpt
from town.app.session import RunConfig, Session, UserError, run_session, ticks_for_hours
from town.app.eval.ablation import ABLATION_FILE, believability
from town.app.eval.cascade import arm_small_steps, backend_overrides, configured_small_steps
from town.app.eval.probe import PROBE_FILE, probe_run
from town.app.eval.progress import EvalProgress
from town.app.eval.spec import Arm, EvalSpec  # defined in spec.py; callers import them from here too

SPEC_FILE = "eval_spec.json"
WALL_FILE = "eval_wall.json"


def run_dir(out: Path, arm: str, seed: int) -> Path:
    return out / arm / f"seed-{seed}"


def check_spec(out: Path, spec: EvalSpec) -> None:
    """Refuse to continue an eval folder that measured something else, or with other code than it started with
    (a folder written before the code was recorded is continued with whatever code is here)."""
    path = out / SPEC_FILE
    if path.exists():
        old = EvalSpec.model_validate(ckpt.read_json(path))
        if old.model_dump(exclude={"judge", "code"}) != spec.model_dump(exclude={"judge", "code"}):
            raise UserError(f"{path}: this eval folder measured {old.model_dump(exclude={'judge', 'code'})}; "
                            "use another --out for different seeds, hours, scenario or arms")
        if old.code is not None and _same_code(old.code) != _same_code(spec.code):
            raise UserError(f"{path}: this eval was started with the code of {_describe(old.code)}; this checkout "
                            f"is {_describe(spec.code)}: continue it with that code, or use another --out")


def _same_code(code: dict[str, Any] | None) -> Any:
    return None if code is None else (code.get("trees"), code.get("dirty"))


def _describe(code: dict[str, Any] | None) -> str:
    if code is None:
        return "not a git checkout"
    return f"commit {code.get('commit')}{' plus uncommitted changes' if code.get('dirty') else ''}"


def arm_settings(arm: Arm) -> Any:
    """The minds' settings for an arm: the configured ones with the file's ``[mind]`` table on top."""
    if arm.settings is None:
        return None
    from agents import CognitionSettings
    from agents import cognition_settings

    table = arm.table("mind")
    table = {} if table is None else table
    try:
        return CognitionSettings.model_validate({**cognition_settings().model_dump(), **table})
    except ValidationError as exc:
        raise _invalid(arm, "mind", exc) from exc


def arm_engine(arm: Arm) -> Any:
    """The world's settings for an arm: the configured ones with the file's ``[engine]`` table on top (None: no
    table, the configured ones). The arms share one game clock, so ``seconds_per_tick`` is refused there."""
    from town.world.config import EngineSettings, SettingsError, engine_settings

    table = arm.table("engine")
    if table is None:
        return None
    path = Path(str(arm.settings))
    if not isinstance(table, dict):
        raise UserError(f"{path}: [engine] must be a table")
    unknown = sorted(set(table) - set(EngineSettings.model_fields))
    if unknown or "seconds_per_tick" in table:
        bad = unknown[0] if unknown else "seconds_per_tick"
        why = "unknown key" if unknown else "the arms of one eval share the game clock"
        raise UserError(f"{path}: [engine] {bad}: {why}")
    try:
        return EngineSettings.model_validate({**engine_settings().model_dump(), **table})
    except SettingsError as exc:
        raise UserError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        raise _invalid(arm, "engine", exc) from exc


def _invalid(arm: Arm, name: str, exc: ValidationError) -> UserError:
    """One line naming the arm's file, the table and the first bad key."""
    err = exc.errors()[0]
    return UserError(f"{Path(str(arm.settings))}: [{name}] {'.'.join(map(str, err['loc']))}: {err['msg']}")


def check_inputs(spec: EvalSpec) -> None:
    """Scenario, templates, settings and questions are read before anything is written."""
    from agents import PromptError, PromptLibrary
    from town.app.session import _load_scenario
    from town.app.interviews import QuestionFileError, default_questions_path, load_questions

    _load_scenario(spec.scenario)
    for arm in spec.arms.values():
        try:
            PromptLibrary.load(Path(arm.prompts) if arm.prompts else None)
        except PromptError as exc:
            raise UserError(str(exc)) from exc
        arm_settings(arm)
        arm_engine(arm)
    backend_overrides(spec)  # the arms' cascade keys, checked
    try:
        load_questions(Path(spec.questions) if spec.questions else default_questions_path())
    except (QuestionFileError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from exc


def make_run_llm(backend: Any, seed: int | None, small_steps: list[str] | None = None) -> Any:
    """A per-run face of the shared backend (same limit and cache): its own seed, retries, records and accounting;
    ``small_steps``: the steps its arm asks of the cascade's small model (None: the backend's)."""
    if small_steps is None:
        return backend.share(seed=seed)
    return backend.share(seed=seed, small_steps=small_steps)


def _progress(rd: Path) -> tuple[int, int] | None:
    """``(ticks done, seconds per tick)`` of a run folder from its checkpoint and ``run_start``; None if none."""
    if not (rd / ckpt.CHECKPOINT).exists():
        return None
    from town.world.event_types import RunStart
    from town.world.events import read_events

    start = next(read_events(rd / "events.jsonl"))
    return int(ckpt.read_json(rd / ckpt.CHECKPOINT)["tick"]), cast(RunStart, start.data).seconds_per_tick


def plan(out: Path, spec: EvalSpec) -> dict[tuple[str, int], tuple[int, int]]:
    """Each run's ``(tick it starts at, target tick)``: its checkpoint's, else 0 of the scenario's ticks."""
    from town.app.session import _load_scenario
    from town.world.config import SettingsError, engine_settings

    out_plan: dict[tuple[str, int], tuple[int, int]] = {}
    fresh_spt: int | None = None
    for arm in spec.arms:
        for seed in spec.seeds:
            got = _progress(run_dir(out, arm, seed))
            if got is None:
                if fresh_spt is None:
                    try:
                        fresh_spt = engine_settings().seconds_per_tick
                    except SettingsError:  # Session.open names it; the plan is only what the progress shows
                        pass
                    fresh_spt = fresh_spt or _load_scenario(spec.scenario).seconds_per_tick
                got = (0, fresh_spt)
            out_plan[(arm, seed)] = (got[0], ticks_for_hours(spec.hours, got[1]))
    return out_plan


def _wall_tally(rd: Path) -> Callable[[], None]:
    """Start a session of the run's wall-time tally (summed over every session: a resumed session's ``run_end``
    is not kept); the function returned writes it, this session's time so far included. Written tick by tick,
    so a session killed without a chance to clean up still counts what it spent."""
    path = rd / WALL_FILE
    old = ckpt.read_json(path) if path.exists() else {"wall_s": 0.0, "sessions": 0}
    t0 = time.perf_counter()

    def write() -> None:
        ckpt.atomic_write_json(path, {"wall_s": old["wall_s"] + time.perf_counter() - t0,
                                      "sessions": old["sessions"] + 1})

    write()
    return write


async def advance(out: Path, spec: EvalSpec, arm: str, seed: int, backend: Any, progress: EvalProgress) -> None:
    """Step one run to ``spec.hours``: fresh, resumed from its checkpoint, or left alone when finished."""
    rd = run_dir(out, arm, seed)
    settings = arm_settings(spec.arms[arm])
    llm = make_run_llm(backend, seed, arm_small_steps(spec, arm))
    checkpointed = _progress(rd)
    if checkpointed is not None:
        done, spt = checkpointed
        target = ticks_for_hours(spec.hours, spt)
        if done >= target and (rd / WALL_FILE).exists():
            return
        session = await Session.open(rd, resume=True, llm=llm, mind_settings=settings)
    else:
        prompts = Path(spec.arms[arm].prompts) if spec.arms[arm].prompts else None
        cfg = RunConfig(scenario=spec.scenario, hours=spec.hours, seed=seed, run_dir=rd, prompts_dir=prompts,
                        engine=arm_engine(spec.arms[arm]))
        session = await Session.open(rd, resume=False, cfg=cfg, llm=llm, mind_settings=settings)
        target = ticks_for_hours(spec.hours, session.world.clock.seconds_per_tick)
    key = (arm, seed)
    progress.run_started(key, session.world.clock.tick, target, session.world.now())

    save_wall = _wall_tally(rd)

    def on_tick(s: Session) -> None:
        save_wall()
        progress.ticked(key, s.world.clock.tick, s.world.now())

    try:
        await run_session(session, max(0, target - session.world.clock.tick), on_tick)
    finally:
        save_wall()


async def after_run(out: Path, spec: EvalSpec, arm: str, seed: int, backend: Any, judge: tuple[Any, Any],
                    ablate: bool, progress: EvalProgress) -> None:
    """Probe the finished run and, for the first runs, the believability ablations (each once)."""
    rd = run_dir(out, arm, seed)
    todo_probe = not (rd / PROBE_FILE).exists()
    todo_ablation = ablate and spec.ablation_questions > 0 and not (rd / ABLATION_FILE).exists()
    if not (todo_probe or todo_ablation):
        return
    session = await Session.open(rd, resume=True, read_only=True,
                                 llm=make_run_llm(backend, seed, arm_small_steps(spec, arm)),
                                 mind_settings=arm_settings(spec.arms[arm]))
    try:
        if todo_probe:
            with progress.phase((arm, seed), "interviews") as counts:
                probe = await probe_run(session, judge, counts)
            ckpt.atomic_write_json(rd / PROBE_FILE, probe)
        if todo_ablation:
            from town.app.interviews import default_questions_path

            questions = Path(spec.questions) if spec.questions else default_questions_path()
            with progress.phase((arm, seed), "ablation") as counts:
                result = await believability(session, judge, questions, limit=spec.ablation_questions, seed=seed,
                                             counts=counts)
            ckpt.atomic_write_json(rd / ABLATION_FILE, result)
    finally:
        await session.runtime.aclose()


async def run_all(out: Path, spec: EvalSpec, backend: Any, judge_backend: Any, *, concurrency: int,
                  console: Any = None) -> None:
    """Every (arm, seed) run, at most ``concurrency`` at once, then its probe; progress on ``console``."""
    from agents import PromptLibrary

    own = configured_small_steps(spec) if judge_backend is backend else None  # not an arm's cascade
    judge = (make_run_llm(judge_backend, 0, own), PromptLibrary.load(None))
    gate = asyncio.Semaphore(max(1, concurrency))
    first_arm = next(iter(spec.arms))
    ablated = set(spec.seeds[: spec.ablation_runs])

    progress = EvalProgress(plan(out, spec), console)

    async def one(arm: str, seed: int) -> None:
        async with gate:
            await advance(out, spec, arm, seed, backend, progress)
            await after_run(out, spec, arm, seed, backend, judge, arm == first_arm and seed in ablated, progress)
            progress.run_finished((arm, seed))

    with progress:
        await asyncio.gather(*(one(arm, seed) for arm in spec.arms for seed in spec.seeds))
