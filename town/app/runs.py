"""The run entry points: a fresh run, a resume, a fork, a message to a run's inbox, interviews.

Each opens a :class:`town.app.session.Session`, drives it headless or in the live window, and turns
LLM trouble into a one-line ``UserError`` or a resumable ``RunStopped``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from town.app import checkpoint as ckpt
from town.app import inbox
from town.app.session import (RunConfig, RunStopped, Session, UserError, _llm_problems_as_messages, _run_scenario,
                              default_run_dir, run_session, ticks_for_hours)
from town.world.maps import MapError

__all__ = ["RunConfig", "RunStopped", "UserError", "default_run_dir", "fork_run", "interview", "post_to_inbox",
           "resume", "run", "run_interview_harness"]  # the CLI's view of a run

log = logging.getLogger("town.app.runs")


def _headless(session_factory: Callable[[], Any], hours: float, verbose: bool = False) -> dict[str, Any]:
    from town.app import console as tc

    async def main() -> dict[str, Any]:
        with tc.status("opening the town: minds, memories and the model"):
            session: Session = await session_factory()
        ticks = ticks_for_hours(hours, session.world.clock.seconds_per_tick)
        work = tc.ModelWork(session.runtime.llm.accounting)
        with tc.tick_progress() as progress:
            task = progress.add_task(session.scenario.name, total=ticks, clock=f"{session.world.now():%a %H:%M}", work="")
            # the first tick plans the day (a minute or more on a small CPU): show the model work as it goes
            watcher = asyncio.ensure_future(tc.watch_model_work(progress, task, work))

            def on_tick(s: Session) -> None:
                work.mark()
                progress.update(task, advance=1, clock=f"{s.world.now():%a %H:%M}", work="")

            try:
                return await run_session(session, ticks, on_tick)
            finally:
                watcher.cancel()

    summary = asyncio.run(main())
    print_summary(summary, verbose=verbose)
    return summary


def _live(session_factory: Callable[[], Any], hours: float, screenshot: Path | None, verbose: bool = False) -> None:
    """The window on the main thread; the session opens and steps in the viewer's simulation thread."""
    from town.viewer.live import LiveSim, run_live_from

    summaries: list[dict[str, Any]] = []

    async def open_sim() -> LiveSim:
        s: Session = await session_factory()

        async def close() -> None:
            summaries.append(await s.close())

        return LiveSim(
            town_map=s.world.map,
            log=s.log,
            step=s.step,
            ticks=ticks_for_hours(hours, s.world.clock.seconds_per_tick),
            close=close,
            post=lambda m: _post_from_viewer(s, m),
        )

    run_live_from(open_sim, screenshot=screenshot)
    if summaries:
        print_summary(summaries[0], verbose=verbose)


def _post_from_viewer(s: Session, message: dict[str, Any]) -> Path | None:
    """The window's whisper/inject: the same checks as ``town whisper``; a bad one is logged, not queued."""
    try:
        msg = inbox.check_message(message, set(s.minds), lambda a: s.world.map.kind_of(a) is not None)
    except inbox.InboxError as exc:
        log.error("not sent: %s", exc)
        return None
    return inbox.post(s.run_dir, msg)


def run(cfg: RunConfig, *, headless: bool, screenshot: Path | None = None, verbose: bool = False) -> None:
    """A fresh run; check its inputs first with :func:`town.app.preflight.check_run` (before logging makes the folder)."""
    if ckpt.has_checkpoint(cfg.run_dir):
        raise UserError(f"{cfg.run_dir} already holds a run: `town resume {cfg.run_dir}`")
    factory = lambda: Session.open(cfg.run_dir, resume=False, cfg=cfg)  # noqa: E731
    with _llm_problems_as_messages(cfg.run_dir):
        if headless:
            _headless(factory, cfg.hours, verbose)
        else:
            _live(factory, cfg.hours, screenshot, verbose)


