"""`python -m town ...` / `town ...`: run, resume, fork, replay, talk to the town, prompts, bench, report, doctor."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from town.app.console import err_console as console

# no locals in crash tracebacks: they would print settings, API keys included
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_show_locals=False)
prompts_app = typer.Typer(no_args_is_help=True, help="List, show and check prompt templates.")
app.add_typer(prompts_app, name="prompts")

RunDir = Annotated[Path, typer.Argument(help="a run folder, e.g. runs/demo")]
PromptsOpt = Annotated[
    Optional[Path], typer.Option("--prompts", help="folder of templates that replace the defaults by name")
]
#: the embedded models the CLI offers, checked here alone (run, resume, doctor, model); the same names as
#: agents.llm.model_files.MODEL_SPECS (a test keeps them equal), not imported from there so that --help stays fast
ModelSize = Literal["1.5b", "0.5b"]


def _model_option(value: str | None) -> str | None:
    """The one check of ``--model``: one of ModelSize, or the path of an existing ``.gguf`` file (which
    :func:`_check_own_model` later starts once to see that it loads)."""
    from typing import get_args

    if value is None or value in get_args(ModelSize):
        return value
    path = Path(value).expanduser()
    if path.suffix.lower() != ".gguf" or not path.is_file():
        choices = ", ".join(repr(c) for c in get_args(ModelSize))
        _fail(f"--model: {value!r} is not one of {choices}, nor the path of an existing .gguf file")
    return str(path.resolve())


ModelOpt = Annotated[
    Optional[str],
    typer.Option("--model", metavar="<1.5b|0.5b|FILE.gguf>", callback=_model_option,
                 help="embedded model, used when no endpoint is configured: a size, or your own GGUF file"),
]
BaseUrlOpt = Annotated[
    Optional[list[str]], typer.Option("--base-url", metavar="URL", help="OpenAI-compatible endpoint(s); repeat for a pool")
]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="INFO logs, and every counter in the summary")]
HeadlessOpt = Annotated[bool, typer.Option("--headless", help="no window: a progress bar and logs")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"town {version('town')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            print("town (not installed)")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """A small town of LLM-driven generative agents."""


def _fail(msg: str) -> None:
    from rich.markup import escape

    from agents import redact

    msg = " ".join(part.strip() for part in redact(str(msg)).splitlines() if part.strip())  # one line, always
    console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _stopped(msg: str) -> None:
    """A run stopped early but resumable (exit 3: not bad input, not a crash)."""
    console.print(f"[bold red]stopped:[/] {msg}", soft_wrap=True)
    raise typer.Exit(3)


def _setup_logging(verbose: bool, run_dir: Path | None = None) -> None:
    """Console (rich) and ``RUN/town.log`` handlers; both mask credentials, tracebacks included."""
    from agents import RedactingFilter, RedactingFormatter

    handlers: list[logging.Handler] = []
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(run_dir / "town.log", encoding="utf-8")
        fh.setFormatter(RedactingFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")))
        handlers.append(fh)
    from town.app.console import console_log_handler

    handler = console_log_handler(verbose)
    handler.setFormatter(RedactingFormatter(logging.Formatter("%(message)s")))  # no second level prefix
    handlers.append(handler)
    for h in handlers:
        h.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    for noisy in ("httpx", "httpx2", "httpcore", "chromadb", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _has_display() -> bool:
    from town.app.doctor import has_display

    return has_display()


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


@app.command()
def bench(
    which: Annotated[str, typer.Argument(help="engine | retrieval | calls | concurrency | frames | all")] = "all",
    quick: Annotated[bool, typer.Option(help="smaller sizes, for a smoke run")] = False,
    out: Annotated[Optional[Path], typer.Option(help="also write the figures as JSON here")] = None,
    run: Annotated[
        Optional[Path], typer.Option(help="for `calls`: a finished run to count (default: a fresh scripted run)")
    ] = None,
) -> None:
    """Print speed and cost figures (no timed tests: targets live here)."""
    from town.app import bench as town_bench

    if run is not None and not (run / "events.jsonl").exists():
        _fail(f"{run / 'events.jsonl'} not found: --run takes a run folder")
    try:
        town_bench.main(which, quick=quick, out=out, run=run)
    except ValueError as exc:
        _fail(str(exc))


@app.command("eval")
def eval_cmd(
    scenario: Annotated[str, typer.Argument(help="scenario name in maps/scenarios or a YAML path")],
    seeds: Annotated[int, typer.Option(min=1, help="number of seeds (runs per arm)")] = 5,
    hours: Annotated[float, typer.Option(min=0.01, help="game hours per run")] = 6.0,
    out: Annotated[Optional[Path], typer.Option(help="eval folder (rerun it to continue an interrupted eval)")] = None,
    prompts: PromptsOpt = None,
    compare: Annotated[Optional[Path], typer.Option(help="template folder of arm B: an A/B on the same seeds")] = None,
    compare_settings: Annotated[Optional[Path], typer.Option(help="a town.toml whose \\[mind] table is arm B")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="runs stepped at once (the endpoints' limit still holds)")] = 2,
    ablation_questions: Annotated[int, typer.Option(min=0, help="believability questions per agent (0: none)")] = 10,
    ablation_runs: Annotated[int, typer.Option(min=0, help="runs (first seeds of arm A) put through the ablations")] = 1,
    questions: Annotated[Optional[Path], typer.Option(help="interview question file (default: Smallville's)")] = None,
    judge_base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible endpoint of the judge")] = None,
    judge_model: Annotated[Optional[str], typer.Option(help="judge model name at --judge-base-url")] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Seeds x hours per arm, metrics with 95% CIs, A/B verdicts, believability ablations; eval.json + reports."""
    from town.app import runs as town_app
    from town.app.eval import evaluate
    from town.app.eval.runner import Arm, EvalSpec

    if compare is not None and compare_settings is not None:
        _fail("give --compare or --compare-settings, not both")
    _apply_llm_options(model, base_url)
    _check_own_model()
    arms = {"A": Arm(prompts=str(prompts) if prompts else None)}
    if compare is not None or compare_settings is not None:
        arms["B"] = Arm(prompts=str(compare) if compare else arms["A"].prompts,
                        settings=str(compare_settings) if compare_settings else None)
    spec = EvalSpec(scenario=scenario, seeds=list(range(seeds)), hours=hours, arms=arms,
                    ablation_questions=ablation_questions, ablation_runs=ablation_runs,
                    questions=str(questions) if questions else None)
    out = out or Path("runs") / f"eval-{Path(scenario).stem}-{seeds}x{hours:g}h"
    _setup_logging(verbose)
    try:
        result = evaluate(spec, out, concurrency=concurrency, judge_base_url=judge_base_url, judge_model=judge_model)
    except town_app.UserError as exc:  # checked before anything is written
        _fail(str(exc))
    from town.app.eval.report import summary_lines

    for line in summary_lines(result):
        print(line)
    console.print(f"eval written to {out}/eval.json, {out}/eval.html, {out}/eval.md")


