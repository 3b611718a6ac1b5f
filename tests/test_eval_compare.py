"""`town eval-compare BEFORE AFTER`: two real evals over the scripted LLM, the second with templates that forbid
party talk, are compared with the right sign; folders that cannot be paired or are damaged are refused in one
line, exit 2, through a real `python -m town` process, with nothing written anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests._eval_fixtures import cafe_scenario, forbidding_templates, scripted
from town.app.eval import evaluate
from town.app.eval.before_after import compare, render, summary_lines
from town.app.eval.report import PAPER_NOTE
from town.app.eval.report import summary_lines as eval_summary_lines
from town.app.eval.runner import Arm, EvalSpec
from town.app.session import UserError


@pytest.fixture(scope="module")
def evals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``before``: default templates; ``after``: converse templates that forbid party talk. Same seeds and hours."""
    root = tmp_path_factory.mktemp("evals")
    scenario, quiet = str(cafe_scenario(root)), forbidding_templates(root)
    out: dict[str, Any] = {"root": root}
    for name, arm in (("before", Arm()), ("after", Arm(prompts=str(quiet)))):
        spec = EvalSpec(scenario=scenario, seeds=[0, 1], hours=0.1, arms={"A": arm}, ablation_questions=1)
        out[name + "_result"] = evaluate(spec, root / name, llm=scripted(), formats=())
        out[name] = root / name
    return out


