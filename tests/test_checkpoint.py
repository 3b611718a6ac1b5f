"""Run-folder mechanics: atomic checkpoints, torn event logs, the inbox, forks."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from town.app import checkpoint as ckpt
from town.world.events import EventLog, read_events

T0 = datetime(2023, 2, 13, 7, 0)


def _write_events(path, n_ticks: int) -> EventLog:
    log = EventLog(path)
    for t in range(n_ticks):
        log.emit(t, T0, "tick")
        log.emit(t, T0, "action", agent="A", kind="wait")
    log.flush()
    return log


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "c.json"
    ckpt.atomic_write_json(p, {"a": 1})
    ckpt.atomic_write_json(p, {"a": 2, "b": [1, 2]})
    assert json.loads(p.read_text()) == {"a": 2, "b": [1, 2]}
    assert not list(tmp_path.glob("*.tmp"))


def test_read_json_errors_name_the_file(tmp_path):
    with pytest.raises(ckpt.RunFolderError, match="missing.json not found"):
        ckpt.read_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ckpt.RunFolderError, match="bad.json: not valid JSON"):
        ckpt.read_json(bad)


def test_truncate_events_drops_ticks_after_checkpoint_and_torn_tail(tmp_path):
    path = tmp_path / "events.jsonl"
    log = _write_events(path, 5)  # seq 1..10
    log.close()
    with open(path, "a") as fh:
        fh.write('{"seq": 11, "tick": 5, "ti')  # SIGKILL mid-write
    kept = ckpt.truncate_events(path, last_seq=6)
    assert [e.seq for e in kept] == [1, 2, 3, 4, 5, 6]
    assert [e.seq for e in read_events(path)] == [1, 2, 3, 4, 5, 6]
    # a resumed log continues the numbering
    log2 = EventLog(path, start_seq=6)
    log2.emit(3, T0, "tick")
    log2.close()
    assert [e.seq for e in read_events(path)][-1] == 7


def test_bad_line_in_the_middle_raises_with_file_and_line(tmp_path):
    path = tmp_path / "events.jsonl"
    _write_events(path, 2).close()
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(1, "garbage\n")
    path.write_text("".join(lines))
    with pytest.raises(ValueError, match=r"events.jsonl:2: bad event line"):
        list(read_events(path))


def test_inbox_is_ordered_and_consumed_once(tmp_path):
    from town.app import inbox

    inbox.post(tmp_path, {"type": "whisper", "agent": "A", "text": "one"})
    inbox.post(tmp_path, {"type": "inject", "description": "fire", "address": "X"})
    inbox.post(tmp_path, {"type": "whisper", "agent": "B", "text": "three"})
    got = [m for _, m in inbox.take(tmp_path)]
    assert [m.get("text") or m.get("description") for m in got] == ["one", "fire", "three"]
    assert inbox.take(tmp_path) == []
    assert len(list((tmp_path / "inbox" / "done").glob("*.json"))) == 3


def test_fork_copies_and_refuses_to_overwrite(tmp_path):
    src = tmp_path / "run"
    src.mkdir()
    ckpt.atomic_write_json(src / ckpt.RUN_FILE, {"seed": 1, "memory_url": None})
    ckpt.atomic_write_json(src / ckpt.CHECKPOINT, {"tick": 3})
    (src / "memory").mkdir()
    (src / "memory" / "db").write_text("x")
    dst = tmp_path / "fork"
    ckpt.fork_run(src, dst)
    assert json.loads((dst / ckpt.CHECKPOINT).read_text()) == {"tick": 3}
    assert (dst / "memory" / "db").read_text() == "x"
    assert json.loads((dst / ckpt.RUN_FILE).read_text())["forked_from"] == str(src)
    with pytest.raises(ckpt.RunFolderError, match="already exists"):
        ckpt.fork_run(src, dst)
    with pytest.raises(ckpt.RunFolderError, match="nothing to fork"):
        ckpt.fork_run(tmp_path / "nope", tmp_path / "x")


def test_fork_refuses_server_memory(tmp_path):
    src = tmp_path / "run"
    ckpt.atomic_write_json(src / ckpt.RUN_FILE, {"seed": 1, "memory_url": "http://127.0.0.1:8000"})
    ckpt.atomic_write_json(src / ckpt.CHECKPOINT, {"tick": 3})
    with pytest.raises(ckpt.RunFolderError, match="Chroma server"):
        ckpt.fork_run(src, tmp_path / "fork")


# -- the previous checkpoint: a damaged latest one falls back to it ------------------------------
def _scripted_run(run_dir, ticks):
    import asyncio

    import agents.testing
    from town.app.session import RunConfig, Session, run_session

    async def go():
        cfg = RunConfig(scenario="valentines", hours=1, seed=3, run_dir=run_dir)
        session = await Session.open(run_dir, resume=False, cfg=cfg, llm=agents.testing.ScriptedLLM(agents.testing.schema_example_script()))
        return await run_session(session, ticks)

    return asyncio.run(go())


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # torn JSON
        lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "world"}),  # was a KeyError
        lambda text: json.dumps({**json.loads(text), "world": {"agents": 3}}),  # a world that does not load
    ],
)
def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, damage, caplog):
    import asyncio

    import agents.testing
    from town.app.session import Session

    run_dir = tmp_path / "run"
    _scripted_run(run_dir, 3)
    prev_tick = json.loads((run_dir / ckpt.PREVIOUS).read_text())["tick"]
    assert prev_tick == 2 and json.loads((run_dir / ckpt.CHECKPOINT).read_text())["tick"] == 3
    latest = run_dir / ckpt.CHECKPOINT
    latest.write_text(damage(latest.read_text()))

    async def reopen():
        session = await Session.open(run_dir, resume=True, llm=agents.testing.ScriptedLLM(agents.testing.schema_example_script()))
        try:
            return session.world.clock.tick
        finally:
            await session.runtime.aclose()

    with caplog.at_level("WARNING", logger="town.app.checkpoint"):
        assert asyncio.run(reopen()) == prev_tick
    assert any("previous checkpoint" in r.getMessage() for r in caplog.records)


def test_no_usable_checkpoint_is_one_line_exit_2(tmp_path):
    from typer.testing import CliRunner

    from town.app.cli import app as cli

    run_dir = tmp_path / "run"
    _scripted_run(run_dir, 2)
    (run_dir / ckpt.CHECKPOINT).write_text("{")
    (run_dir / ckpt.PREVIOUS).write_text(json.dumps({"version": 1}))
    res = CliRunner().invoke(cli, ["resume", str(run_dir), "--headless"])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert "no usable checkpoint" in lines[0] and "missing keys" in lines[0]


def test_a_missing_latest_checkpoint_resumes_from_the_previous(tmp_path):
    run_dir = tmp_path / "run"
    _scripted_run(run_dir, 2)
    (run_dir / ckpt.CHECKPOINT).unlink()  # deleted by hand, or left by a kill in versions that renamed it away first
    assert ckpt.has_checkpoint(run_dir)
    assert ckpt.load_checkpoint(run_dir)["tick"] == 1


def test_saving_never_leaves_a_moment_without_checkpoint_json(tmp_path, monkeypatch):
    # a reader of a live run (or a kill) between two renames once found no checkpoint.json at all
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    real_replace = os.replace
    seen: list[bool] = []

    def replace(src, dst):
        seen.append((run_dir / ckpt.CHECKPOINT).exists())
        real_replace(src, dst)

    ckpt.save_checkpoint(run_dir, {"tick": 1})
    monkeypatch.setattr(os, "replace", replace)
    ckpt.save_checkpoint(run_dir, {"tick": 2})
    ckpt.save_checkpoint(run_dir, {"tick": 3})
    assert seen and all(seen)
    assert json.loads((run_dir / ckpt.CHECKPOINT).read_text()) == {"tick": 3}
    assert json.loads((run_dir / ckpt.PREVIOUS).read_text()) == {"tick": 2}
    assert sorted(p.name for p in run_dir.iterdir()) == [ckpt.CHECKPOINT, ckpt.PREVIOUS]  # no staged files left


def test_the_previous_checkpoint_is_copied_where_hard_links_fail(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ckpt.save_checkpoint(run_dir, {"tick": 1})

    def no_links(src, dst):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    ckpt.save_checkpoint(run_dir, {"tick": 2})
    assert json.loads((run_dir / ckpt.PREVIOUS).read_text()) == {"tick": 1}
    assert json.loads((run_dir / ckpt.CHECKPOINT).read_text()) == {"tick": 2}