@app.command("model")
def model_cmd(
    size: Annotated[ModelSize, typer.Argument(help="which embedded model")] = "1.5b",
) -> None:
    """Join and verify the embedded model's files now (otherwise done on first run)."""
    from town.app.console import model_join_progress

    try:
        path = model_join_progress(size)
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"model ready: {path}")


@prompts_app.command("list")
def prompts_list(prompts: PromptsOpt = None) -> None:
    """Templates by name, with their source file and output schema."""
    from agents import PromptError, list_prompts

    try:
        rows = list_prompts(prompts)
    except PromptError as exc:
        _fail(str(exc))
    print(f"{'NAME':28} {'OUTPUT SCHEMA':22} FILE")
    for name, path, schema, overridden in rows:
        mark = " (override)" if overridden else ""
        print(f"{name:28} {schema:22} {path}{mark}")


@prompts_app.command("show")
def prompts_show(
    name: Annotated[str, typer.Argument(help="template name, e.g. plan_daily (see `town prompts list`)")],
    prompts: PromptsOpt = None,
) -> None:
    """Print one template's source."""
    from agents import PromptError, show_prompt

    try:
        print(show_prompt(name, prompts))
    except (PromptError, KeyError) as exc:
        _fail(str(exc))


@prompts_app.command("check")
def prompts_check(prompts: PromptsOpt = None) -> None:
    """Load every template (and overrides) and report problems with file and line."""
    from agents import check_prompts

    problems = check_prompts(prompts)
    for p in problems:
        console.print(p, style="red", markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(2)
    console.print("all templates OK")


@app.command("check")
def check(
    scenario: Annotated[str, typer.Argument(help="scenario name in maps/scenarios or a YAML path")],
    prompts: PromptsOpt = None,
) -> None:
    """Validate a scenario, its map and the prompt templates without running anything (exit 2 on a problem)."""
    from town.app.check import check_town

    problems, summary = check_town(scenario, prompts)
    for p in problems:
        typer.echo(p, err=True)
    if problems:
        raise typer.Exit(2)
    typer.echo(summary)


def _apply_llm_options(model: str | None, base_urls: list[str] | None) -> None:
    """CLI flags win over environment and config file (pydantic-settings reads these); ``--model`` was
    checked by :func:`_model_option`."""
    if model is not None:
        os.environ["TOWN_EMBEDDED_MODEL"] = model
    if base_urls:
        os.environ["OPENAI_BASE_URL"] = ",".join(base_urls)


def _check_own_model() -> None:
    """With ``embedded_model`` a user's GGUF file, start it once (before the run folder exists): a file that does
    not load is one line and exit 2, not a traceback after the run has begun."""
    from agents import SettingsError, agent_settings, check_loads

    try:
        settings = agent_settings()
        if settings.embedded and settings.embedded_file is not None:
            check_loads(settings.embedded_file, threads=settings.embedded_threads)
    except (SettingsError, RuntimeError) as exc:
        _fail(str(exc))


def _prepare_embedded_model() -> None:
    """With no endpoint configured, join and verify the model before the run opens, with a progress bar."""
    from agents import ModelFilesError
    from agents import SettingsError, agent_settings
    from town.app.console import model_join_progress

    try:
        settings = agent_settings()
        if settings.embedded and settings.embedded_file is None:  # a user's own file needs no joining
            model_join_progress(settings.embedded_model)
    except (SettingsError, ModelFilesError) as exc:
        _fail(str(exc))


@app.command()
def doctor(
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    rehash: Annotated[
        bool, typer.Option("--rehash", help="hash the model file again instead of trusting its marker")
    ] = False,
) -> None:
    """Check the setup: a pass/fail line each, and what to do about a failure. Exit 1 when a check fails."""
    from town.app.doctor import print_report, run_checks

    flags = {k for k, v in (("embedded_model", model), ("base_urls", base_url)) if v}
    _apply_llm_options(model, base_url)
    checks = run_checks(flags=flags, rehash=rehash)
    raise typer.Exit(print_report(checks))


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

