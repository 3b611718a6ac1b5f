"""Wiring: scenario + map + world + minds + event log -> a running, checkpointed, resumable session.

The commands that drive a session (run, resume, interviews, the inbox) are in ``town.app.runs``.

It opens the minds through ``agents``' public API (``agents.MindRuntime``); the world core sees them only
through ``town.world.protocol``.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from town.app import checkpoint as ckpt
from town.app import inbox
from town.world.config import SettingsError, engine_settings
from town.world.engine import Simulation
from town.world.event_types import LLMCall
from town.world.events import EventLog
from town.world.maps import MapError
from town.world.scenario import Scenario, ScenarioError, load_scenario
from town.world.state import World, WorldError

log = logging.getLogger("town.app.session")


class UserError(Exception):
    """Bad input from the user (a path, a name, a damaged run folder): a clear message, nothing lost."""


class RunStopped(Exception):
    """The run stopped early for a reason outside the town (every LLM endpoint down); its last checkpoint resumes it."""


@contextmanager
def _llm_problems_as_messages(run_dir: Path, *, resumable: bool = True) -> Iterator[None]:
    """A refused key or unknown model: a UserError (one line). A sustained outage: RunStopped, saying how to resume
    (a UserError where nothing is resumed: interviews)."""
    import agents

    try:
        yield
    except agents.LLMEndpointError as exc:
        raise UserError(str(exc)) from None
    except agents.LLMOutage as exc:
        if not resumable:
            raise UserError(str(exc)) from None
        raise RunStopped(f"{exc}. The run stopped at its last checkpoint; when the endpoint is back: "
                         f"town resume {run_dir}") from None


@dataclass
class RunConfig:
    scenario: str
    hours: float
    seed: int
    run_dir: Path
    prompts_dir: Path | None = None
    memory_url: str | None = None
    engine: Any = None  # EngineSettings replacing the configured [engine] knobs (`town eval` arms); None: configured


def default_run_dir(scenario: str, seed: int) -> Path:
    stem = Path(scenario).stem
    return Path("runs") / f"{stem}-s{seed}-{datetime.now():%Y%m%d-%H%M%S}"


class Session:
    """One process's stretch of a run: opened fresh or from a checkpoint, stepped tick by tick."""

    def __init__(self, run_dir: Path, scenario: Scenario, world: World, sim: Simulation, runtime: Any,
                 log_: EventLog, minds: dict[str, Any], meta: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.scenario = scenario
        self.world = world
        self.sim = sim
        self.runtime = runtime
        self.log = log_
        self.minds = minds
        self.meta = meta
        self.started = time.perf_counter()
        self.ticks_this_session = 0
        self.tick_times: list[float] = []
        self.llm_calls: list[LLMCall] = []  # this session's, for the model server's share of its wall time
        log_.subscribe(lambda ev: self.llm_calls.append(ev.data) if isinstance(ev.data, LLMCall) else None)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    async def open(cls, run_dir: Path, *, resume: bool, seed: int | None = None,
                   prompts_dir: Path | None = None, llm: Any = None, cfg: RunConfig | None = None,
                   read_only: bool = False, mind_settings: Any = None) -> "Session":
        """A fresh run (``cfg``), or the run in ``run_dir`` from its last checkpoint.

        ``read_only`` (interviews) opens the minds at the checkpoint without touching the run folder's
        log or memories, so it is safe while the run itself goes on in another process.
        ``mind_settings`` (``agents.CognitionSettings``) replace the configured ``[mind]`` knobs (``town eval``).
        """
        if resume:
            return await cls._open_resumed(run_dir, seed=seed, prompts_dir=prompts_dir, llm=llm,
                                           read_only=read_only, mind_settings=mind_settings)
        assert cfg is not None
        return await cls._open_fresh(run_dir, cfg, llm=llm, mind_settings=mind_settings)

    @classmethod
    async def _open_fresh(cls, run_dir: Path, cfg: RunConfig, *, llm: Any, mind_settings: Any) -> "Session":
        """A new run folder: the scenario copied in, run.json, a new world and event log, a first checkpoint."""
        settings = cfg.engine if cfg.engine is not None else _engine_settings()
        meta: dict[str, Any] = {
            "scenario": cfg.scenario,
            "seed": cfg.seed,
            "prompts_dir": str(cfg.prompts_dir) if cfg.prompts_dir else None,
            "memory_url": cfg.memory_url,
            "created": datetime.now().isoformat(timespec="seconds"),
        }
        scenario = _load_scenario(meta["scenario"])
        town_map = _load_map(scenario)
        if (run_dir / "events.jsonl").exists():
            raise UserError(f"{run_dir / 'events.jsonl'} exists: a fresh run never appends to an old event log")
        runtime = await _open_runtime(run_dir, meta, llm, mind_settings)
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(scenario.path, run_dir / "scenario.yaml")
        meta["scenario_dir"] = str(scenario.path.parent)  # the copy's map path is relative to the original
        meta["agents"] = [p.name for p in scenario.personas]
        ckpt.atomic_write_json(run_dir / ckpt.RUN_FILE, scrub_secrets(meta))
        world = World.create(town_map, scenario, settings=settings, seed=int(meta["seed"]))
        event_log = EventLog(run_dir / "events.jsonl", scrub=_scrub_event)
        session = cls._assemble(run_dir, scenario, world, runtime, event_log, meta, settings, None)
        session.sim.emit_run_start(seed=int(meta["seed"]), scenario=scenario.name, map=str(town_map.path))
        session.save_checkpoint()
        return session

    @classmethod
    async def _open_resumed(cls, run_dir: Path, *, seed: int | None, prompts_dir: Path | None, llm: Any,
                            read_only: bool, mind_settings: Any) -> "Session":
        """The run in ``run_dir`` at its last checkpoint; its event log cut back to that checkpoint unless read-only."""
        settings = _engine_settings()  # a resumed world keeps its saved settings; the concurrency is today's
        meta = _read_meta(run_dir, prompts_dir)
        if seed is not None:
            meta["seed"] = seed
        scenario = _run_scenario(run_dir, meta)
        town_map = _load_map(scenario)
        state = _load_state(run_dir, town_map)
        runtime = await _open_runtime(run_dir, meta, llm, mind_settings)
        world = World.from_state(town_map, state["world"])  # the saved settings: exact resume
        if read_only:
            event_log = EventLog(None, start_seq=state["seq"], scrub=_scrub_event)
        else:
            kept = ckpt.truncate_events(run_dir / "events.jsonl", state["seq"])
            event_log = EventLog(run_dir / "events.jsonl", start_seq=kept[-1].seq if kept else 0, scrub=_scrub_event)
            runtime.forget_after(world.now())
        return cls._assemble(run_dir, scenario, world, runtime, event_log, meta, settings, state["minds"])

    @classmethod
    def _assemble(cls, run_dir: Path, scenario: Scenario, world: World, runtime: Any, event_log: EventLog,
                  meta: dict[str, Any], settings: Any, minds_state: dict[str, Any] | None) -> "Session":
        """The minds made (and restored from ``minds_state``) over ``world``, and the simulation that steps them."""
        # one knob each: the minds skip asking within the world's cooldown and end talks at its turn cap
        runtime.settings = runtime.settings.model_copy(update={
            "conversation_cooldown_min": world.settings.conversation_cooldown_min,
            "max_conversation_turns": world.settings.max_conversation_turns,
        })
        factory = runtime.factory()
        minds = {p.name: factory(p, world) for p in scenario.personas}
        for name, mstate in (minds_state or {}).items():
            minds[name].restore(mstate)
        sim = Simulation(world, minds, event_log, concurrency=settings.decide_concurrency)
        return cls(run_dir, scenario, world, sim, runtime, event_log, minds, meta)

    # -- stepping --------------------------------------------------------------------------------
    async def step(self) -> None:
        self._apply_inbox()
        t0 = time.perf_counter()
        await self.sim.step()
        self.tick_times.append(time.perf_counter() - t0)
        self.ticks_this_session += 1
        self.save_checkpoint()

    def _apply_inbox(self) -> None:
        """Apply waiting messages in posting order; a bad one (written by hand) is moved aside and logged."""
        for path, raw in inbox.take(self.run_dir):
            try:
                msg = inbox.check_message(raw, set(self.minds), lambda a: self.world.map.kind_of(a) is not None)
                if msg["type"] == "whisper":
                    self.world.whisper(msg["agent"], msg["text"])
                    self.sim.emit("whisper", agent=msg["agent"], text=msg["text"])
                else:
                    self.world.inject_event(msg["description"], msg["address"], minutes=msg["minutes"])
                    self.sim.emit("world_event", description=msg["description"], address=msg["address"])
            except (inbox.InboxError, WorldError) as exc:
                inbox.reject(path, str(exc))

    def save_checkpoint(self) -> None:
        state = {
            "version": 1,
            "tick": self.world.clock.tick,
            "time": self.world.now().isoformat(),
            "seq": self.log.seq,
            "world": self.world.to_state(),
            "minds": {name: m.checkpoint() for name, m in sorted(self.minds.items())},
        }
        self.log.flush()
        ckpt.save_checkpoint(self.run_dir, state)

    async def close(self) -> dict[str, Any]:
        summary = scrub_secrets(self.summary())
        self.sim.emit("run_end", summary=summary)
        self.log.close()
        ckpt.atomic_write_json(self.run_dir / "summary.json", summary)
        await self.runtime.aclose()
        return summary

    def summary(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.started
        tt = sorted(self.tick_times)
        return {
            "run_dir": str(self.run_dir),
            "seed": self.meta["seed"],
            "scenario": self.scenario.name,
            "ticks": self.world.clock.tick,
            "ticks_this_session": self.ticks_this_session,
            "game_time": self.world.now().isoformat(),
            "wall_s": round(wall, 2),
            "tick_s_mean": round(sum(tt) / len(tt), 4) if tt else None,
            "tick_s_p95": round(tt[int(0.95 * (len(tt) - 1))], 4) if tt else None,
            "minds": self.runtime.summary(),
            **self._model_server(round(wall, 2)),
        }

    def _model_server(self, wall: float) -> dict[str, Any]:
        """``{"model_server": figures}`` when the server gave any this session (see report.server_time), else {}."""
        from town.app.report.server_time import server_time

        figures = server_time(self.llm_calls, wall)
        return {"model_server": figures.as_dict()} if figures.calls else {}


#: an event string is scrubbed only if it has one of these: agents' own words ("my secret: ...") stay as said
_CREDENTIAL_HINTS = ("://", "sk-", "api", "token", "auth", "bearer", "basic ")


def scrub_secrets(value: Any, *, hinted_only: bool = False) -> Any:
    """``value`` (dicts, lists, strings) with every credential masked: for what we store, log or print."""
    from agents import redact

    if isinstance(value, str):
        if hinted_only and not any(h in value.lower() for h in _CREDENTIAL_HINTS):
            return value
        return redact(value)
    if isinstance(value, dict):
        return {k: scrub_secrets(v, hinted_only=hinted_only) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_secrets(v, hinted_only=hinted_only) for v in value]
    return value


def _scrub_event(data: dict[str, Any]) -> dict[str, Any]:
    return scrub_secrets(data, hinted_only=True)


def _engine_settings() -> Any:
    try:
        return engine_settings()
    except SettingsError as exc:
        raise UserError(str(exc)) from exc


def _load_map(scenario: Scenario) -> Any:
    try:
        return scenario.load_map()
    except MapError as exc:
        raise UserError(str(exc)) from exc


async def _open_runtime(run_dir: Path, meta: dict[str, Any], llm: Any, mind_settings: Any) -> Any:
    """The minds' runtime (``agents.MindRuntime``, the public API only) for the run described by ``meta``."""
    import agents

    try:
        return await agents.MindRuntime.open(
            run_dir,
            seed=int(meta["seed"]),
            prompts_dir=Path(meta["prompts_dir"]) if meta.get("prompts_dir") else None,
            llm=llm,
            memory_url=meta.get("memory_url"),
            settings=mind_settings,
        )
    except (agents.SettingsError, agents.PromptError) as exc:
        raise UserError(str(exc)) from exc


def _read_meta(run_dir: Path, prompts_dir: Path | None) -> dict[str, Any]:
    """run.json, with the templates the user named now: a recorded prompts folder is never followed silently."""
    try:
        meta = ckpt.read_json(run_dir / ckpt.RUN_FILE)
    except ckpt.RunFolderError as exc:
        raise UserError(str(exc)) from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("seed"), int):
        raise UserError(f"{run_dir / ckpt.RUN_FILE}: damaged (needs a whole-number 'seed')")
    recorded = meta.get("prompts_dir")
    if prompts_dir is None and recorded:
        log.warning("%s was run with templates from %s; using the default templates (pass --prompts %s to use them)",
                    run_dir, recorded, recorded)
    meta["prompts_dir"] = str(prompts_dir) if prompts_dir is not None else None
    if "***" in str(meta.get("memory_url") or ""):
        raise UserError(f"{run_dir / ckpt.RUN_FILE}: the memory server URL held a credential, which is not stored")
    return meta


def _load_state(run_dir: Path, town_map: Any) -> dict[str, Any]:
    """The latest usable checkpoint (falling back to the previous one with a warning), or a one-line UserError."""
    try:
        return ckpt.load_checkpoint(run_dir, check=lambda st: World.from_state(town_map, st["world"]))
    except ckpt.RunFolderError as exc:
        raise UserError(str(exc)) from exc


def _load_scenario(ref: str | Path, base_dir: str | None = None) -> Scenario:
    try:
        return load_scenario(ref, base_dir=base_dir)
    except (ScenarioError, MapError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from exc


def _run_scenario(run_dir: Path, meta: dict[str, Any]) -> Scenario:
    """A run folder's copy of its scenario, its map resolved against the original scenario's folder."""
    base = meta.get("scenario_dir")
    if base is None:  # a run made before the folder was recorded
        base = str(_load_scenario(meta["scenario"]).path.parent) if meta.get("scenario") else None
    return _load_scenario(run_dir / "scenario.yaml", base)


def ticks_for_hours(hours: float, seconds_per_tick: int) -> int:
    return max(1, round(hours * 3600 / seconds_per_tick))


async def run_session(session: Session, ticks: int, on_tick: Callable[[Session], None] | None = None) -> dict[str, Any]:
    try:
        for _ in range(ticks):
            await session.step()
            if on_tick is not None:
                on_tick(session)
    finally:
        summary = await session.close()
    return summary