def _town(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "60"}
    return subprocess.run([sys.executable, "-m", "town", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _snapshot(*folders: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for f in folders for p in sorted(f.rglob("*")) if p.is_file()}


def _copies(evals: dict[str, Any], tmp: Path) -> tuple[Path, Path]:
    before, after = tmp / "before", tmp / "after"
    shutil.copytree(evals["before"], before)
    shutil.copytree(evals["after"], after)
    return before, after


def _edit_spec(folder: Path, **changes: Any) -> None:
    """Change the spec in both files, as a real eval with other options would have written it."""
    spec = json.loads((folder / "eval_spec.json").read_text())
    (folder / "eval_spec.json").write_text(json.dumps({**spec, **changes}))
    result = json.loads((folder / "eval.json").read_text())
    result["spec"] = {**result["spec"], **changes}
    (folder / "eval.json").write_text(json.dumps(result))


def test_forbidding_party_talk_is_found_worse_after_and_better_the_other_way(evals):
    result = compare(evals["before"], evals["after"])
    verdicts = {r["name"]: r["verdict"] for r in result["rows"]}
    assert verdicts["spread.party"].startswith("after is worse on information spread of 'party': -1.00 agents")
    assert verdicts["fact_conversation_share"].startswith("after is worse on conversations passing on a seeded fact")
    assert verdicts["conversations"].startswith("no detectable change")  # they still talk, about the weather
    assert not any(v.startswith(("A ", "B ")) for v in verdicts.values())
    # each side's mean is the eval's own figure for that arm
    for r in result["rows"]:
        for side in ("before", "after"):
            assert r[side]["mean"] == evals[side + "_result"]["arms"]["A"]["metrics"][r["name"]]["mean"]
    back = {r["name"]: r for r in compare(evals["after"], evals["before"])["rows"]}
    assert back["spread.party"]["verdict"].startswith("after is better on information spread of 'party': +1.00")
    assert back["spread.party"]["diff"]["mean"] == -{r["name"]: r for r in result["rows"]}["spread.party"]["diff"]["mean"]


def test_the_command_prints_the_table_and_writes_the_report_into_after_only(evals, tmp_path):
    before, after = _copies(evals, tmp_path)
    kept = _snapshot(before)
    after_files = set(_snapshot(after))
    res = _town("eval-compare", str(before), str(after), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "after is worse on information spread of 'party': -1.00 agents" in res.stdout
    assert "information spread of 'party'" in res.stdout and "after − before" in res.stdout  # the table
    assert "before: believability (seed 0" in res.stdout and "after: believability (seed 0" in res.stdout
    assert PAPER_NOTE in res.stdout
    report = after / "compare-before.md"
    assert _snapshot(before) == kept and set(_snapshot(after)) == after_files | {report}
    md = report.read_text()
    assert "- after is worse on information spread of 'party': -1.00 agents" in md
    assert "| information spread of 'party' | agents | higher | 1.00 [1.00, 1.00] | 0.00 [0.00, 0.00] | -1.00 [-1.00, -1.00] (n=2) |" in md
    assert "## Believability ablations, before (run seed 0)" in md and "## Believability ablations, after" in md

    html = tmp_path / "cmp.html"
    res = _town("eval-compare", str(before), str(after), "--format", "html", "--out", str(html), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "<li>after is worse on information spread of &#39;party&#39;" in html.read_text()


def test_a_kept_eval_of_two_files_compares_as_its_whole_folder(evals, tmp_path):
    """docs/evals keeps only eval_spec.json and eval.json of an eval (its runs are too big to keep): enough."""
    kept = tmp_path / "kept"
    kept.mkdir()
    for name in ("eval_spec.json", "eval.json"):
        shutil.copy(evals["before"] / name, kept / name)
    whole, small = compare(evals["before"], evals["after"]), compare(kept, evals["after"])
    assert small["rows"] == whole["rows"] and small["rows"]
    assert small["sides"]["before"]["ablations"] == whole["sides"]["before"]["ablations"]


KEPT = Path(__file__).resolve().parents[1] / "docs" / "evals"


@pytest.mark.parametrize("folder", sorted(p for p in KEPT.iterdir() if p.is_dir()) if KEPT.is_dir() else [],
                         ids=lambda p: p.name)
def test_every_kept_eval_in_docs_still_reads_as_a_before_side(folder):
    """The README's kept evals stay comparable as the code moves on: each reads, every seed of arm A is there,
    and it compares with itself to a zero difference on every metric it has."""
    result = compare(folder, folder)
    assert result["rows"]
    assert all(r["diff"]["mean"] in (0, None) for r in result["rows"])


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("seeds", [0], "field seeds is [0] but"),
    ("hours", 0.2, "field hours is 0.2 but"),
    ("scenario", "valentines", "field scenario is 'valentines' but"),
])
def test_evals_that_cannot_be_paired_are_refused_in_one_line(evals, tmp_path, field, value, needle):
    before, after = _copies(evals, tmp_path)
    _edit_spec(after, **{field: value})
    kept = _snapshot(tmp_path)
    res = _town("eval-compare", str(before), str(after), cwd=tmp_path)
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error:") and str(after / "eval_spec.json") in lines[0] and needle in lines[0]
    if field == "seeds":
        assert "same seed list" in lines[0]
    assert _snapshot(tmp_path) == kept


@pytest.mark.parametrize(("damage", "needle"), [
    ("truncate", "eval.json: not valid JSON at line 1"),
    ("delete", "eval.json: not found"),
    ("no_spec", "eval_spec.json: not found"),
    ("no_arms", "eval.json: field arms: Field required"),
    ("no_seed", "eval.json: field arms.A.per_seed.1: missing"),
    ("arm_b", "eval.json: field arms.B: no such arm"),
])
def test_a_damaged_eval_folder_is_refused_in_one_line(evals, tmp_path, damage, needle):
    before, after = _copies(evals, tmp_path)
    path = after / "eval.json"
    doc = json.loads(path.read_text())
    if damage == "truncate":
        path.write_text(path.read_text()[:200])
    elif damage == "delete":
        path.unlink()
    elif damage == "no_spec":
        (after / "eval_spec.json").unlink()
    elif damage == "no_arms":
        del doc["arms"]
        path.write_text(json.dumps(doc))
    elif damage == "no_seed":
        del doc["arms"]["A"]["per_seed"]["1"]
        path.write_text(json.dumps(doc))
    kept = _snapshot(tmp_path)
    args = ("--arm", "B") if damage == "arm_b" else ()
    res = _town("eval-compare", str(before), str(after), *args, cwd=tmp_path)
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error:") and needle in lines[0], lines
    assert (str(before) if damage == "arm_b" else str(after)) in lines[0]
    assert _snapshot(tmp_path) == kept


def test_a_report_that_cannot_be_written_is_one_line_and_no_folder_is_made(evals, tmp_path):
    result = compare(evals["before"], evals["after"])
    with pytest.raises(UserError, match=r"no/such/cmp\.md: cannot write the report"):
        render(result, tmp_path / "no/such/cmp.md", "md")
    assert list(tmp_path.iterdir()) == []


def test_town_eval_prints_one_line_per_rated_condition_and_the_paper_only_when_ablated(evals):
    result = evals["before_result"]
    lines = eval_summary_lines(result)
    ab = result["ablations"][0]
    head = lines.index(next(ln for ln in lines if ln.startswith("believability (seed 0")))
    assert f"ours {' > '.join(ab['our_order'])}; paper {' > '.join(ab['paper_order'])}" in lines[head]
    rated = lines[head + 1: head + 1 + len(ab["paper_order"])]
    assert [ln.split(":")[0].strip() for ln in rated] == ab["paper_order"]
    assert all(ln.endswith("]") and "[" in ln for ln in rated)
    assert lines[-1] == PAPER_NOTE
    assert PAPER_NOTE not in eval_summary_lines({**result, "ablations": []})
    assert any(ln.startswith("after: believability") for ln in summary_lines(compare(evals["before"], evals["after"])))


def test_calls_by_step_are_summed_over_the_runs_and_shown_before_and_after(evals, tmp_path):
    from town.world.events import read_events
    arm = evals["before_result"]["arms"]["A"]
    steps: dict[str, int] = {}
    for seed in ("0", "1"):
        for e in read_events(evals["before"] / "A" / f"seed-{seed}" / "events.jsonl"):
            if e.type == "llm_call":
                steps[e.data.step] = steps.get(e.data.step, 0) + 1
    assert {k: v["calls"] for k, v in arm["calls_by_step"].items()} == steps and steps
    assert list(arm["calls_by_step"].values()) == sorted(arm["calls_by_step"].values(), key=lambda f: -f["calls"])
    result = compare(evals["before"], evals["after"])
    assert {r["step"]: r["before"]["calls"] for r in result["steps"]} == steps
    md = render(result, tmp_path / "c.md", "md").read_text()
    first = result["steps"][0]
    assert f"| {first['step']} | {first['before']['calls']} | {first['after']['calls']} |" in md
    from town.app.eval.report import render as render_eval
    (tmp_path / "e").mkdir()
    for fmt in ("md", "html"):
        text = render_eval(evals["before_result"], tmp_path / "e", fmt).read_text()
        assert "LLM calls by step, the 2 runs of an arm together" in text and first["step"] in text
    # an eval kept before the figures were recorded compares without the table
    old = tmp_path / "old"
    shutil.copytree(evals["before"], old)
    data = json.loads((old / "eval.json").read_text())
    del data["arms"]["A"]["calls_by_step"]
    (old / "eval.json").write_text(json.dumps(data))
    assert compare(old, evals["after"])["steps"] == []
    assert "LLM calls by step" not in render(compare(old, evals["after"]), tmp_path / "o.md", "md").read_text()


def test_held_memories_by_kind_are_summed_over_the_runs_and_shown(evals, tmp_path):
    """Each run's probe records, for the agents not seeded with a fact, its memories naming the fact by kind; the
    eval sums them per arm (agreeing with the held metric: an agent holds a fact iff it has such a memory)."""
    arm = evals["before_result"]["arms"]["A"]
    total: dict[str, dict[str, int]] = {}
    for seed in ("0", "1"):
        probe = json.loads((evals["before"] / "A" / f"seed-{seed}" / "eval_probe.json").read_text())
        for fact, agents in probe["held_sources"].items():
            total.setdefault(fact, {})
            seeded = next(f["known_by"] for f in probe["facts"] if f["id"] == fact)
            assert set(agents) == set(probe["agents"]) - set(seeded)
            holders = {a for a, t in probe["first_held"][fact].items() if t is not None and a not in seeded}
            assert holders == {a for a, src in agents.items() if src["kinds"]}
            assert arm["per_seed"][seed][f"held.{fact}"] == len(holders)
            for src in agents.values():
                for kind, n in src["kinds"].items():
                    total[fact][kind] = total[fact].get(kind, 0) + n
    assert arm["held_by_kind"] == {f: dict(sorted(k.items())) for f, k in sorted(total.items())}
    assert set(arm["held_by_kind"]) == {f["id"] for f in probe["facts"]}
    from town.app.eval.report import render as render_eval
    text = render_eval(evals["before_result"], tmp_path, "md").read_text()
    assert "Where the seeded facts were held" in text
    for fact, kinds in arm["held_by_kind"].items():
        shown = ", ".join(f"{k} {n}" for k, n in kinds.items()) or "none"
        assert f"| A | {fact} | {shown} |" in text


def test_verdicts_that_hold_against_both_kept_defaults_are_listed(tmp_path):
    """The talk levers against the kept default and its A/A: of the verdicts against 749b642 (longer, more
    parroting, and four more worse rows), only the two the A/A repeats hold against every baseline."""
    res = _town("eval-compare", str(KEPT / "importance-rules-gists-749b642"), str(KEPT / "talk-levers-ac28696"),
                "--also", str(KEPT / "default-aa-dd4104c"), "--out", str(tmp_path / "c.md"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout.replace("\n", " ")
    assert "after is worse on LLM fallbacks: +3.80" in out  # a verdict against the first baseline only
    report = (tmp_path / "c.md").read_text()
    held = report.split("## Verdicts that hold against every baseline", 1)[1].split("## Metrics", 1)[0]
    assert [ln.split(" against")[0] for ln in held.splitlines() if ln.startswith("- ")] == [
        "- after is better on conversation length", "- after is worse on repeated or parroted lines"]
    assert "+1.05 [0.85, 1.23]; +1.07 [0.48, 1.54]" in held


def test_a_baseline_that_cannot_be_paired_is_refused_before_any_report(evals, tmp_path):
    before, after = _copies(evals, tmp_path)
    other = tmp_path / "other"
    shutil.copytree(evals["before"], other)
    _edit_spec(other, seeds=[0])
    kept = _snapshot(tmp_path)
    res = _town("eval-compare", str(before), str(after), "--also", str(other), cwd=tmp_path)
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "field seeds is" in lines[0], lines
    assert _snapshot(tmp_path) == kept
