"""`python -m town ...` / `town ...`: run, resume, fork, replay, talk to the town, prompts, bench, report, doctor."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from town.app.cli_options import (BaseUrlOpt, HeadlessOpt, ModelOpt, ModelSize, PromptsOpt, RunDir, SetOpt, VerboseOpt,
                                  _apply_llm_options, _check_own_model, _fail, _has_display, _prepare_embedded_model,
                                  _setup_logging, _stopped, app, console)


@app.command()
def run(
    scenario: Annotated[str, typer.Option(help="scenario name in maps/scenarios or a YAML path")] = "valentines",
    hours: Annotated[float, typer.Option(help="game hours to simulate")] = 1.0,
    seed: Annotated[int, typer.Option(help="same seed + same cached LLM answers = same run")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="run folder (default runs/<scenario>-<seed>-<time>)")] = None,
    headless: HeadlessOpt = False,
    prompts: PromptsOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    set_: SetOpt = None,
    memory_url: Annotated[
        Optional[str], typer.Option(help="Chroma server, e.g. http://127.0.0.1:8000 (default: embedded, in the run folder)")
    ] = None,
    screenshot: Annotated[Optional[Path], typer.Option(help="save a PNG of the window at the end and exit")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run the town: live in a pygame window, or --headless with a progress bar and logs."""
    from town.app import runs as town_app
    from town.app import preflight

    if not headless and screenshot is None and not _has_display():
        console.print("[yellow]No display found: running headless (pass --headless to silence this).[/]")
        headless = True
    if screenshot is not None:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    _apply_llm_options(model, base_url)
    run_dir = out or town_app.default_run_dir(scenario, seed)
    cfg = town_app.RunConfig(
        scenario=scenario, hours=hours, seed=seed, run_dir=run_dir, prompts_dir=prompts, memory_url=memory_url
    )
    try:
        preflight.check_run(cfg)  # every input checked before logging creates the run folder
        _check_own_model()
        _setup_logging(verbose, run_dir)
        _prepare_embedded_model()
        town_app.run(cfg, headless=headless, screenshot=screenshot, verbose=verbose)
    except town_app.UserError as exc:
        _fail(str(exc))
    except town_app.RunStopped as exc:
        _stopped(str(exc))


