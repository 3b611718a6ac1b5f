"""What a user reads on the console: the end-of-run summary of a short run over HTTP, the town's story,
log lines, progress, and the CLI's help, choices and version."""

from __future__ import annotations

import io
import json
import logging
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from agents.llm.base import Accounting, LLMCallRecord
from agents.testing import FakeOpenAIServer
from town.app.cli import app as cli
from town.app.console import ModelWork, console_log_handler, tick_progress, town_story
from town.world.events import EventLog

ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture
def server(monkeypatch):
    with FakeOpenAIServer() as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("TOWN_MODEL", "test-model")
        yield srv


def test_a_short_run_ends_with_the_town_then_the_cost_and_no_counter_dump(tmp_path, server, root_logging):
    run_dir = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", "--headless", "--hours", "0.05", "--seed", "3", "--out", str(run_dir)])
    assert res.exit_code == 0, res.output
    out = res.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    calls = summary["minds"]["llm"]["total"]["calls"]
    assert calls > 0 and summary["minds"]["counters"], "the full counters are kept in the run folder"
    lines = out.splitlines()
    # the town first, then the cost, then where everything is
    assert lines.index("In the town") < lines.index("Cost") < len(lines) - 1
    assert "valentines, seed 3: 3 ticks, the town's clock now Mon 07:03" in out
    assert "  conversations: 0" in lines and "  reflections: 0" in lines
    assert "  fact 'party': known at the start by Isabella; not yet Klaus, Maria" in lines
    assert f"LLM calls {calls:,} (answered from cache 0)" in out
    assert f"every counter: {run_dir / 'summary.json'} (or -v)" in out
    assert lines[-1] == f"run folder: {run_dir}"
    # no raw JSON object of internal counters on the console
    for counter in summary["minds"]["counters"]:
        assert counter not in out
    assert not any(line.lstrip().startswith(("{", '"')) for line in lines)
    assert "WARNING" not in res.output  # normal operation logs nothing above INFO


def test_verbose_resume_prints_every_counter_as_a_table(tmp_path, server, root_logging):
    run_dir = tmp_path / "run"
    assert CliRunner().invoke(cli, ["run", "--headless", "--hours", "0.05", "--out", str(run_dir)]).exit_code == 0
    res = CliRunner().invoke(cli, ["resume", str(run_dir), "--headless", "--hours", "0.05", "-v"])
    assert res.exit_code == 0, res.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "Cost of this session" in res.stdout  # the tally covers this process, the story the whole run
    assert "cognition counters (all agents)" in res.stdout
    assert ("LLM calls by cognitive step" in res.stdout) == bool(summary["minds"]["llm"]["by_step"])
    for counter in summary["minds"]["counters"]:
        assert counter in res.stdout


def _story_run(run_dir: Path) -> None:
    """A run folder whose log holds one conversation that carries the party and one reflection."""
    run_dir.mkdir()
    shutil.copyfile(ROOT / "maps" / "scenarios" / "valentines.yaml", run_dir / "scenario.yaml")
    log = EventLog(run_dir / "events.jsonl")
    t0 = datetime(2023, 2, 13, 7, 0)
    names = ["Isabella Rodriguez", "Klaus Mueller", "Maria Lopez"]
    log.emit(0, t0, "run_start", agents=names, seed=1, scenario="valentines", map="the_ville.json", seconds_per_tick=60, start=t0.isoformat())
    t1 = datetime(2023, 2, 13, 8, 53)
    log.emit(113, t1, "chat", "Isabella Rodriguez", conversation="c1", speaker="Isabella Rodriguez",
             listeners=["Klaus Mueller"], text="Come to my Valentine's Day party tomorrow!")
    log.emit(114, t1, "chat", "Klaus Mueller", conversation="c1", speaker="Klaus Mueller",
             listeners=["Isabella Rodriguez"], text="Gladly.")
    log.emit(120, datetime(2023, 2, 13, 9, 0), "reflection", "Klaus Mueller", insight="Isabella is kind.", evidence=[])
    log.close()


def test_the_story_says_who_talked_who_reflected_and_who_learned_each_fact(tmp_path):
    _story_run(tmp_path / "run")
    story = town_story(tmp_path / "run")
    assert story[0] == "conversations: 1 (Isabella-Klaus 1)"
    assert story[1] == "reflections: 1 (Klaus 1)"
    assert "fact 'party': known at the start by Isabella; Klaus learned it at 08:53; not yet Maria" in story
    assert "fact 'paper': known at the start by Klaus; not yet Isabella, Maria" in story


