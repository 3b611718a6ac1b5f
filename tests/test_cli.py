"""The `town` commands users type, through typer's CliRunner over a loopback OpenAI-compatible server:
run with --base-url/--model, fork and resume the fork (with --seed and --prompts), whisper, inject,
replay --screenshot, interviews, report, bench, model, prompts show."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.testing import FakeOpenAIServer
from agents.prompts import default_dir
from town.app.cli import app as cli
from town.world.events import read_events

AGENTS = {"Isabella Rodriguez", "Klaus Mueller", "Maria Lopez"}
MARK = "PROMPT-OVERRIDE-MARK"


def invoke(*args: str):
    """Run one command in-process; what it does to the environment (--base-url, --model) and to logging is
    undone afterwards, so no later test (in any order) sees it."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    env = dict(os.environ)
    try:
        return CliRunner().invoke(cli, [str(a) for a in args])
    finally:
        os.environ.clear()
        os.environ.update(env)
        for h in root.handlers:
            if h not in saved[0]:
                h.close()
        root.handlers[:], root.level = saved


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b:
        yield a, b


@pytest.fixture(autouse=True)
def llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI writes --model/--base-url into the environment: restore it after each test."""
    for var in ("OPENAI_BASE_URL", "TOWN_EMBEDDED_MODEL", "TOWN_CACHE_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("TOWN_MODEL", "test-model")


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory, servers) -> Path:
    """`town run --headless --base-url A --base-url B`: 3 ticks on a pool of two servers."""
    a, b = servers
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("OPENAI_BASE_URL", raising=False)
        mp.setenv("OPENAI_API_KEY", "test")
        mp.setenv("TOWN_MODEL", "test-model")
        res = invoke("run", "--headless", "--hours", "0.05", "--seed", "3", "--out", run_dir,
                     "--base-url", a.url, "--base-url", b.url)
    assert res.exit_code == 0, res.output
    return run_dir


def flat(res) -> str:
    """The command's output with the console's line wrapping undone."""
    return res.output.replace("\n", "")


def _ticks(run_dir: Path) -> list[int]:
    return [e.tick for e in read_events(run_dir / "events.jsonl") if e.type == "tick"]


def test_run_with_base_urls_uses_the_pool(base_run: Path, servers) -> None:
    a, b = servers
    assert _ticks(base_run) == [0, 1, 2]
    assert a.requests > 0 and b.requests > 0  # both endpoints of the pool served the run
    assert json.loads((base_run / "checkpoint.json").read_text())["tick"] == 3


def test_run_refuses_an_unknown_model_size(tmp_path: Path) -> None:
    res = invoke("run", "--headless", "--model", "7b", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "'7b' is not one of '1.5b', '0.5b'" in flat(res)
    assert not (tmp_path / "r").exists()


def test_fork_then_resume_the_fork_with_seed_and_prompts(base_run: Path, servers, tmp_path: Path) -> None:
    a, _ = servers
    before = (base_run / "events.jsonl").read_bytes(), (base_run / "checkpoint.json").read_bytes()
    fork = tmp_path / "fork"
    res = invoke("fork", base_run, fork)
    assert res.exit_code == 0, res.output
    assert _ticks(fork) == _ticks(base_run)
    overrides = tmp_path / "prompts"
    overrides.mkdir()
    for path in default_dir().glob("[!_]*.j2"):
        text = path.read_text(encoding="utf-8")
        (overrides / path.name).write_text(text.replace("=== user ===\n", f"=== user ===\n{MARK}\n", 1), encoding="utf-8")
    seen = len(a.bodies)
    res = invoke("resume", fork, "--headless", "--hours", "0.5", "--seed", "41", "--prompts", overrides,
                 "--base-url", a.url)
    assert res.exit_code == 0, res.output
    assert _ticks(fork) == list(range(3 + 30))  # continued from the fork's checkpoint
    new = a.bodies[seen:]
    assert new, "the resumed fork made no LLM call"
    assert all(MARK in b["messages"][-1]["content"] for b in new)  # --prompts replaced the templates
    assert {b["seed"] for b in new} >= {41}  # --seed reached the model requests
    assert ((base_run / "events.jsonl").read_bytes(), (base_run / "checkpoint.json").read_bytes()) == before


def test_whisper_and_inject_reach_the_resumed_run(base_run: Path, servers, tmp_path: Path) -> None:
    fork = tmp_path / "fork"
    assert invoke("fork", base_run, fork).exit_code == 0
    res = invoke("whisper", fork, "Klaus Mueller", "You want to run for mayor")
    assert res.exit_code == 0, res.output
    res = invoke("inject", fork, "the cafe's stove is on fire", "--at", "Hobbs Cafe:cafe", "--minutes", "30")
    assert res.exit_code == 0, res.output
    bad = invoke("whisper", fork, "Nobody", "hi")
    assert bad.exit_code == 2 and "no agent 'Nobody'" in flat(bad)
    res = invoke("resume", fork, "--headless", "--hours", "0.02", "--base-url", servers[0].url)
    assert res.exit_code == 0, res.output
    events = list(read_events(fork / "events.jsonl"))
    assert [(e.agent, e.data["text"]) for e in events if e.type == "whisper"] == [
        ("Klaus Mueller", "You want to run for mayor")]
    assert [e.data["description"] for e in events if e.type == "world_event"] == ["the cafe's stove is on fire"]


def test_replay_screenshot_writes_a_png(base_run: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    res = invoke("replay", base_run, "--screenshot", png, "--at", "1")
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = invoke("replay", tmp_path / "nowhere", "--screenshot", png)
    assert missing.exit_code == 2 and "events.jsonl not found" in flat(missing)


def test_interviews_ask_every_agent(base_run: Path, servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", servers[1].url)  # no --base-url on this command
    out = tmp_path / "answers.jsonl"
    before = (base_run / "events.jsonl").read_bytes()
    res = invoke("interviews", base_run, "--out", out)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["agent"] for r in rows} == AGENTS
    questions = {r["question"] for r in rows}
    assert len(questions) > 1
    asked = [b["messages"][-1]["content"] for s in servers for b in s.bodies]
    assert all(any(q in text for text in asked) for q in questions)  # each question reached the model
    assert (base_run / "events.jsonl").read_bytes() == before  # interviews change nothing in the run


def test_report_html_and_md(base_run: Path, tmp_path: Path) -> None:
    res = invoke("report", base_run, "--out", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    assert "<html" in (tmp_path / "r.html").read_text().lower()
    res = invoke("report", base_run, "--out", tmp_path / "r.md", "--format", "md")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r.md").read_text().lstrip().startswith("#")
    bad = invoke("report", base_run, "--format", "pdf")
    assert bad.exit_code == 2 and "'pdf' is not one of 'html', 'md'" in flat(bad)


def test_bench_calls_on_a_finished_run(base_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    res = invoke("bench", "calls", "--quick", "--run", base_run, "--out", out)
    assert res.exit_code == 0, res.output
    calls = json.loads(out.read_text())["calls"]
    assert calls["agents"] == 3 and calls["model"] == "test-model" and calls["per_agent_hour"]
    bad = invoke("bench", "speed")
    assert bad.exit_code == 2 and "unknown benchmark 'speed'" in flat(bad)


def test_model_command_verifies_the_joined_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.llm import model_files

    spec = model_files.MODEL_SPECS["0.5b"]
    cache = Path.home() / ".cache" / "town" / "models"
    if not (cache / spec.file_name).exists():
        pytest.skip(f"the 0.5b model is not joined in {cache}")
    monkeypatch.setenv("TOWN_CACHE_DIR", str(cache))
    res = invoke("model", "0.5b")
    assert res.exit_code == 0, res.output
    assert "model ready" in flat(res) and spec.file_name in flat(res)
    bad = invoke("model", "7b")
    assert bad.exit_code == 2 and "'7b'" in flat(bad)


def test_prompts_show_prints_the_template_source(tmp_path: Path) -> None:
    res = invoke("prompts", "show", "plan_daily")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == (default_dir() / "plan_daily.j2").read_text(encoding="utf-8").strip()
    overrides = tmp_path / "p"
    overrides.mkdir()
    shutil.copy(default_dir() / "plan_daily.j2", overrides / "plan_daily.j2")
    (overrides / "plan_daily.j2").write_text((overrides / "plan_daily.j2").read_text() + f"\n{MARK}\n")
    res = invoke("prompts", "show", "plan_daily", "--prompts", overrides)
    assert res.exit_code == 0 and MARK in res.stdout
    bad = invoke("prompts", "show", "no_such_step")
    assert bad.exit_code == 2 and "no_such_step" in flat(bad)
