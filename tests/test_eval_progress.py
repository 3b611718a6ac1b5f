"""`town eval` shows how far it is: INFO lines at each tenth of a run's ticks and at each phase after it when
the output is not a terminal (a resumed run's start at its checkpoint), rich lines per run on a terminal."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from rich.console import Console

from tests._eval_fixtures import cafe_scenario, scripted
from town.app.eval import evaluate
from town.app.eval import runner
from town.app.eval.runner import Arm, EvalSpec

TICKS = 12  # 0.2 game hours of one-minute ticks: some ticks start no new tenth (1 and 7 of 12)


def _spec(tmp, **kw) -> EvalSpec:
    base = dict(scenario=str(cafe_scenario(tmp)), seeds=[0, 1], hours=0.2, arms={"A": Arm()}, ablation_questions=0)
    return EvalSpec(**{**base, **kw})


def _lines(caplog, label: str) -> list[str]:
    prefix = f"eval: {label}"
    return [r.getMessage() for r in caplog.records if r.name == "town.app.eval" and r.getMessage().startswith(prefix)]


def _ticks(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := re.search(r"\((\d+)/12 ticks, \w{3} \d\d:\d\d\)", line))]


def test_a_log_shows_each_tenth_of_each_run_and_its_phases_in_order(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="town.app.eval")
    out = tmp_path / "out"
    evaluate(_spec(tmp_path, ablation_questions=1), out, llm=scripted(), formats=(), concurrency=1)
    for seed in (0, 1):
        lines = _lines(caplog, f"A seed {seed}")
        assert lines[0].startswith(f"eval: A seed {seed}: starting at tick 0 of {TICKS} (")
        # a line each time floor(10 * tick / 12) grows: every tick but the 1st and 7th
        assert _ticks(lines) == [2, 3, 4, 5, 6, 8, 9, 10, 11, 12]
        assert re.search(r": 50% \(6/12 ticks, Mon \d\d:\d\d\), \d+\.\d min$", lines[5])
        phases = [line.split(": ", 1)[1] for line in lines if " started" in line or " done" in line]
        probe = json.loads((out / f"A/seed-{seed}/eval_probe.json").read_text())
        asked = probe["answers"] + probe["knows"]
        judged = 2 * sum(not row["answer_fallback"] for row in asked)
        expected = [f"A seed {seed}: interviews started",
                    f"A seed {seed}: interviews done: {len(asked)} answers, {judged} judgements"]
        if seed == 0:  # only the first run is put through the ablations
            ab = json.loads((out / "A/seed-0/eval_ablation.json").read_text())
            made = len(ab["comparisons"]) + ab["judge_fallbacks"]
            expected += ["A seed 0: ablation started",
                         f"A seed 0: ablation done: {4 * len(ab['answers'])} answers, {made} judgements"]
        assert [re.sub(r", \d+\.\d min$", "", p) for p in phases[:-1]] == expected
        assert re.match(r"A seed \d done \(\d/2 runs finished\)$", phases[-1])
        assert lines.index(next(line for line in lines if "12/12 ticks" in line)) < lines.index(f"eval: {expected[0]}")
    assert [m for m in (r.getMessage() for r in caplog.records) if m.endswith("runs finished)")] == [
        "eval: A seed 0 done (1/2 runs finished)", "eval: A seed 1 done (2/2 runs finished)"]


def test_a_resumed_run_logs_from_its_checkpoint(tmp_path, caplog, monkeypatch):
    spec = _spec(tmp_path, seeds=[5])
    out = tmp_path / "out"
    real_run_session = runner.run_session

    async def cut(session, ticks, on_tick=None):  # the power goes five ticks in
        await real_run_session(session, 5, on_tick)
        raise RuntimeError("power cut")

    monkeypatch.setattr(runner, "run_session", cut)
    with pytest.raises(RuntimeError, match="power cut"):
        evaluate(spec, out, llm=scripted(), formats=())
    monkeypatch.setattr(runner, "run_session", real_run_session)
    caplog.set_level(logging.INFO, logger="town.app.eval")
    caplog.clear()  # an earlier test may have left INFO on: only the resumed eval's lines count
    evaluate(spec, out, llm=scripted(), formats=())
    lines = _lines(caplog, "A seed 5")
    assert lines[0].startswith(f"eval: A seed 5: resuming at tick 5 of {TICKS} (Mon ")
    assert _ticks(lines) == [6, 8, 9, 10, 11, 12]  # floor(10 * 5 / 12) = 4: the next tenth is at tick 6
    assert lines[-1] == "eval: A seed 5 done (1/1 runs finished)"


def test_a_terminal_gets_a_line_per_run_and_an_overall_line(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="town.app.eval")
    console = Console(file=io.StringIO(), force_terminal=True, width=160, record=True)
    evaluate(_spec(tmp_path), tmp_path / "out", llm=scripted(), formats=(), console=console, concurrency=1)
    text = console.export_text()
    assert re.search(r"A seed 1 .*0/12 ticks · waiting", text)  # its turn comes after seed 0's
    final = text.rsplit("eval ", 1)[1]  # the last frame drawn: the overall line, then one line per run
    assert "2/2 runs finished" in final
    for seed in (0, 1):
        assert re.search(rf"A seed {seed} .*{TICKS}/{TICKS} ticks, Mon \d\d:\d\d · done", final)
    assert "interviews: " in text and re.search(r"interviews: \d+ answers, \d+ judgements", text)
    assert not [r for r in caplog.records if "ticks, Mon" in r.getMessage()]  # drawn, not logged as well
