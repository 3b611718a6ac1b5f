"""Short town runs against a misbehaving endpoint (the fault-injection server as a real process on loopback).

Each fault: the run completes, every faulty answer shows up in the summary as a retry or a fallback, no tick is
lost, and `town resume` continues it. A refused key is exit 2 with one line; a sustained outage stops the run
with exit 3 at its last checkpoint, and it resumes once the server is healthy again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.testing import ServerProcess
from town.app.runs import interview, resume, run
from town.app.session import RunConfig, UserError
from town.world.events import read_events

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sekret-pass-4711"
KEY = "sk-test-key-0123456789abcdef"
ANSWER_FAULTS = {"empty", "garbage"}  # a well-formed answer the step cannot use: the answer's fault, not the endpoint's
FAULTS = ["bad_json", "truncated", "html", "no_choices", "empty", "garbage", "429", "500", "hang", "reset"]


@pytest.fixture(scope="module")
def server():
    with ServerProcess(retry_after_s=0.2, hang_s=30.0) as srv:
        yield srv


def llm_env(url: str, timeout_s: float = 60) -> dict[str, str]:
    return {"OPENAI_BASE_URL": url, "TOWN_MODEL": "test-model", "TOWN_BACKOFF_S": "0.01",
            "TOWN_REQUEST_TIMEOUT_S": str(timeout_s), "TOWN_PARK_S": "0"}


def ticks_logged(run_dir: Path) -> list[int]:
    return [e.tick for e in read_events(run_dir / "events.jsonl") if e.type == "tick"]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.mark.parametrize("fault", FAULTS)
def test_a_short_run_survives_the_fault_counts_it_and_resumes(server, fault, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a short timeout only where the server hangs (30 s): a busy machine must not turn a slow answer into a retry
    for k, v in llm_env(server.url, timeout_s=3 if fault == "hang" else 60).items():
        monkeypatch.setenv(k, v)
    server.set_script([fault] * 4)
    before = server.stats()["requests"]
    run_dir = tmp_path / "run"
    run(RunConfig(scenario="valentines", hours=0.05, seed=1, run_dir=run_dir), headless=True)  # 3 ticks
    served = server.stats()["served"][before:]
    assert served[:4] == [fault] * 4 and "ok" in served
    llm = summary(run_dir)["minds"]["llm"]["total"]
    # every faulty answer is one failed attempt: retried, or part of a call that fell back
    assert llm["retries"] + llm["fallbacks"] == 4
    failures = summary(run_dir)["minds"]["llm_endpoints"][0]["failures_by_kind"]
    assert sum(failures.values()) == (0 if fault in ANSWER_FAULTS else 4)  # the endpoint's fault, counted by kind
    assert summary(run_dir)["minds"]["fallbacks"] >= llm["fallbacks"]
    assert ticks_logged(run_dir) == [0, 1, 2] and summary(run_dir)["ticks"] == 3

    resume(run_dir, hours=0.05, headless=True)
    assert ticks_logged(run_dir) == [0, 1, 2, 3, 4, 5] and summary(run_dir)["ticks"] == 6


def _town(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "town", *args], env=full, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_a_refused_key_is_exit_2_with_one_redacted_line(server, tmp_path):
    server.set_script([], default="401")
    try:
        url = server.url.replace("http://", f"http://user:{SECRET}@")
        res = _town(["run", "--headless", "--hours", "0.05", "--out", str(tmp_path / "run")],
                    {**llm_env(url), "OPENAI_API_KEY": KEY}, tmp_path)
    finally:
        server.set_script([])
    out = res.stdout + res.stderr
    assert res.returncode == 2, out[-3000:]
    assert "HTTP 401" in out and "OPENAI_API_KEY" in out and "Traceback" not in out
    assert SECRET not in out and KEY not in out
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file() and path.suffix in (".log", ".json", ".jsonl"):
            text = path.read_text(errors="replace")
            assert SECRET not in text and KEY not in text, path


def test_a_sustained_outage_stops_at_a_checkpoint_and_resumes_when_healthy(server, tmp_path):
    run_dir = tmp_path / "run"
    env = {**llm_env(server.url), "TOWN_OUTAGE_AFTER": "8"}
    server.set_script(["ok"] * 5, default="500")
    try:
        res = _town(["run", "--headless", "--hours", "0.5", "--out", str(run_dir)], env, tmp_path)
    finally:
        server.set_script([])  # healthy again
    out = res.stdout + res.stderr
    assert res.returncode == 3, out[-3000:]
    assert "8 requests in a row failed" in out and f"town resume {run_dir}" in out and "Traceback" not in out
    stopped_at = json.loads((run_dir / "checkpoint.json").read_text())["tick"]
    assert stopped_at < 30  # it did not simulate half an hour of fallbacks

    res = _town(["resume", str(run_dir), "--headless", "--hours", "0.05"], env, tmp_path)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert ticks_logged(run_dir) == list(range(stopped_at + 3))


def test_an_interview_against_a_refused_key_is_a_user_error(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for k, v in llm_env(server.url).items():
        monkeypatch.setenv(k, v)
    run_dir = tmp_path / "run"
    run(RunConfig(scenario="valentines", hours=0.02, seed=1, run_dir=run_dir), headless=True)
    server.set_script([], default="403")
    try:
        with pytest.raises(UserError, match="HTTP 403"):
            interview(run_dir, "Isabella Rodriguez", "What are you planning?", ask=lambda: "", say=print)
    finally:
        server.set_script([])
