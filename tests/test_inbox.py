"""The inbox: every posted message applied exactly once, in posting order, with many writer processes at once;
bad messages refused when posted (one line, exit 2, nothing queued) and moved aside, never fatal, in a running town.

Before: writers numbered files from a directory listing, so concurrent posts overwrote each other (16 writers:
2-3 of 16 survived) and numbering restarted after draining, overwriting inbox/done/; a blank whisper or
``--minutes -100`` was queued and then killed the run with a WorldError at its next tick.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agents.testing
from town.app import inbox
from town.app.session import RunConfig, Session, run_session
from town.app.cli import app as cli
from town.world.events import read_events

ROOT = Path(__file__).resolve().parent.parent
WRITERS, PER_WRITER = 16, 5

_WRITER = """
import sys, time
from pathlib import Path
from town.app import inbox
run_dir, me, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
for i in range(int(sys.argv[4])):
    inbox.post(run_dir, {"type": "whisper", "agent": "A", "text": f"{me}:{i}"})
"""


def test_many_writer_processes_each_message_once_in_order(tmp_path):
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), f"w{n}", str(go), str(PER_WRITER)], env=env)
        for n in range(WRITERS)
    ]
    go.touch()  # all start posting together
    assert [p.wait(timeout=120) for p in procs] == [0] * WRITERS
    first = [m["text"] for _, m in inbox.take(tmp_path)]
    assert sorted(first) == sorted(f"w{n}:{i}" for n in range(WRITERS) for i in range(PER_WRITER))
    for n in range(WRITERS):  # each writer's messages come out in the order it posted them
        mine = [t for t in first if t.startswith(f"w{n}:")]
        assert mine == [f"w{n}:{i}" for i in range(PER_WRITER)]
    # after draining, numbering goes on: nothing in inbox/done/ is overwritten
    inbox.post(tmp_path, {"type": "whisper", "agent": "A", "text": "late"})
    assert [m["text"] for _, m in inbox.take(tmp_path)] == ["late"]
    done = list((tmp_path / "inbox" / "done").glob("*.json"))
    assert len(done) == WRITERS * PER_WRITER + 1
    assert sorted(json.loads(p.read_text())["text"] for p in done) == sorted([*first, "late"])


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({"type": "whisper", "agent": "A", "text": "   "}, "empty"),
        ({"type": "whisper", "agent": "Nobody", "text": "hi"}, "no agent 'Nobody'"),
        ({"type": "inject", "description": "fire", "minutes": -100}, "--minutes"),
        ({"type": "inject", "description": "fire", "minutes": True}, "--minutes"),
        ({"type": "inject", "description": "fire", "address": "Narnia"}, "no place 'Narnia'"),
        ({"type": "inject", "description": "", "address": ""}, "empty"),
        ({"type": "teleport"}, "unknown message type"),
        (["not", "a", "dict"], "JSON object"),
    ],
)
def test_check_message_names_the_bad_field(message, why):
    with pytest.raises(inbox.InboxError, match=why):
        inbox.check_message(message, {"A"}, lambda a: a == "Hobbs Cafe:cafe")


def _scripted() -> agents.testing.ScriptedLLM:
    return agents.testing.ScriptedLLM(agents.testing.schema_example_script(), seed=3)


async def _fresh(run_dir: Path, ticks: int) -> dict:
    cfg = RunConfig(scenario="valentines", hours=1, seed=3, run_dir=run_dir)
    session = await Session.open(run_dir, resume=False, cfg=cfg, llm=_scripted())
    return await run_session(session, ticks)


def test_cli_refuses_bad_messages_with_one_line_and_queues_nothing(tmp_path):
    run_dir = tmp_path / "run"
    asyncio.run(_fresh(run_dir, 1))
    cases = [
        (["whisper", str(run_dir), "Klaus Mueller", "   "], "empty"),
        (["whisper", str(run_dir), "Nobody", "hi"], "no agent 'Nobody'"),
        (["inject", str(run_dir), "fire", "--minutes", "-100"], "--minutes"),
        (["inject", str(run_dir), "fire", "--at", "Narnia"], "no place 'Narnia'"),
    ]
    for args, why in cases:
        res = CliRunner().invoke(cli, args)
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert res.exit_code == 2 and len(lines) == 1 and why in lines[0], (args, res.output)
    assert not list((run_dir / "inbox").glob("*.json"))
    res = CliRunner().invoke(cli, ["whisper", str(run_dir), "Klaus Mueller", "You like jazz."])
    assert res.exit_code == 0 and "queued" in res.output


def test_a_bad_message_reaching_a_running_town_is_moved_aside_not_fatal(tmp_path):
    run_dir = tmp_path / "run"
    asyncio.run(_fresh(run_dir, 1))
    box = run_dir / "inbox"
    box.mkdir(exist_ok=True)
    # written by hand, past the posting checks, in the order the town must meet them
    (box / "000000001-whisper.json").write_text(json.dumps({"type": "whisper", "agent": "Klaus Mueller", "text": " "}))
    (box / "000000002-inject.json").write_text(json.dumps({"type": "inject", "description": "fire", "minutes": -100}))
    (box / "000000003-junk.json").write_text('{"type": "whis')
    inbox.post(run_dir, {"type": "whisper", "agent": "Klaus Mueller", "text": "You should visit the cafe."})

    async def go():
        session = await Session.open(run_dir, resume=True, llm=_scripted())
        return await run_session(session, 2)

    assert asyncio.run(go())["ticks"] == 3
    rejected = sorted(p.name for p in (box / "rejected").iterdir())
    assert rejected == [
        "000000001-whisper.json", "000000001-whisper.reason",
        "000000002-inject.json", "000000002-inject.reason",
        "000000003-junk.json", "000000003-junk.reason",
    ]
    assert "--minutes" in (box / "rejected" / "000000002-inject.reason").read_text()
    whispers = [e.data["text"] for e in read_events(run_dir / "events.jsonl") if e.type == "whisper"]
    assert whispers == ["You should visit the cafe."]
    assert not list(box.glob("*.json"))


def test_the_viewer_whisper_box_runs_the_same_checks(tmp_path, caplog):
    from town.app.runs import _post_from_viewer

    run_dir = tmp_path / "run"

    async def go():
        cfg = RunConfig(scenario="valentines", hours=1, seed=3, run_dir=run_dir)
        session = await Session.open(run_dir, resume=False, cfg=cfg, llm=_scripted())
        try:
            with caplog.at_level("ERROR", logger="town.app.runs"):
                assert _post_from_viewer(session, {"type": "whisper", "agent": "Klaus Mueller", "text": "  "}) is None
                assert _post_from_viewer(session, {"type": "inject", "description": "fire", "minutes": 0}) is None
            assert not list((run_dir / "inbox").glob("*.json"))
            assert _post_from_viewer(session, {"type": "whisper", "agent": "Klaus Mueller", "text": "hi"}) is not None
        finally:
            await session.close()

    asyncio.run(go())
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.name == "town.app.runs"] == ["not sent"] * 2
    assert [m["text"] for _, m in inbox.take(run_dir)] == ["hi"]
