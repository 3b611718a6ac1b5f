"""A short `town run` against the loopback server sending llama.cpp timings: the end summary, summary.json,
`town report` and `town eval`'s metrics show the model server's busy share and prefix-cache hit rate, and say
nothing of them when the server gives no figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.testing import FakeOpenAIServer
from town.app.cli import app as cli
from town.app.eval.metrics import run_metrics
from town.app.report import load_run
from town.world.event_types import LLMCall



def run_against(srv: FakeOpenAIServer, run_dir: Path, monkeypatch) -> str:
    monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("TOWN_MODEL", "test-model")
    res = CliRunner().invoke(cli, ["run", "--headless", "--hours", "0.05", "--seed", "3", "--out", str(run_dir)])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_a_run_reports_the_servers_share_of_its_wall_time(tmp_path, monkeypatch, root_logging):
    # 0.01 ms per token is far below the 50 ms each answer takes: every server interval lies inside the run
    with FakeOpenAIServer(delay_s=0.05, timings=(0.01, 0.01)) as srv:
        out = run_against(srv, tmp_path / "run", monkeypatch)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    events = load_run(tmp_path / "run").events
    calls = [ev.data for ev in events if isinstance(ev.data, LLMCall)]
    ms = summary["model_server"]
    assert ms["calls"] == len(calls) == srv.requests > 0
    assert ms["prompt_reused"] == sum(c.server_cache_n for c in calls) > 0  # the shared system prompt is reused
    assert ms["prompt_reused"] + ms["prompt_evaluated"] == sum(c.prompt_tokens for c in calls)
    longest = max((c.server_prompt_ms + c.server_gen_ms) / 1000 for c in calls)
    assert longest <= ms["busy_s"] <= sum((c.server_prompt_ms + c.server_gen_ms) / 1000 for c in calls)
    assert 0 < ms["busy_share"] <= 1 and ms["wall_s"] == summary["wall_s"]
    line = (f"  model server busy {ms['busy_share']:.0%} of the wall time ({ms['busy_s']:,.0f} s of "
            f"{ms['wall_s']:,.0f} s); prefix cache reused {ms['cache_hit_rate']:.0%} of prompt tokens")
    assert line in out.splitlines()

    res = CliRunner().invoke(cli, ["report", str(tmp_path / "run"), "--format", "md"])
    assert res.exit_code == 0, res.output
    assert line.strip() in (tmp_path / "run" / "report.md").read_text()

    values = run_metrics(events, {})["values"]
    assert values["server_busy_share"] == pytest.approx(ms["busy_s"] / summary["wall_s"])
    assert values["prefix_cache_hit_rate"] == pytest.approx(ms["cache_hit_rate"])


def test_a_server_without_figures_adds_no_line(tmp_path, monkeypatch, root_logging):
    with FakeOpenAIServer() as srv:
        out = run_against(srv, tmp_path / "run", monkeypatch)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "model_server" not in summary and "model server" not in out and "prefix cache" not in out
    values = run_metrics(load_run(tmp_path / "run").events, {})["values"]
    assert values["server_busy_share"] is None and values["prefix_cache_hit_rate"] is None
