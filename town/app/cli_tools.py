"""The tool commands: prompts, check, bench, eval, eval-compare, model, doctor (run commands: ``town.app.cli``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from town.app.cli_options import (BaseUrlOpt, ModelOpt, ModelSize, PromptsOpt, VerboseOpt, _apply_llm_options,
                                  _check_own_model, _fail, _setup_logging, app, console)

prompts_app = typer.Typer(no_args_is_help=True, help="List, show and check prompt templates.")
app.add_typer(prompts_app, name="prompts")


@app.command()
def bench(
    which: Annotated[str, typer.Argument(help="engine | retrieval | calls | concurrency | frames | server | all (all: every one but server)")] = "all",
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
    first_seed: Annotated[int, typer.Option(
        min=0, help="the seeds are FIRST_SEED, FIRST_SEED+1, ...: another sample of runs to check a verdict on")] = 0,
    hours: Annotated[float, typer.Option(min=0.01, help="game hours per run")] = 6.0,
    out: Annotated[Optional[Path], typer.Option(help="eval folder (rerun it to continue an interrupted eval)")] = None,
    prompts: PromptsOpt = None,
    settings: Annotated[Optional[Path], typer.Option(
        help="a town.toml whose \\[mind] table (and \\[llm] small_* keys, \\[engine] table) is arm A (and B's, without --compare-settings)")] = None,
    compare: Annotated[Optional[Path], typer.Option(help="template folder of arm B: an A/B on the same seeds")] = None,
    compare_settings: Annotated[Optional[Path], typer.Option(
        help="a town.toml whose \\[mind] table (and \\[llm] small_* keys, \\[engine] table) is arm B")] = None,
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
    from town.app.eval.spec import code_version

    if compare is not None and compare_settings is not None:
        _fail("give --compare or --compare-settings, not both")
    _apply_llm_options(model, base_url)
    _check_own_model()
    arms = {"A": Arm(prompts=str(prompts) if prompts else None, settings=str(settings) if settings else None)}
    if compare is not None or compare_settings is not None:  # B differs from A only in what is given for it
        arms["B"] = Arm(prompts=str(compare) if compare else arms["A"].prompts,
                        settings=str(compare_settings) if compare_settings else arms["A"].settings)
    spec = EvalSpec(scenario=scenario, seeds=list(range(first_seed, first_seed + seeds)), hours=hours, arms=arms,
                    ablation_questions=ablation_questions, ablation_runs=ablation_runs,
                    questions=str(questions) if questions else None, code=code_version())
    from_seed = f"-from{first_seed}" if first_seed else ""
    out = out or Path("runs") / f"eval-{Path(scenario).stem}-{seeds}x{hours:g}h{from_seed}"
    _setup_logging(verbose)
    try:
        result = evaluate(spec, out, concurrency=concurrency, judge_base_url=judge_base_url, judge_model=judge_model)
    except town_app.UserError as exc:  # checked before anything is written
        _fail(str(exc))
    from town.app.eval.report import summary_lines

    for line in summary_lines(result):
        print(line)
    console.print(f"eval written to {out}/eval.json, {out}/eval.html, {out}/eval.md")


@app.command("eval-compare")
def eval_compare_cmd(
    before: Annotated[Path, typer.Argument(help="eval folder made before the change")],
    after: Annotated[Path, typer.Argument(help="eval folder made after it: same scenario, hours and seeds")],
    arm: Annotated[str, typer.Option(help="which arm of each eval to compare")] = "A",
    fmt: Annotated[Literal["md", "html"], typer.Option("--format", help="report format")] = "md",
    out: Annotated[Optional[Path], typer.Option(help="report file (default: AFTER/compare-<BEFORE name>.md|html)")] = None,
    also: Annotated[Optional[list[Path]], typer.Option(
        help="another eval of the unchanged code (an A/A), same seeds; lists the verdicts that hold against every "
             "baseline (repeatable)")] = None,
) -> None:
    """Two `town eval` folders before and after a code change: each metric's means and the paired difference."""
    from rich.console import Console

    from town.app import runs as town_app
    from town.app.eval import before_after

    try:
        result = before_after.compare(before, after, arm)
        if also:
            result = before_after.add_baselines(result, [before_after.compare(b, after, arm) for b in also])
        path = before_after.render(result, out or before_after.default_report(before, after, fmt), fmt)
    except town_app.UserError as exc:  # both folders are checked before the report is written
        _fail(str(exc))
    stdout = Console() if sys.stdout.isatty() else Console(width=160)
    stdout.print(before_after.table(result))
    for line in before_after.summary_lines(result):
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"comparison written to {path}")


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