def test_a_long_log_line_is_not_folded_mid_path(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "40")
    handler = console_log_handler(verbose=False)
    path = "/home/someone/.cache/town/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    log = logging.getLogger("test.console.fold")
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    log.propagate = False  # only this handler: an earlier CLI test may have left one on the root logger
    try:
        log.info("hidden without -v")
        log.warning("deleting %s: size does not match", path)
    finally:
        log.removeHandler(handler)
    err = capsys.readouterr().err
    assert err == f"WARNING deleting {path}: size does not match\n"  # one line, longer than the console is wide


def test_the_progress_line_names_the_model_work_of_this_tick():
    acc = Accounting()

    def call(step: str, agent: str) -> None:
        acc.add(LLMCallRecord(step=step, agent=agent, model="m", prompt_tokens=1, completion_tokens=1,
                              cached=False, latency_s=0.1, attempts=1))

    call("perceive_importance", "Maria Lopez")  # before the tick
    work = ModelWork(acc)
    assert work.line() == ""
    acc.in_flight[("plan_daily", "Klaus Mueller")] += 1  # asked, no answer yet: the first tick's long wait
    acc.in_flight[("plan_daily", "Isabella Rodriguez")] += 1
    assert work.line() == "planning the day: Isabella, Klaus · 0 LLM calls done this tick, 2 under way"
    acc.in_flight.clear()
    call("plan_daily", "Klaus Mueller")
    call("plan_daily", "Klaus Mueller")
    assert work.line() == "planning the day: Klaus · 2 LLM calls done this tick"
    work.mark()
    call("converse_turn", "Isabella Rodriguez")
    assert work.line() == "talking: Isabella · 1 LLM call done this tick"


def test_calls_count_as_under_way_until_answered():
    """The gateway's own bookkeeping, read by the progress line while a call waits on the model."""
    import asyncio

    import agents.testing

    async def go() -> list[int]:
        llm = agents.testing.ScriptedLLM(agents.testing.schema_example_script(), seed=1)
        seen: list[int] = []
        gate = asyncio.Event()
        inner = llm._complete

        async def slow(*a, **k):
            seen.append(llm.accounting.in_flight[("plan_daily", "Klaus Mueller")])
            await gate.wait()
            return await inner(*a, **k)

        llm._complete = slow  # type: ignore[method-assign]
        task = asyncio.ensure_future(llm.text([{"role": "user", "content": "hi"}], step="plan_daily", agent="Klaus Mueller"))
        await asyncio.sleep(0)
        gate.set()
        await task
        seen.append(llm.accounting.in_flight[("plan_daily", "Klaus Mueller")])
        return seen

    assert asyncio.run(go()) == [1, 0]


def test_progress_is_off_when_the_output_is_not_a_terminal():
    assert tick_progress(Console(file=io.StringIO())).disable
    assert not tick_progress(Console(file=io.StringIO(), force_terminal=True)).disable


def test_every_option_and_argument_has_help():
    group = typer.main.get_command(cli)
    missing = []
    for name, cmd in group.commands.items():
        subs = cmd.commands.items() if hasattr(cmd, "commands") else [(name, cmd)]
        for sub, c in subs:
            missing += [f"{name} {sub} {p.name}" for p in c.params if not getattr(p, "help", None)]
    assert missing == []


def test_choices_are_offered_and_checked(tmp_path):
    res = CliRunner().invoke(cli, ["run", "--headless", "--model", "7b", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "'0.5b'" in res.output and "'1.5b'" in res.output
    assert not (tmp_path / "r").exists()
    res = CliRunner().invoke(cli, ["report", str(tmp_path), "--format", "pdf"])
    assert res.exit_code == 2 and "'html'" in res.output and "'md'" in res.output
    assert "<1.5b|0.5b|FILE.gguf>" in CliRunner().invoke(cli, ["run", "--help"]).output


def test_the_model_choices_are_the_models_there_are():
    from typing import get_args

    from agents.llm.model_files import MODEL_SPECS
    from town.app.cli import ModelSize

    assert set(get_args(ModelSize)) == set(MODEL_SPECS)


def test_version_and_the_prompts_header():
    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("town ")
    first = CliRunner().invoke(cli, ["prompts", "list"]).output.splitlines()[0]
    assert first.split() == ["NAME", "OUTPUT", "SCHEMA", "FILE"]
