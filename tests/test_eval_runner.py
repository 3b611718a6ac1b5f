"""`town eval` end to end over the scripted LLM: an A/B of two template folders gives a verdict that sees the
difference, an interrupted eval resumes where it stopped, the ablations rate four conditions, bad input is
refused before anything is written."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agents.testing
from tests._cognition_fixtures import FakeMemory, make_ctx
from tests._eval_fixtures import PARTY_LINE, cafe_scenario, eval_script, forbidding_templates, scripted
from town.app.session import UserError
from town.app.cli import app as cli
from town.app.eval import evaluate
from town.app.eval import runner
from town.app.eval.runner import Arm, EvalSpec
from town.world.events import read_events

HOURS = 0.1  # six one-minute ticks: the cafe trio meets and talks at once


def _spec(tmp: Path, **kw) -> EvalSpec:
    base = dict(scenario=str(cafe_scenario(tmp)), seeds=[0, 1], hours=HOURS, arms={"A": Arm()}, ablation_questions=0)
    return EvalSpec(**{**base, **kw})


def test_ab_of_a_template_that_forbids_party_talk_is_detected(tmp_path):
    quiet = forbidding_templates(tmp_path)
    spec = _spec(tmp_path, arms={"A": Arm(), "B": Arm(prompts=str(quiet))})
    result = evaluate(spec, tmp_path / "out", llm=scripted())
    verdicts = {n: c["verdict"] for n, c in result["compare"].items()}
    assert verdicts["spread.party"].startswith("B is worse on information spread of 'party': -1.00 agents")
    assert verdicts["fact_conversation_share"].startswith("B is worse on conversations passing on a seeded fact")
    assert verdicts["conversations"].startswith("no detectable change")  # they still talk, about the weather
    a_lines = [e.data["text"] for e in read_events(tmp_path / "out/A/seed-0/events.jsonl") if e.type == "chat"]
    b_lines = [e.data["text"] for e in read_events(tmp_path / "out/B/seed-0/events.jsonl") if e.type == "chat"]
    assert PARTY_LINE in a_lines and b_lines and PARTY_LINE not in b_lines
    for name in ("eval.json", "eval.html", "eval.md", "eval-diffusion.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    md = (tmp_path / "out/eval.md").read_text()
    assert "B is worse on information spread of 'party'" in md and "weak evidence" in md


def test_an_interrupted_eval_resumes_where_it_stopped(tmp_path, monkeypatch):
    spec = _spec(tmp_path, seeds=[0, 5], hours=0.2)
    out = tmp_path / "out"
    real_run_session = runner.run_session

    walls: list[float] = []

    async def cut(session, ticks, on_tick=None):
        if session.run_dir.name == "seed-5":  # the power goes three ticks into the second run
            await real_run_session(session, 3, on_tick)
            # written tick by tick: a session killed before its cleanup still counted what it spent
            walls.append(json.loads((session.run_dir / "eval_wall.json").read_text())["wall_s"])
            raise RuntimeError("power cut")
        return await real_run_session(session, ticks, on_tick)

    monkeypatch.setattr(runner, "run_session", cut)
    with pytest.raises(RuntimeError, match="power cut"):
        evaluate(spec, out, llm=scripted(), concurrency=1)
    monkeypatch.setattr(runner, "run_session", real_run_session)
    done, half = out / "A/seed-0", out / "A/seed-5"
    assert (done / "eval_probe.json").exists() and not (half / "eval_probe.json").exists()
    assert walls and walls[0] > 0
    half_tick = json.loads((half / "checkpoint.json").read_text())["tick"]
    assert half_tick == 3
    before = {p.name: p.read_bytes() for p in (done / "events.jsonl", done / "eval_probe.json", done / "checkpoint.json")}

    evaluate(spec, out, llm=scripted(), concurrency=1)
    assert {p.name: p.read_bytes() for p in (done / "events.jsonl", done / "eval_probe.json", done / "checkpoint.json")} == before
    assert json.loads((half / "checkpoint.json").read_text())["tick"] == 12
    wall = json.loads((half / "eval_wall.json").read_text())
    assert wall["sessions"] == 2 and wall["wall_s"] > walls[0]
    from town.app.eval.summary import load_run
    assert load_run(half)["values"]["wall_s"] == wall["wall_s"]
    events = list(read_events(half / "events.jsonl"))
    assert [e.type for e in events].count("run_start") == 1
    ticks = [e.tick for e in events if e.type == "tick"]
    assert ticks == list(range(12))  # every tick once: none done twice, none missing
    assert set(json.loads((out / "eval.json").read_text())["arms"]["A"]["per_seed"]) == {"0", "5"}


def test_ablations_rate_four_conditions_and_hide_memory_kinds(tmp_path):
    spec = _spec(tmp_path, seeds=[0], ablation_questions=2)
    result = evaluate(spec, tmp_path / "out", llm=scripted(), formats=("md",))
    ab = json.loads((tmp_path / "out/A/seed-0/eval_ablation.json").read_text())
    assert len(ab["comparisons"]) + ab["judge_fallbacks"] == 3 * 2 * 6  # agents x questions x condition pairs
    assert set(ab["ratings"]) == set(ab["paper_order"]) and len(ab["paper_order"]) == 4
    assert result["ablations"][0]["our_order"] == ab["our_order"]
    assert "Bradley-Terry" in (tmp_path / "out/eval.md").read_text()


def test_answer_with_evidence_retrieves_only_the_allowed_kinds():
    from datetime import datetime

    from agents.mind import AgentMind

    memory = FakeMemory()
    t = datetime(2023, 2, 13, 7, 0)
    memory.add("observation", "Isabella is arranging chairs at the cafe", created=t, importance=5)
    memory.add("reflection", "Isabella cares deeply about her guests", created=t, importance=8)
    mind = AgentMind(make_ctx(agents.testing.ScriptedLLM(eval_script), memory=memory))
    full = asyncio.run(mind.answer_with_evidence("What about Isabella?"))
    hidden = asyncio.run(mind.answer_with_evidence("What about Isabella?", kinds={"observation"}))
    assert len(full.evidence) == 2 and hidden.evidence == ["Isabella is arranging chairs at the cafe"]


def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["eval", "valentines", "--seeds", "2", "--hours", "0.1", "--out", str(out),
                                   "--prompts", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "missing" in res.output and not out.exists()
    with pytest.raises(UserError, match="no scenario"):
        evaluate(_spec(tmp_path, scenario="nowhere"), out, llm=scripted())
    assert not out.exists()


def test_an_eval_folder_refuses_a_different_spec(tmp_path):
    out = tmp_path / "out"
    evaluate(_spec(tmp_path, seeds=[0]), out, llm=scripted(), formats=())
    with pytest.raises(UserError, match="another --out"):
        evaluate(_spec(tmp_path, seeds=[0], hours=0.5), out, llm=scripted())


def test_an_eval_folder_is_continued_only_with_the_code_it_started_with(tmp_path):
    out = tmp_path / "out"
    code = {"commit": "aaa1111", "trees": {"town": "t1", "agents": "a1"}, "dirty": False}
    evaluate(_spec(tmp_path, seeds=[0], code=code), out, llm=scripted(), formats=())
    assert json.loads((out / "eval_spec.json").read_text())["code"] == code
    readme_only = {**code, "commit": "bbb2222"}  # same trees: a commit that touched only the README
    evaluate(_spec(tmp_path, seeds=[0], code=readme_only), out, llm=scripted(), formats=("md",))
    assert "Code: commit bbb2222." in (out / "eval.md").read_text()
    other = {"commit": "ccc3333", "trees": {"town": "t1", "agents": "a2"}, "dirty": False}
    with pytest.raises(UserError, match="started with the code of commit bbb2222; this checkout is commit ccc3333"):
        evaluate(_spec(tmp_path, seeds=[0], code=other), out, llm=scripted())
    with pytest.raises(UserError, match="plus uncommitted changes: continue it with that code"):
        evaluate(_spec(tmp_path, seeds=[0], code={**readme_only, "dirty": True}), out, llm=scripted())
    # a folder written before the code was recorded is continued, and records the code from then on
    legacy = json.loads((out / "eval_spec.json").read_text())
    del legacy["code"]
    (out / "eval_spec.json").write_text(json.dumps(legacy))
    evaluate(_spec(tmp_path, seeds=[0], code=other), out, llm=scripted(), formats=())
    assert json.loads((out / "eval_spec.json").read_text())["code"] == other


def test_code_version_names_the_code_folders_trees_and_is_none_outside_git(tmp_path):
    from town.app.eval.spec import CODE_DIRS, code_version

    here = code_version()
    assert here is not None and set(here["trees"]) == set(CODE_DIRS) and isinstance(here["dirty"], bool)
    assert all(len(t) == 40 for t in here["trees"].values())
    assert code_version(tmp_path) is None


def test_compare_settings_reads_the_mind_table_and_names_a_bad_key(tmp_path):
    from town.app.eval.runner import arm_settings

    good = tmp_path / "b.toml"
    good.write_text("[mind]\nretrieve_k = 3\n")
    assert arm_settings(Arm(settings=str(good))).retrieve_k == 3
    assert arm_settings(Arm()) is None
    bad = tmp_path / "bad.toml"
    bad.write_text("[mind]\nretreive_k = 3\n")
    with pytest.raises(UserError, match=r"bad\.toml: \[mind\] retreive_k"):
        arm_settings(Arm(settings=str(bad)))


def test_settings_file_is_arm_a_and_b_inherits_it_unless_given_its_own(tmp_path, monkeypatch):
    seen = {}

    def capture(spec, out, **kw):
        seen["spec"] = spec
        raise UserError("captured")

    monkeypatch.setattr("town.app.eval.evaluate", capture)
    levers = tmp_path / "levers.toml"
    levers.write_text("[mind]\nreasoning = false\n")
    quiet = forbidding_templates(tmp_path)
    base = ["eval", str(cafe_scenario(tmp_path)), "--seeds", "1", "--out", str(tmp_path / "out"), "--settings", str(levers)]
    res = CliRunner().invoke(cli, [*base, "--compare", str(quiet)])
    assert res.exit_code == 2 and "captured" in res.output
    arms = seen["spec"].arms
    assert arms["A"].settings == arms["B"].settings == str(levers) and arms["B"].prompts == str(quiet)
    other = tmp_path / "other.toml"
    other.write_text("[mind]\nretrieve_k = 3\n")
    CliRunner().invoke(cli, [*base, "--compare-settings", str(other)])
    arms = seen["spec"].arms
    assert (arms["A"].settings, arms["B"].settings) == (str(levers), str(other))


def test_first_seed_starts_the_seed_list_and_names_the_default_folder(tmp_path, monkeypatch):
    """``--first-seed`` draws another sample of runs (seeds 5..7 here); its default folder says so, so it never
    continues an eval of seeds 0..2."""
    seen = {}

    def capture(spec, out, **kw):
        seen["spec"], seen["out"] = spec, out
        raise UserError("captured")

    monkeypatch.setattr("town.app.eval.evaluate", capture)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["eval", "valentines", "--seeds", "3", "--first-seed", "5", "--hours", "2"])
    assert res.exit_code == 2 and "captured" in res.output
    assert seen["spec"].seeds == [5, 6, 7] and seen["out"] == Path("runs/eval-valentines-3x2h-from5")
    CliRunner().invoke(cli, ["eval", "valentines", "--seeds", "3", "--hours", "2"])
    assert seen["spec"].seeds == [0, 1, 2] and seen["out"] == Path("runs/eval-valentines-3x2h")
    res = CliRunner().invoke(cli, ["eval", "valentines", "--first-seed", "-1"])
    assert res.exit_code == 2 and "first-seed" in res.output


def test_arm_a_settings_reach_the_minds(tmp_path):
    levers = tmp_path / "levers.toml"
    levers.write_text("[mind]\nreasoning = false\n")
    llm = scripted()
    evaluate(_spec(tmp_path, seeds=[0], arms={"A": Arm(settings=str(levers))}), tmp_path / "out", llm=llm, formats=())
    planned = [r for r in llm.requests if r["step"] in ("plan_daily", "plan_schedule", "plan_decompose")]
    assert planned and all("reasoning" not in r["response_format"]["json_schema"]["schema"]["properties"]
                           for r in planned)
    spec = json.loads((tmp_path / "out/eval_spec.json").read_text())
    assert spec["arms"]["A"]["settings"] == str(levers)


def test_an_arms_engine_table_sets_its_worlds_rules_and_names_a_bad_key(tmp_path):
    from town.app.eval.runner import arm_engine

    old_rule = tmp_path / "old.toml"
    old_rule.write_text("[mind]\nretrieve_k = 3\n[engine]\nopening_line_heard = false\n")
    assert arm_engine(Arm(settings=str(old_rule))).opening_line_heard is False
    assert arm_engine(Arm(settings=str(tmp_path / "old.toml"))).talk_radius == 6  # the rest as configured
    mind_only = tmp_path / "mind.toml"
    mind_only.write_text("[mind]\nretrieve_k = 3\n")
    assert arm_engine(Arm(settings=str(mind_only))) is None and arm_engine(Arm()) is None
    for text, match in [("[engine]\nopening_line_herd = false\n", r"\[engine\] opening_line_herd: unknown key"),
                        ("[engine]\nseconds_per_tick = 30\n", r"\[engine\] seconds_per_tick: the arms .* clock"),
                        ("[engine]\ntalk_radius = 0\n", r"\[engine\] talk_radius"),
                        ("engine = 3\n", r"\[engine\] must be a table")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(UserError, match=r"bad\.toml: " + match):
            arm_engine(Arm(settings=str(bad)))


def test_arm_b_engine_table_reaches_its_worlds_only(tmp_path):
    old_rule = tmp_path / "old.toml"
    old_rule.write_text("[engine]\nopening_line_heard = false\n")
    spec = _spec(tmp_path, seeds=[0], arms={"A": Arm(), "B": Arm(settings=str(old_rule))})
    evaluate(spec, tmp_path / "out", llm=scripted(), formats=())
    saved = {arm: json.loads((tmp_path / f"out/{arm}/seed-0/checkpoint.json").read_text())["world"]["settings"]
             for arm in "AB"}
    assert saved["A"]["opening_line_heard"] is True and saved["B"]["opening_line_heard"] is False
