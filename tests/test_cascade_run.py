"""A short `town run` with the cascade on, over two loopback servers: summary.json counts the small model's
answers and the escalations by step, and each ``llm_call`` event names the model that answered."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agents.testing import FakeOpenAIServer
from town.app.cli import app as cli

ROUTED = "plan_daily"



def test_a_cascaded_run_counts_small_answers_and_escalations(tmp_path: Path, monkeypatch, root_logging):
    with FakeOpenAIServer(model="main-model") as main, \
            FakeOpenAIServer(model="small-model", script=["garbage"]) as small:
        monkeypatch.setenv("OPENAI_BASE_URL", main.url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("TOWN_MODEL", "main-model")
        monkeypatch.setenv("TOWN_SMALL_BASE_URLS", small.url)
        monkeypatch.setenv("TOWN_SMALL_MODEL", "small-model")
        monkeypatch.setenv("TOWN_SMALL_STEPS", ROUTED)
        run_dir = tmp_path / "run"
        res = CliRunner().invoke(cli, ["run", "--headless", "--hours", "0.05", "--seed", "3", "--out", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert "WARNING" not in res.output  # an escalation is the cascade's normal operation, not a warning
    minds = json.loads((run_dir / "summary.json").read_text())["minds"]
    calls = [json.loads(line)["data"] for line in (run_dir / "events.jsonl").read_text().splitlines()
             if json.loads(line)["type"] == "llm_call"]
    routed = [c for c in calls if c["step"] == ROUTED]
    others = [c for c in calls if c["step"] != ROUTED]
    assert routed and others
    assert {(c["model"], c["cascade"]) for c in routed} == {("small-model", "small"), ("main-model", "escalated")}
    assert {c["model"] for c in others} == {"main-model"} and not any("cascade" in c for c in others)
    small_n = sum(c["cascade"] == "small" for c in routed)
    assert minds["llm"]["by_step"][ROUTED]["cascade_escalations"] == 1
    assert minds["llm"]["by_step"][ROUTED]["cascade_small_answers"] == small_n == len(routed) - 1
    assert minds["counters"]["cascade_escalations"] == 1 and minds["counters"][f"cascade_escalations_{ROUTED}"] == 1
    assert minds["counters"]["cascade_small_answers"] == small_n
    assert minds["llm_endpoints"][0]["url"] == main.url and minds["llm_small_endpoints"][0]["url"] == small.url