@app.command()
def resume(
    run_dir: RunDir,
    hours: Annotated[float, typer.Option(help="further game hours to simulate")] = 1.0,
    headless: HeadlessOpt = False,
    fork: Annotated[Optional[Path], typer.Option(help="continue in a copy of the run at this path")] = None,
    seed: Annotated[Optional[int], typer.Option(help="new seed for a fork (default: the run's)")] = None,
    prompts: PromptsOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    set_: SetOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Resume a run (also one killed with SIGKILL: at most one tick is lost), or --fork it first."""
    from town.app import runs as town_app
    from town.app import preflight

    if not headless and not _has_display():
        console.print("[yellow]No display found: running headless.[/]")
        headless = True
    _apply_llm_options(model, base_url)
    try:
        preflight.check_resume(run_dir, hours, prompts)
        _check_own_model()
        if fork is not None:
            town_app.fork_run(run_dir, fork)
            run_dir = fork
        _setup_logging(verbose, run_dir)
        _prepare_embedded_model()
        town_app.resume(run_dir, hours=hours, headless=headless, prompts_dir=prompts, seed=seed, verbose=verbose)
    except town_app.UserError as exc:
        _fail(str(exc))
    except town_app.RunStopped as exc:
        _stopped(str(exc))


@app.command()
def fork(run_dir: RunDir, new_dir: Annotated[Path, typer.Argument(help="where the copy goes")]) -> None:
    """Copy a run at its last checkpoint into a new folder (then `town resume NEW`)."""
    from town.app import runs as town_app

    try:
        town_app.fork_run(run_dir, new_dir)
    except town_app.UserError as exc:
        _fail(str(exc))
    console.print(f"forked {run_dir} -> {new_dir}")


@app.command()
def replay(
    run_dir: RunDir,
    screenshot: Annotated[Optional[Path], typer.Option(help="save a PNG at --at and exit")] = None,
    at: Annotated[Optional[int], typer.Option(help="tick to show with --screenshot (default: last)")] = None,
) -> None:
    """Play a finished run from its event log, seekable (arrows, Home/End, timeline)."""
    events = run_dir / "events.jsonl"
    if not events.exists():
        _fail(f"{events} not found: is {run_dir} a run folder?")
    if screenshot is not None:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    elif not _has_display():
        _fail("replay needs a display; use --screenshot PATH for a headless picture")
    from town.viewer.replay import run_replay
    from town.world.events import EventLogError

    try:
        run_replay(run_dir, screenshot=screenshot, at_tick=at)
    except EventLogError as exc:  # a log of another schema or a damaged line
        _fail(str(exc))


@app.command()
def interview(
    run_dir: RunDir,
    agent: Annotated[str, typer.Argument(help="e.g. 'Isabella Rodriguez'")],
    question: Annotated[Optional[str], typer.Argument(help="ask once; omit for an interactive session")] = None,
    prompts: PromptsOpt = None,
) -> None:
    """Ask an agent questions in character, answered from her memories (nothing is stored)."""
    from town.app import runs as town_app

    try:
        town_app.interview(
            run_dir, agent, question, ask=lambda: console.input("[bold]you> [/]"), say=print, prompts_dir=prompts
        )
    except town_app.UserError as exc:
        _fail(str(exc))


@app.command()
def interviews(
    run_dir: RunDir,
    questions: Annotated[Optional[Path], typer.Option(help="YAML of questions per category")] = None,
    out: Annotated[Optional[Path], typer.Option(help="answers file (default RUN/interviews.jsonl)")] = None,
    prompts: PromptsOpt = None,
) -> None:
    """Run the interview harness (Smallville's five categories) over every agent; answers saved for rating."""
    from town.app import runs as town_app

    try:
        path = town_app.run_interview_harness(run_dir, questions, out, prompts_dir=prompts)
    except town_app.UserError as exc:
        _fail(str(exc))
    console.print(f"answers saved to {path}")


@app.command()
def whisper(
    run_dir: RunDir,
    agent: Annotated[str, typer.Argument(help="e.g. 'Klaus Mueller'")],
    text: Annotated[str, typer.Argument(help="an inner thought, e.g. 'You want to run for mayor'")],
) -> None:
    """Add an inner thought to an agent's memory, before or during a run (picked up at the next tick)."""
    from town.app import runs as town_app

    try:
        town_app.post_to_inbox(run_dir, {"type": "whisper", "agent": agent, "text": text})
    except town_app.UserError as exc:
        _fail(str(exc))
    console.print(f"whisper queued for {agent}")


@app.command()
def inject(
    run_dir: RunDir,
    description: Annotated[str, typer.Argument(help="e.g. \"the cafe's stove is on fire\"")],
    at: Annotated[str, typer.Option(help="address where it happens, e.g. 'Hobbs Cafe:cafe'")] = "",
    minutes: Annotated[int, typer.Option(help="how long the event lasts (game minutes)")] = 60,
) -> None:
    """Inject a world event that nearby agents perceive, before or during a run."""
    from town.app import runs as town_app

    try:
        town_app.post_to_inbox(run_dir, {"type": "inject", "description": description, "address": at, "minutes": minutes})
    except town_app.UserError as exc:
        _fail(str(exc))
    console.print("event queued")


@app.command()
def report(
    run_dir: RunDir,
    out: Annotated[Optional[Path], typer.Option(help="report file (default RUN/report.html)")] = None,
    fmt: Annotated[Literal["html", "md"], typer.Option("--format", help="report format")] = "html",
) -> None:
    """Write an HTML or Markdown report with plots: who talked to whom, diffusion, calls and tokens."""
    from town.app.console import status
    from town.app.report import build_report

    try:
        with status(f"writing the report of {run_dir} (plots take a few seconds)"):
            path = build_report(run_dir, out, fmt=fmt)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"report written to {path}")


from town.app import cli_tools  # noqa: E402  registers prompts, check, bench, eval, model, doctor on `app`

__all__ = ["ModelSize", "_setup_logging", "app", "cli_tools", "main"]


def main() -> None:
    """The ``town`` command. A usage error (a misspelt option, ``--hours abc``) is one line too, like every other
    rejected input: typer's public ``TyperException`` is caught here instead of drawing an 8-line box."""
    from rich.markup import escape
    from typer.exceptions import TyperException

    try:
        rc = app(standalone_mode=False)
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and hasattr(exc, "show"):
            exc.show()  # bare `town` or `town prompts`: the help, as before
            raise SystemExit(2) from None
        if not hasattr(exc, "format_message"):
            raise
        ctx = getattr(exc, "ctx", None)
        where = f" (`{ctx.command_path} --help` lists the options)" if ctx is not None else ""
        console.print(f"[bold red]error:[/] {escape(exc.format_message())}{where}", soft_wrap=True, highlight=False)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    raise SystemExit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()

