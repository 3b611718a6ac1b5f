"""`python -m town ...` / `town ...`: run, resume, fork, replay, talk to the town, prompts, bench, report."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

# no locals in crash tracebacks: they would print settings, API keys included
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_show_locals=False)
prompts_app = typer.Typer(no_args_is_help=True, help="List, show and check prompt templates.")
app.add_typer(prompts_app, name="prompts")
console = Console(stderr=True)

RunDir = Annotated[Path, typer.Argument(help="a run folder, e.g. runs/demo")]
PromptsOpt = Annotated[
    Optional[Path], typer.Option("--prompts", help="folder of templates that replace the defaults by name")
]


def _fail(msg: str) -> None:
    from rich.markup import escape

    from agents.llm.redact import redact

    msg = " ".join(part.strip() for part in redact(str(msg)).splitlines() if part.strip())  # one line, always
    console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _setup_logging(verbose: bool, run_dir: Path | None = None) -> None:
    """Console (rich) and ``RUN/town.log`` handlers; both mask credentials, tracebacks included."""
    from agents.llm.redact import RedactingFilter, RedactingFormatter

    handlers: list[logging.Handler] = []
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(run_dir / "town.log", encoding="utf-8")
        fh.setFormatter(RedactingFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")))
        handlers.append(fh)
    from rich.logging import RichHandler

    rich_handler = RichHandler(console=console, level=logging.INFO if verbose else logging.WARNING, show_path=False)
    rich_handler.setFormatter(RedactingFormatter(logging.Formatter("%(message)s")))  # no second level prefix
    handlers.append(rich_handler)
    for h in handlers:
        h.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    for noisy in ("httpx", "httpx2", "httpcore", "chromadb", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _has_display() -> bool:
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return True  # explicit off-screen rendering (screenshots)
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")


@app.command()
def run(
    scenario: Annotated[str, typer.Option(help="scenario name in maps/scenarios or a YAML path")] = "valentines",
    hours: Annotated[float, typer.Option(help="game hours to simulate")] = 1.0,
    seed: Annotated[int, typer.Option(help="same seed + same cached LLM answers = same run")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="run folder (default runs/<scenario>-<seed>-<time>)")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="no window: log only")] = False,
    prompts: PromptsOpt = None,
    model: Annotated[
        Optional[str], typer.Option(help="embedded model when no endpoint is configured: 1.5b or 0.5b")
    ] = None,
    base_url: Annotated[
        Optional[list[str]], typer.Option("--base-url", help="OpenAI-compatible endpoint(s); repeat for a pool")
    ] = None,
    memory_url: Annotated[
        Optional[str], typer.Option(help="Chroma server, e.g. http://127.0.0.1:8000 (default: embedded, in the run folder)")
    ] = None,
    screenshot: Annotated[Optional[Path], typer.Option(help="save a PNG of the window at the end and exit")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Run the town: live in a pygame window, or --headless with a progress bar and logs."""
    from town import app as town_app
    from town import preflight

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
        _setup_logging(verbose, run_dir)
        town_app.run(cfg, headless=headless, screenshot=screenshot)
    except town_app.UserError as exc:
        _fail(str(exc))


