"""SIGKILL a real `town run` process mid-tick (an LLM call held at the server, the tick's memory writes under
way), resume it, and check that memory records, mind state and events agree with an uninterrupted run of the
same seed. Real subprocesses, real embedded chromadb, a loopback OpenAI-compatible server; the kill is
synchronised on the server receiving a chosen request, not on sleeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from agents.testing import FakeOpenAIServer, default_handler
from agents.memory.stream import MemoryStore
from tests._run_helpers import comparable_events, scrub
from town.world.events import read_events

ROOT = Path(__file__).resolve().parent.parent
TICKS = 30  # half a game hour at 60 s a tick
AGENTS = ["Isabella Rodriguez", "Klaus Mueller", "Maria Lopez"]


def _env(server: FakeOpenAIServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TOWN_CACHE_PATH", "TOWN_CONFIG")}
    env.update(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="test", TOWN_MODEL="test-model", PYTHONPATH=str(ROOT))
    return env


def _town(*args: str) -> list[str]:
    return [sys.executable, "-m", "town", *args]


def _memories(run_dir: Path) -> dict[str, list[tuple]]:
    store = MemoryStore.persistent(run_dir / "memory")
    out = {}
    for agent in AGENTS:
        records = store.stream(agent).since(datetime(2000, 1, 1))
        out[agent] = sorted((r.kind, r.text, r.created.isoformat(), r.importance, r.last_accessed.isoformat())
                            for r in records)
    return out


def _minds(run_dir: Path) -> dict:
    ck = json.loads((run_dir / "checkpoint.json").read_text())
    return {"tick": ck["tick"], "minds": scrub(ck["minds"]), "world": scrub(ck["world"])}


class HoldAt:
    """A server handler that holds the ``nth`` request of tick ``tick`` (read off the run's checkpoint) until
    released, and says when it got there."""

    def __init__(self, run_dir: Path, tick: int, nth: int) -> None:
        self.run_dir, self.tick, self.nth, self.seen, self.lock = run_dir, tick, nth, 0, threading.Lock()
        self.reached, self.release = threading.Event(), threading.Event()

    def _in_tick(self) -> bool:
        try:
            return json.loads((self.run_dir / "checkpoint.json").read_text())["tick"] == self.tick
        except (FileNotFoundError, json.JSONDecodeError):
            return False

    def __call__(self, body: dict):
        with self.lock:
            if not self.reached.is_set() and self._in_tick():
                self.seen += 1
            mine = not self.reached.is_set() and self.seen == self.nth
            if mine:
                self.reached.set()
        if mine:
            self.release.wait(120)
        return default_handler(body)


def test_sigkill_mid_tick_then_resume_matches_an_uninterrupted_run(tmp_path: Path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    hours = str(TICKS / 60)
    with FakeOpenAIServer() as server:
        done = subprocess.run(_town("run", "--headless", "--hours", hours, "--seed", "5", "--out", str(whole)),
                              env=_env(server), capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
    per_tick = Counter(e.tick for e in read_events(whole / "events.jsonl") if e.type == "llm_call" and e.tick > 0)
    assert per_tick, "no LLM call after the first tick: nothing to kill mid-call"
    busiest = max(per_tick, key=lambda t: (per_tick[t], -t))
    hold = HoldAt(killed, busiest, per_tick[busiest])  # the last call of the busiest tick after the first
    with FakeOpenAIServer(hold) as server:
        proc = subprocess.Popen(_town("run", "--headless", "--hours", hours, "--seed", "5", "--out", str(killed)),
                                env=_env(server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
        try:
            assert hold.reached.wait(300), "the run never reached the held call"
            assert proc.poll() is None
            os.kill(proc.pid, signal.SIGKILL)  # mid-tick: this call is in flight, the tick's other work under way
            proc.wait(timeout=30)
        finally:
            hold.release.set()
            if proc.poll() is None:
                proc.kill()
            proc.stderr.close()  # type: ignore[union-attr]
        killed_at = json.loads((killed / "checkpoint.json").read_text())["tick"]
        assert killed_at == hold.tick  # killed inside that tick
        clock = json.loads((killed / "checkpoint.json").read_text())["world"]["clock"]
        torn_from = datetime.fromisoformat(clock["start"]) + timedelta(seconds=clock["seconds_per_tick"] * clock["tick"])
        in_flight = [r for rs in _memories(killed).values() for r in rs if r[2] >= torn_from.isoformat()]
        assert in_flight, "no memory of the killed tick was written: the kill tested no rollback"
        res = subprocess.run(_town("resume", str(killed), "--headless", "--hours", str((TICKS - killed_at) / 60)),
                             env=_env(server), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _minds(killed) == _minds(whole)
    assert _memories(killed) == _memories(whole)
    assert comparable_events(killed) == comparable_events(whole)
