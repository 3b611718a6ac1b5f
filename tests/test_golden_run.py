"""The golden run: a scripted, seeded run's event stream must match the one committed in tests/data.

Regenerating ``tests/data/golden_run.jsonl`` is legitimate only when a change is MEANT to alter what the
world does or logs (a new event field, a rule change); say so in the commit. A refactor (a layout move,
typed events) must pass against the old file unchanged. Regenerate with ``python -m tests.test_golden_run``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "data" / "golden_run.jsonl"
TICKS = 120
SEED = 7
# Wall-clock and cache-state fields differ between two runs of the same script.
VOLATILE = {"latency_s", "wall_s", "tick_s_mean", "tick_s_p95", "run_dir", "created", "cached"}


def _scrub(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _scrub(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


def golden_stream(run_dir: Path) -> list[dict]:
    """Run valentines for TICKS ticks over the scripted LLM; return the logged events, volatile fields dropped.

    Reads the JSONL as plain JSON (not through the event models) and imports the session from either layout,
    so the same function produces the file on a commit before the layout move and checks it after.
    """
    import agents.testing
    try:
        from town.app.runs import post_to_inbox
        from town.app.session import RunConfig, Session, run_session
    except ImportError:  # the layouts before town/app/runs.py
        try:
            from town.app.session import RunConfig, Session, post_to_inbox, run_session  # type: ignore[no-redef]
        except ImportError:  # the layout before town/app/
            from town.app import RunConfig, Session, post_to_inbox, run_session  # type: ignore[no-redef]

    async def go() -> None:
        cfg = RunConfig(scenario="valentines", hours=1, seed=SEED, run_dir=run_dir)
        session = await Session.open(run_dir, resume=False, cfg=cfg,
                                     llm=agents.testing.ScriptedLLM(agents.testing.schema_example_script(), seed=SEED))
        # the user's two interventions, read from the inbox between ticks
        post_to_inbox(run_dir, {"type": "whisper", "agent": "Klaus Mueller", "text": "You should visit the cafe."})
        post_to_inbox(run_dir, {"type": "inject", "description": "the cafe's stove is on fire",
                                "address": "Hobbs Cafe:cafe", "minutes": 30})
        await run_session(session, TICKS)

    asyncio.run(go())
    out = []
    for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines():
        ev = json.loads(line)
        if ev["type"] == "run_end":
            ev["data"] = {}  # its summary is wall times and counters of the cache
        elif ev["type"] == "run_start":
            ev["data"].pop("schema_version", None)  # the log's schema version is not behaviour
            ev["data"]["map"] = Path(ev["data"]["map"]).name  # the checkout's path is not behaviour
        out.append(_scrub(ev))
    return out


def write_golden(path: Path = GOLDEN) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        events = golden_stream(Path(tmp) / "run")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in events), encoding="utf-8")
    return len(events)


def test_the_scripted_run_logs_the_golden_event_stream(tmp_path: Path) -> None:
    want = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]
    got = golden_stream(tmp_path / "run")
    assert len(want) > 100 and {e["type"] for e in want} >= {"run_start", "move", "action", "plan", "tool", "fallback",
                                                           "whisper", "world_event", "memory"}
    for i, (w, g) in enumerate(zip(want, got)):
        assert g == w, f"event {i + 1} differs"
    assert len(got) == len(want)


if __name__ == "__main__":
    n = write_golden(Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN)
    print(f"wrote {n} events")
