"""The app end to end over a scripted LLM and over real HTTP: runs, checkpoints, SIGKILL + resume, inbox, CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agents.testing
from agents.testing import FakeOpenAIServer
from town.app.runs import post_to_inbox
from town.app.session import RunConfig, Session, UserError, run_session
from town.app.cli import app as cli
from town.world.events import read_events
from tests._run_helpers import comparable_events

ROOT = Path(__file__).resolve().parent.parent


def _scripted() -> agents.testing.ScriptedLLM:
    return agents.testing.ScriptedLLM(agents.testing.schema_example_script(), seed=3)


async def _fresh(run_dir: Path, ticks: int, seed: int = 3) -> dict:
    cfg = RunConfig(scenario="valentines", hours=1, seed=seed, run_dir=run_dir)
    session = await Session.open(run_dir, resume=False, cfg=cfg, llm=_scripted())
    return await run_session(session, ticks)


def test_session_runs_checkpoints_and_summarises(tmp_path):
    run_dir = tmp_path / "run"
    summary = asyncio.run(_fresh(run_dir, 6))
    assert summary["ticks"] == 6
    assert summary["minds"]["llm"]["total"]["calls"] > 0
    ck = json.loads((run_dir / "checkpoint.json").read_text())
    assert ck["tick"] == 6 and set(ck["minds"]) == {"Isabella Rodriguez", "Klaus Mueller", "Maria Lopez"}
    events = list(read_events(run_dir / "events.jsonl"))
    assert events[0].type == "run_start" and events[-1].type == "run_end"
    assert ck["seq"] == events[-2].seq  # checkpoint covers every event of the last tick
    assert json.loads((run_dir / "summary.json").read_text())["ticks"] == 6
    assert (run_dir / "scenario.yaml").exists() and (run_dir / "run.json").exists()


def test_same_seed_same_scripted_answers_same_events(tmp_path):
    asyncio.run(_fresh(tmp_path / "a", 8))
    asyncio.run(_fresh(tmp_path / "b", 8))
    assert comparable_events(tmp_path / "a") == comparable_events(tmp_path / "b")


def test_resume_after_a_torn_tick_loses_only_that_tick(tmp_path):
    run_dir = tmp_path / "run"
    asyncio.run(_fresh(run_dir, 4))
    ck_seq = json.loads((run_dir / "checkpoint.json").read_text())["seq"]
    # a killed process: events of a half-written tick after the checkpoint, and a torn line
    with open(run_dir / "events.jsonl", "a") as fh:
        fh.write(json.dumps({"seq": 10_000, "tick": 4, "time": "2023-02-13T07:04:00", "type": "tick", "data": {}}) + "\n")
        fh.write('{"seq": 10001, "tick": 4, "ty')

    async def go():
        session = await Session.open(run_dir, resume=True, llm=_scripted())
        assert session.log.seq == ck_seq  # numbering continues from the checkpoint, the torn tail is gone
        return await run_session(session, 3)

    summary = asyncio.run(go())
    assert summary["ticks"] == 7
    events = list(read_events(run_dir / "events.jsonl"))
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert 10_000 not in seqs
    ticks = [e.tick for e in events if e.type == "tick"]
    assert ticks == list(range(7))


def test_whisper_and_inject_through_the_inbox(tmp_path):
    run_dir = tmp_path / "run"
    asyncio.run(_fresh(run_dir, 1))
    post_to_inbox(run_dir, {"type": "whisper", "agent": "Klaus Mueller", "text": "You should visit the cafe."})
    post_to_inbox(run_dir, {"type": "inject", "description": "the cafe's stove is on fire", "address": "Hobbs Cafe:cafe", "minutes": 30})
    with pytest.raises(UserError, match="no agent 'Nobody'"):
        post_to_inbox(run_dir, {"type": "whisper", "agent": "Nobody", "text": "x"})
    with pytest.raises(UserError, match="no place 'Narnia'"):
        post_to_inbox(run_dir, {"type": "inject", "description": "x", "address": "Narnia"})

    async def go():
        session = await Session.open(run_dir, resume=True, llm=_scripted())
        await run_session(session, 3)
        stream = session.runtime.store.stream("Klaus Mueller")
        return [r.text for r in stream.recent(50)]

    texts = asyncio.run(go())
    assert any("visit the cafe" in t for t in texts), texts
    types = [e.type for e in read_events(run_dir / "events.jsonl")]
    assert "whisper" in types and "world_event" in types


def test_unknown_scenario_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(cli, ["run", "--headless", "--scenario", "atlantis", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "no scenario named 'atlantis'" in res.output


def test_prompts_check_cli():
    res = CliRunner().invoke(cli, ["prompts", "check"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["prompts", "list"])
    assert "plan_daily" in res.output


def _env(server: FakeOpenAIServer) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="test", TOWN_MODEL="test-model", PYTHONPATH=str(ROOT))
    return env


def test_cli_headless_run_over_http_then_sigkill_and_resume(tmp_path):
    """A real `python -m town run` process over HTTP, killed with SIGKILL, resumed losing at most one tick."""
    run_dir = tmp_path / "run"
    with FakeOpenAIServer(delay_s=0.01) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "town", "run", "--headless", "--hours", "5", "--seed", "2", "--out", str(run_dir)],
            env=_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path,
        )
        deadline = time.monotonic() + 300  # start-up (embedder, chromadb) is slow on 2 busy cores
        tick = 0
        while time.monotonic() < deadline and tick < 4 and proc.poll() is None:
            time.sleep(0.2)
            try:
                tick = json.loads((run_dir / "checkpoint.json").read_text())["tick"]
            except (FileNotFoundError, json.JSONDecodeError):
                pass
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert tick >= 4, "no checkpoint past tick 3 within 300 s"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = json.loads((run_dir / "checkpoint.json").read_text())["tick"]
        assert killed_at >= 4
        assert server.requests > 0
        res = subprocess.run(
            [sys.executable, "-m", "town", "resume", str(run_dir), "--headless", "--hours", "0.05"],
            env=_env(server), capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
    assert res.returncode == 0, res.stderr[-3000:]
    final = json.loads((run_dir / "checkpoint.json").read_text())["tick"]
    assert final == killed_at + 3  # 0.05 h = 3 ticks of 60 s
    ticks = [e.tick for e in read_events(run_dir / "events.jsonl") if e.type == "tick"]
    assert ticks == list(range(final)), "a tick was lost or repeated beyond the one in flight"


def test_interview_reads_a_run_without_changing_it(tmp_path, monkeypatch):
    from town.app.runs import interview

    run_dir = tmp_path / "run"
    asyncio.run(_fresh(run_dir, 3))
    before = (run_dir / "events.jsonl").read_bytes(), (run_dir / "checkpoint.json").read_bytes()
    said: list[str] = []

    def answer_handler(body):
        return {"answer": "I am planning a Valentine's Day party at Hobbs Cafe."}

    with FakeOpenAIServer(answer_handler) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("TOWN_MODEL", "test-model")
        interview(run_dir, "Isabella Rodriguez", "What are you planning?", ask=lambda: "", say=said.append)
        prompt = server.bodies[-1]["messages"][-1]["content"]
        with pytest.raises(UserError, match="no agent 'Nobody'"):
            interview(run_dir, "Nobody", "hi", ask=lambda: "", say=said.append)
    assert said == ["I am planning a Valentine's Day party at Hobbs Cafe."]
    assert "What are you planning?" in prompt
    assert ((run_dir / "events.jsonl").read_bytes(), (run_dir / "checkpoint.json").read_bytes()) == before


def test_console_log_lines_carry_the_level_once(tmp_path, capsys):
    import logging

    from town.app.cli import _setup_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        _setup_logging(False, tmp_path)
        logging.getLogger("agents.llm.embedded").warning("embedded LLM serving at %s", "http://127.0.0.1:1/v1")
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert "embedded LLM serving at http://127.0.0.1:1/v1" in err
    assert err.count("WARNING") == 1  # rich's level column, not a second "WARNING:name:" prefix
    logged = (tmp_path / "town.log").read_text()
    assert "WARNING agents.llm.embedded: embedded LLM serving" in logged
