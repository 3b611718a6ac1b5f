"""`town eval` end to end on the real embedded model (0.5B): two seeds of a two-agent town for a few game
minutes (at night, so the run loop is cheap), probed and judged by the same model, one ablation question
per agent, reports written. About 45 LLM calls: 1011 s when it was measured, with the 2 cores shared by other
real-model jobs (load 6-12, single calls up to 160 s); most of that is waiting for a core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from town.app.eval import evaluate
from town.app.eval.runner import Arm, EvalSpec
from town.world.scenario import scenarios_dir

# slow: ~45 model calls (interviews, judging, ablation); 5 CPU-minutes on 2 cores, run with `-m slow`
pytestmark = [pytest.mark.real_model, pytest.mark.slow]


def _two_agents(tmp: Path) -> Path:
    doc = yaml.safe_load((scenarios_dir() / "valentines.yaml").read_text())
    doc["map"] = str((scenarios_dir() / doc["map"]).resolve())  # the copy lives elsewhere: name the packaged map
    doc["personas"] = [p for p in doc["personas"] if p["name"] in ("Isabella Rodriguez", "Klaus Mueller")]
    for p in doc["personas"]:
        p["spawn"] = "Hobbs Cafe:cafe"
    doc["facts"] = [f for f in doc["facts"] if f["id"] == "party"]
    # 3am: the run itself asks the model nothing (asleep), so the model's time goes to the eval's own steps:
    # the judged interviews and the ablations (the run loop on the real model is test_integration_real's)
    doc["start"] = "2023-02-14T03:00:00"
    path = tmp / "two.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_tiny_eval_on_the_real_model(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWN_EMBEDDED_MODEL", "0.5b")
    spec = EvalSpec(scenario=str(_two_agents(tmp_path)), seeds=[0, 1], hours=0.05, arms={"A": Arm()},
                    ablation_questions=1)
    out = tmp_path / "out"
    result = evaluate(spec, out, concurrency=2)
    saved = json.loads((out / "eval.json").read_text())
    assert saved["spec"]["judge"]["weak"] is True  # the 0.5B model judged itself, and the report says so
    assert "weak evidence" in (out / "eval.md").read_text()
    for seed in ("0", "1"):
        v = result["arms"]["A"]["per_seed"][seed]
        assert v["wall_s"] > 0 and v["network_density"] is not None
        probe = json.loads((out / f"A/seed-{seed}/eval_probe.json").read_text())
        assert len(probe["answers"]) == 2 and len(probe["knows"]) == 2  # one fact and one pair each way
        assert all(r["answer"] for r in probe["answers"] + probe["knows"])
    ab = result["ablations"][0]
    assert ab["comparisons"] + ab["judge_fallbacks"] == 2 * 6  # 2 agents x 1 question x 6 condition pairs
    assert (out / "eval.html").stat().st_size > 0 and (out / "llm_cache.sqlite").exists()