def resume(run_dir: Path, *, hours: float, headless: bool, prompts_dir: Path | None = None, seed: int | None = None,
           verbose: bool = False) -> None:
    if not ckpt.has_checkpoint(run_dir):
        raise UserError(f"{run_dir / ckpt.CHECKPOINT} not found: nothing to resume")
    factory = lambda: Session.open(run_dir, resume=True, seed=seed, prompts_dir=prompts_dir)  # noqa: E731
    try:
        with _llm_problems_as_messages(run_dir):
            if headless:
                _headless(factory, hours, verbose)
            else:
                _live(factory, hours, None, verbose)
    except ckpt.RunFolderError as exc:
        raise UserError(str(exc)) from exc


def fork_run(src: Path, dst: Path) -> None:
    try:
        ckpt.fork_run(src, dst)
    except ckpt.RunFolderError as exc:
        raise UserError(str(exc)) from exc


def post_to_inbox(run_dir: Path, message: dict[str, Any]) -> Path:
    """Queue a whisper/inject for a run that is running now or will be resumed/started."""
    meta_path = run_dir / ckpt.RUN_FILE
    if not meta_path.exists():
        raise UserError(f"{meta_path} not found: start the run first (`town run --out {run_dir}`)")
    try:
        agents_ = ckpt.read_json(meta_path).get("agents", [])
        town_map = _run_scenario(run_dir, ckpt.read_json(meta_path)).load_map()
    except (ckpt.RunFolderError, MapError, AttributeError) as exc:
        raise UserError(f"{run_dir} is not a readable run folder: {exc}") from exc
    try:
        msg = inbox.check_message(message, agents_, lambda a: town_map.kind_of(a) is not None)
    except inbox.InboxError as exc:
        if message.get("type") == "inject" and "no place" in str(exc):
            exc = inbox.InboxError(f"{exc} {town_map.path.name}; e.g. {', '.join(sorted(town_map.arenas)[:12])}")
        raise UserError(str(exc)) from exc
    return inbox.post(run_dir, msg)


async def _open_minds_for_questions(run_dir: Path, prompts_dir: Path | None = None) -> Session:
    if not ckpt.has_checkpoint(run_dir):
        raise UserError(f"{run_dir / ckpt.CHECKPOINT} not found: is {run_dir} a run folder?")
    return await Session.open(run_dir, resume=True, read_only=True, prompts_dir=prompts_dir)


def interview(run_dir: Path, agent: str, question: str | None, *, ask: Callable[[], str], say: Callable[[str], None],
              prompts_dir: Path | None = None) -> None:
    """Ask ``agent`` questions in character; nothing is stored and the run is not advanced."""

    async def main() -> None:
        session = await _open_minds_for_questions(run_dir, prompts_dir)
        try:
            if agent not in session.minds:
                raise UserError(f"no agent {agent!r} in {run_dir}; agents: {', '.join(sorted(session.minds))}")
            mind = session.minds[agent]
            if question is not None:
                say(await mind.answer(question))
                return
            say(f"Interviewing {agent} (empty line or Ctrl-D to stop).")
            while True:
                try:
                    q = ask().strip()
                except EOFError:
                    break
                if not q:
                    break
                say(f"{agent}: {await mind.answer(q)}")
        finally:
            await session.runtime.aclose()

    with _llm_problems_as_messages(run_dir, resumable=False):
        asyncio.run(main())


def run_interview_harness(run_dir: Path, questions: Path | None, out: Path | None,
                          prompts_dir: Path | None = None) -> Path:
    from town.app.interviews import default_questions_path, run_interviews

    async def main() -> Path:
        session = await _open_minds_for_questions(run_dir, prompts_dir)
        try:
            path = out or run_dir / "interviews.jsonl"
            await run_interviews(session.minds, questions or default_questions_path(), path)
            return path
        finally:
            await session.runtime.aclose()

    with _llm_problems_as_messages(run_dir, resumable=False):
        return asyncio.run(main())


def print_summary(summary: dict[str, Any], *, verbose: bool = False) -> None:
    """The town, then the cost; every counter stays in ``summary.json`` (and on the console with ``verbose``)."""
    from town.app.console import print_run_summary

    print_run_summary(summary, verbose=verbose)