@app.command()
def resume(
    run_dir: RunDir,
    hours: Annotated[float, typer.Option(help="further game hours to simulate")] = 1.0,
    headless: Annotated[bool, typer.Option("--headless")] = False,
    fork: Annotated[Optional[Path], typer.Option(help="continue in a copy of the run at this path")] = None,
    seed: Annotated[Optional[int], typer.Option(help="new seed for a fork (default: the run's)")] = None,
    prompts: PromptsOpt = None,
    model: Annotated[Optional[str], typer.Option()] = None,
    base_url: Annotated[Optional[list[str]], typer.Option("--base-url")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Resume a run (also one killed with SIGKILL: at most one tick is lost), or --fork it first."""
    from town import app as town_app
    from town import preflight

    if not headless and not _has_display():
        console.print("[yellow]No display found: running headless.[/]")
        headless = True
    _apply_llm_options(model, base_url)
    try:
        preflight.check_resume(run_dir, hours, prompts)
        if fork is not None:
            town_app.fork_run(run_dir, fork)
            run_dir = fork
        _setup_logging(verbose, run_dir)
        town_app.resume(run_dir, hours=hours, headless=headless, prompts_dir=prompts, seed=seed)
    except town_app.UserError as exc:
        _fail(str(exc))


@app.command()
def fork(run_dir: RunDir, new_dir: Annotated[Path, typer.Argument(help="where the copy goes")]) -> None:
    """Copy a run at its last checkpoint into a new folder (then `town resume NEW`)."""
    from town import app as town_app

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

    run_replay(run_dir, screenshot=screenshot, at_tick=at)


@app.command()
def interview(
    run_dir: RunDir,
    agent: Annotated[str, typer.Argument(help="e.g. 'Isabella Rodriguez'")],
    question: Annotated[Optional[str], typer.Argument(help="ask once; omit for an interactive session")] = None,
    prompts: PromptsOpt = None,
) -> None:
    """Ask an agent questions in character, answered from her memories (nothing is stored)."""
    from town import app as town_app

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
    from town import app as town_app

    try:
        path = town_app.run_interview_harness(run_dir, questions, out, prompts_dir=prompts)
    except town_app.UserError as exc:
        _fail(str(exc))
    console.print(f"answers saved to {path}")


@app.command()
def whisper(
    run_dir: RunDir,
    agent: Annotated[str, typer.Argument()],
    text: Annotated[str, typer.Argument(help="an inner thought, e.g. 'You want to run for mayor'")],
) -> None:
    """Add an inner thought to an agent's memory, before or during a run (picked up at the next tick)."""
    from town import app as town_app

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
    from town import app as town_app

    try:
        town_app.post_to_inbox(run_dir, {"type": "inject", "description": description, "address": at, "minutes": minutes})
    except town_app.UserError as exc:
        _fail(str(exc))
    console.print("event queued")


@app.command()
def report(
    run_dir: RunDir,
    out: Annotated[Optional[Path], typer.Option(help="report file (default RUN/report.html)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html or md")] = "html",
) -> None:
    """Write an HTML or Markdown report with plots: who talked to whom, diffusion, calls and tokens."""
    from town.report import build_report

    if fmt not in ("html", "md"):
        _fail("--format must be html or md")
    try:
        path = build_report(run_dir, out, fmt=fmt)  # type: ignore[arg-type]
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"report written to {path}")


@app.command()
def bench(
    which: Annotated[str, typer.Argument(help="engine | retrieval | calls | concurrency | all")] = "all",
    quick: Annotated[bool, typer.Option(help="smaller sizes, for a smoke run")] = False,
    out: Annotated[Optional[Path], typer.Option(help="also write the figures as JSON here")] = None,
    run: Annotated[
        Optional[Path], typer.Option(help="for `calls`: a finished run to count (default: a fresh scripted run)")
    ] = None,
) -> None:
    """Print speed and cost figures (no timed tests: targets live here)."""
    from town import bench as town_bench

    if run is not None and not (run / "events.jsonl").exists():
        _fail(f"{run / 'events.jsonl'} not found: --run takes a run folder")
    try:
        town_bench.main(which, quick=quick, out=out, run=run)
    except ValueError as exc:
        _fail(str(exc))


@app.command("model")
def model_cmd(
    size: Annotated[str, typer.Argument(help="1.5b or 0.5b")] = "1.5b",
) -> None:
    """Join and verify the embedded model's files now (otherwise done on first run)."""
    from agents.llm.model_files import ensure_model

    try:
        path = ensure_model(size)  # type: ignore[arg-type]
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"model ready: {path}")


@prompts_app.command("list")
def prompts_list(prompts: PromptsOpt = None) -> None:
    """Templates by name, with their source file and output schema."""
    from agents.prompts import PromptError, list_prompts

    try:
        rows = list_prompts(prompts)
    except PromptError as exc:
        _fail(str(exc))
    for name, path, schema, overridden in rows:
        mark = " (override)" if overridden else ""
        print(f"{name:28} {schema:22} {path}{mark}")


@prompts_app.command("show")
def prompts_show(name: str, prompts: PromptsOpt = None) -> None:
    """Print one template's source."""
    from agents.prompts import PromptError, show_prompt

    try:
        print(show_prompt(name, prompts))
    except (PromptError, KeyError) as exc:
        _fail(str(exc))


@prompts_app.command("check")
def prompts_check(prompts: PromptsOpt = None) -> None:
    """Load every template (and overrides) and report problems with file and line."""
    from agents.prompts import check_prompts

    problems = check_prompts(prompts)
    for p in problems:
        console.print(p, style="red", markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(2)
    console.print("all templates OK")


def _apply_llm_options(model: str | None, base_urls: list[str] | None) -> None:
    """CLI flags win over environment and config file (pydantic-settings reads these)."""
    if model is not None:
        if model not in ("1.5b", "0.5b"):
            _fail("--model must be 1.5b or 0.5b")
        os.environ["TOWN_EMBEDDED_MODEL"] = model
    if base_urls:
        os.environ["OPENAI_BASE_URL"] = ",".join(base_urls)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

