"""The typed event vocabulary: every type round-trips, old logs load, unknown versions and types fail in one line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from town.world import event_types as et
from town.world.events import Event, EventLog, EventLogError, read_events

DATA = Path(__file__).resolve().parent / "data"
T0 = datetime(2023, 2, 13, 7, 0)

# types a short scripted run does not write (no one talks, no inbox, no lever on); the rest come from the golden run
HAND_MADE = {
    "chat": {"conversation": "c1", "speaker": "A", "listeners": ["B"], "text": "Hi B!"},
    "conversation_end": {"conversation": "c1", "participants": ["A", "B"], "ended_by": "B", "reason": "bye",
                         "lines": [{"speaker": "A", "text": "Hi B!"}, {"speaker": "B", "text": "Bye."}]},
    "object_state": {"address": "Hobbs Cafe:cafe:counter", "state": "in use", "by": "A"},
    "world_event": {"description": "a fire in the kitchen", "address": "Hobbs Cafe:cafe"},
    "whisper": {"text": "you are hungry"},
    "invalid_action": {"reason": "no such place", "action": {"kind": "move_to", "target": "Mars"}},
    "reflection": {"question": "what matters?", "insight": "A likes B", "evidence": ["m1"], "id": "r1"},
    "memory": {"memory_kind": "thought", "text": "you are hungry", "source": "whisper"},
    "place_rule": {"activity": "coffee at Hobbs Cafe", "address": "Hobbs Cafe:cafe"},
    "conversation_summary": {"conversation": "c1", "partners": ["B"], "summary": "we met", "events": [],
                             "relationship": "friends"},
}


def _samples() -> dict[str, dict]:
    """One logged ``data`` per event type: the first of each type in the golden run, else a hand-made one."""
    out: dict[str, dict] = {}
    for line in (DATA / "golden_run.jsonl").read_text(encoding="utf-8").splitlines():
        ev = json.loads(line)
        out.setdefault(ev["type"], ev["data"])
    out.update(HAND_MADE)
    return out


def test_every_event_type_has_a_sample_and_round_trips() -> None:
    samples = _samples()
    assert set(et.PAYLOADS) <= set(samples), sorted(set(et.PAYLOADS) - set(samples))
    for type_, model in et.PAYLOADS.items():
        ev = Event(seq=1, tick=0, time=T0, type=type_, agent="A", data=samples[type_])
        assert isinstance(ev.data, model), type_
        again = Event.model_validate_json(ev.model_dump_json())
        assert again == ev and again.data.logged == samples[type_], type_


def test_fields_read_as_attributes_with_on_disk_names_kept() -> None:
    ev = Event(tick=1, time=T0, type="move", agent="A", data={"from": [1, 2], "to": [3, 4], "destination": "x"})
    assert ev.data.from_ == (1, 2) and ev.data.to == (3, 4)
    assert json.loads(ev.model_dump_json())["data"] == {"from": [1, 2], "to": [3, 4], "destination": "x"}


def test_the_log_keeps_the_writers_bytes_and_records_its_version(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.emit(0, T0, "run_start", seed=1, map="m.json", scenario="s", agents=["A"], seconds_per_tick=60,
             start=T0.isoformat())
    log.emit(0, T0, "move", "A", to=[3, 4], destination="x", **{"from": [1, 2]})
    log.close()
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["data"]["schema_version"] == et.SCHEMA_VERSION
    assert '"data":{"to":[3,4],"destination":"x","from":[1,2]}' in lines[1]  # kwargs order, not the model's
    assert [e.type for e in read_events(tmp_path / "events.jsonl")] == ["run_start", "move"]


def test_a_bad_shape_is_refused_when_written(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    with pytest.raises(ValidationError, match="to"):
        log.emit(0, T0, "move", "A", destination="x")
    with pytest.raises(ValidationError, match="unknown event type 'teleport'"):
        log.emit(0, T0, "teleport", "A")
    log.close()
    assert (tmp_path / "events.jsonl").read_text(encoding="utf-8") == ""


def test_a_v0_1_log_without_a_version_loads() -> None:
    """A log written before typed events (no schema_version) reads as it is."""
    path = DATA / "events_v0_1.jsonl"
    assert "schema_version" not in path.read_text(encoding="utf-8")
    events = list(read_events(path))
    assert events[0].type == "run_start" and events[0].data.schema_version is None
    assert isinstance(events[0].data, et.RunStart) and events[0].data.seconds_per_tick == 60
    moves = [e for e in events if e.type == "move"]
    assert moves and all(isinstance(e.data, et.Move) for e in moves)


def _log_with(tmp_path: Path, first: dict, then: dict | None = None) -> Path:
    lines = (DATA / "events_v0_1.jsonl").read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[0])
    head["data"].update(first)
    out = [json.dumps(head), *lines[1:5]]
    if then is not None:
        out.append(json.dumps(then))
    out.append(lines[-1])
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def test_a_newer_schema_version_is_one_clear_line(tmp_path: Path) -> None:
    path = _log_with(tmp_path, {"schema_version": "9.0"})
    with pytest.raises(EventLogError) as err:
        list(read_events(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}:1: ") and "'9.0'" in msg and "\n" not in msg


def test_an_unknown_event_type_is_one_clear_line(tmp_path: Path) -> None:
    path = _log_with(tmp_path, {}, {"seq": 99, "tick": 0, "time": T0.isoformat(), "type": "teleport",
                                    "agent": "A", "data": {}})
    with pytest.raises(EventLogError) as err:
        list(read_events(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}:6: ") and "unknown event type 'teleport'" in msg and "\n" not in msg


def test_replay_of_a_newer_log_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from town.app.cli import app

    _log_with(tmp_path, {"schema_version": "9.0"})
    shot = tmp_path / "shot.png"
    result = CliRunner().invoke(app, ["replay", str(tmp_path), "--screenshot", str(shot)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "events.jsonl:1:" in lines[0] and "'9.0'" in lines[0]
    assert not shot.exists()
