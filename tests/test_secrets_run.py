"""No credential in anything a run writes, reports or prints: a real `town run` process over loopback HTTP with a
password in its endpoint URLs and an API key, one endpoint dead and the other failing now and then, then a report.

Before: the userinfo of the URL reached town.log (the endpoint line, "parked" warnings) and the console.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agents.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "SECRETKEY4711pw"
API_KEY = "sk-APIKEYSECRET0815abcdef"


def _with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://user:{PASSWORD}@")


def test_no_secret_in_run_folder_report_or_console(tmp_path):
    dead = FakeOpenAIServer().start()
    dead.stop()  # its port stays known: connections to it fail
    run_dir = tmp_path / "run"
    with FakeOpenAIServer(script=["500", "garbage", "500", "garbage"] * 3) as server:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OPENAI_BASE_URL": ",".join(_with_userinfo(u) for u in (server.url, dead.url)),
            "OPENAI_API_KEY": API_KEY,
            "TOWN_MODEL": "test-model",
            "TOWN_BACKOFF_S": "0",
            "TOWN_PARK_AFTER": "1",
            "TOWN_PARK_S": "0.5",
        }
        res = subprocess.run(
            [sys.executable, "-m", "town", "run", "--headless", "--hours", "0.05", "--seed", "1", "--out", str(run_dir)],
            env=env, capture_output=True, timeout=300, cwd=tmp_path,
        )
        assert res.returncode == 0, res.stderr.decode()[-3000:]
        assert server.requests > 0
    reports = []
    for fmt in ("html", "md"):
        rep = subprocess.run([sys.executable, "-m", "town", "report", str(run_dir), "--format", fmt],
                             env=env, capture_output=True, timeout=300, cwd=tmp_path)
        assert rep.returncode == 0, rep.stderr.decode()[-2000:]
        reports.append(rep.stdout + rep.stderr)
    console = res.stdout + res.stderr + b"".join(reports)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("report") for p in files)
    for blob, where in [(console, "console"), *((p.read_bytes(), str(p)) for p in files)]:
        for secret in (PASSWORD, API_KEY):
            assert secret.encode() not in blob, f"{secret} found in {where}"
    log_text = (run_dir / "town.log").read_text(encoding="utf-8")
    assert "http://***@127.0.0.1" in log_text  # the failing endpoint is still named, masked


def test_event_scrub_masks_credentials_but_keeps_what_agents_say(tmp_path):
    import asyncio

    import agents.testing
    from town.app.session import RunConfig, Session
    from town.world.events import read_events

    async def go():
        run_dir = tmp_path / "run"
        cfg = RunConfig(scenario="valentines", hours=1, seed=3, run_dir=run_dir)
        session = await Session.open(run_dir, resume=False, cfg=cfg, llm=agents.testing.ScriptedLLM(agents.testing.schema_example_script()))
        session.sim.emit("whisper", agent="Klaus Mueller", text="my secret: the party is at 5pm")
        session.sim.emit("whisper", agent="Klaus Mueller", text=f"endpoint http://user:{PASSWORD}@127.0.0.1:1/v1 failed; api_key={API_KEY}")
        await session.close()
        return [e.data["text"] for e in read_events(run_dir / "events.jsonl") if e.type == "whisper"]

    said, failed = asyncio.run(go())
    assert said == "my secret: the party is at 5pm"
    assert PASSWORD not in failed and API_KEY not in failed and "http://***@127.0.0.1:1/v1" in failed


def test_configured_key_and_url_password_are_masked_even_without_a_telltale_shape(monkeypatch):
    import agents.testing
    from agents.llm.redact import redact

    monkeypatch.setenv("OPENAI_API_KEY", "plainkey9f8e7d")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://bob:pw5a4b3c2d@127.0.0.1:1/v1")
    assert redact("key plainkey9f8e7d, password pw5a4b3c2d") != "key ***, password ***"  # unknown before
    agents.MindRuntime.check_inputs(None)
    assert redact("key plainkey9f8e7d, password pw5a4b3c2d") == "key ***, password ***"
