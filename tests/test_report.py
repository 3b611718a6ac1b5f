"""Report metrics over synthetic event streams written with the real EventLog."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from town.app import report
from town.world.events import Event, EventLog, read_events

T0 = datetime(2023, 2, 13, 8, 0)
AGENTS = ["Alice", "Bob", "Carol", "Dan"]


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def write_run(run_dir: Path, *, summary: dict | None = None, facts: list | None = None) -> Path:
    """A small run: the party fact spreads Alice -> Bob (hour 1) -> Carol (hour 2); Dan never hears it."""
    log = EventLog(run_dir / "events.jsonl")
    log.emit(0, at(0), "run_start", seed=7, map="smallville", scenario="valentine", agents=AGENTS,
             seconds_per_tick=60, start=T0.isoformat())
    log.emit(1, at(0.1), "action", agent="Alice", kind="use_object", description="brewing coffee", emoji="",
             target="Hobbs Cafe:cafe:coffee machine", duration_min=30)
    log.emit(2, at(0.2), "action", agent="Bob", kind="move_to", description="walking to the cafe", emoji="",
             target="Hobbs Cafe:cafe", duration_min=0)
    # hour 0: Alice and Dan chat about the weather (no keyword)
    log.emit(3, at(0.5), "chat", conversation="c1", speaker="Alice", listeners=["Dan"], text="Nice weather today.")
    log.emit(4, at(0.55), "chat", conversation="c1", speaker="Dan", listeners=["Alice"], text="It is!")
    log.emit(5, at(0.6), "conversation_end", conversation="c1", participants=["Alice", "Dan"], ended_by="Dan", lines=[])
    # hour 1: Alice tells Bob about the party
    log.emit(6, at(1.5), "chat", conversation="c2", speaker="Alice", listeners=["Bob"],
             text="I'm hosting a VALENTINE'S party at Hobbs Cafe!")
    log.emit(7, at(1.55), "chat", conversation="c2", speaker="Bob", listeners=["Alice"], text="I'll come.")
    # hour 2: Bob tells Carol; Alice and Bob talk again
    log.emit(8, at(2.25), "chat", conversation="c3", speaker="Bob", listeners=["Carol"], text="There's a party on the 14th.")
    log.emit(9, at(2.5), "chat", conversation="c4", speaker="Alice", listeners=["Bob"], text="See you there.")
    # mind notes
    for i, (agent, step, cached, pt, ct, attempts) in enumerate([
        ("Alice", "plan", False, 100, 20, 1),
        ("Alice", "plan", True, 100, 20, 1),
        ("Bob", "converse", False, 50, 10, 2),
        ("Carol", "reflect", False, 200, 40, 1),
    ]):
        log.emit(10 + i, at(0.3 + 0.7 * i), "llm_call", agent=agent, step=step, prompt_tokens=pt, completion_tokens=ct,
                 cached=cached, latency_s=0.5, model="qwen-test", attempts=attempts)
    log.emit(20, at(1.2), "fallback", agent="Bob", step="converse", reason="invalid JSON")
    log.emit(21, at(2.2), "fallback", agent="Bob", step="converse", reason="invalid JSON")
    log.emit(22, at(2.3), "fallback", agent="Dan", step="react", reason="timeout")
    log.emit(23, at(1.0), "plan_cache_hit", agent="Dan")
    log.emit(24, at(2.4), "reflection", agent="Carol", text="Bob seems excited about the party.")
    log.emit(25, at(2.45), "tool", agent="Carol", tool="town_directory")
    log.emit(26, at(2.46), "tool", agent="Carol", tool="town_directory")
    log.emit(27, at(2.47), "tool", agent="Alice", tool="look_around")
    log.emit(30, at(2.9), "tick")
    log.close()
    if summary is not None:
        (run_dir / "summary.json").write_text(json.dumps(summary))
    facts = facts if facts is not None else [
        {"id": "party", "text": "Isabella's Valentine's party", "known_by": ["Alice"], "keywords": ["valentine", "party"]},
        {"id": "election", "text": "Sam runs for mayor", "known_by": ["Dan"], "keywords": ["mayor"]},
    ]
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump({"name": "valentine", "facts": facts}))
    return run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run", summary={"ticks": 30, "wall_s": 12.5, "minds": {"plan_cache": {"saved_calls": 3}}})


@pytest.fixture
def events(run_dir: Path) -> list:
    return list(read_events(run_dir / "events.jsonl"))


def test_conversation_graph_edges_and_weights(events: list) -> None:
    g = report.conversation_graph(events)
    assert sorted(g.nodes) == AGENTS
    assert sorted(tuple(sorted(e)) for e in g.edges) == [("Alice", "Bob"), ("Alice", "Dan"), ("Bob", "Carol")]
    assert g["Alice"]["Bob"]["conversations"] == 2  # c2 and c4
    assert g["Alice"]["Bob"]["weight"] == 2
    assert g["Alice"]["Bob"]["lines"] == 3
    assert g["Alice"]["Dan"]["conversations"] == 1 and g["Alice"]["Dan"]["lines"] == 2
    assert g["Bob"]["Carol"]["conversations"] == 1 and g["Bob"]["Carol"]["lines"] == 1


def test_conversation_graph_until_cuts_off_later_talk(events: list) -> None:
    g = report.conversation_graph(events, until=at(2))
    assert g.number_of_edges() == 2
    assert g["Alice"]["Bob"]["conversations"] == 1 and g["Alice"]["Bob"]["lines"] == 2


def test_density_over_time_is_cumulative_per_hour(events: list) -> None:
    dens = report.density_over_time(events)
    pairs = 4 * 3 / 2
    assert dens == [(0, pytest.approx(1 / pairs)), (1, pytest.approx(2 / pairs)), (2, pytest.approx(3 / pairs))]


def test_diffusion_counts_per_hour(events: list, run_dir: Path) -> None:
    facts = report.load_facts(run_dir / "scenario.yaml")
    curves = report.diffusion(events, facts)
    assert curves["party"] == [(0, 1), (1, 2), (2, 3)]  # Alice; + Bob at hour 1; + Carol at hour 2
    assert curves["election"] == [(0, 1), (1, 1), (2, 1)]  # nobody mentions the mayor
    times = report.knowledge_times(events, facts[0])
    assert set(times) == {"Alice", "Bob", "Carol"}
    assert times["Bob"] == at(1.5)


def test_conversation_end_only_counts_when_no_chat_lines(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.emit(0, at(0), "run_start", seed=1, map="m", scenario="s", agents=["A", "B"], seconds_per_tick=60, start="")
    log.emit(5, at(1.2), "conversation_end", conversation="x", participants=["A", "B"], ended_by="A",
             lines=[{"speaker": "A", "text": "the party is on"}, {"speaker": "B", "text": "ok"}])
    log.close()
    ev = list(read_events(tmp_path / "events.jsonl"))
    g = report.conversation_graph(ev)
    assert g["A"]["B"]["conversations"] == 1 and g["A"]["B"]["lines"] == 2
    fact = report.Fact(id="p", known_by=[], keywords=["Party"])
    assert report.diffusion(ev, [fact]) == {"p": [(0, 0), (1, 2)]}


def test_calls_tokens_by_step_agent_and_hour(events: list) -> None:
    by_step = report.calls_by_step(events)
    assert list(by_step) == ["converse", "plan", "reflect"]
    assert by_step["plan"]["calls"] == 2 and by_step["plan"]["cache_hits"] == 1
    assert by_step["plan"]["prompt_tokens"] == 200 and by_step["plan"]["completion_tokens"] == 40
    assert by_step["converse"]["retries"] == 1
    by_agent = report.calls_by_agent(events)
    assert by_agent["Alice"]["calls"] == 2 and by_agent["Carol"]["prompt_tokens"] == 200
    per_hour = report.calls_by_hour(events)
    assert [h for h, _ in per_hour] == [0, 1, 2]
    assert [t["calls"] for _, t in per_hour] == [1, 2, 1]  # calls at 0.3, 1.0, 1.7, 2.4 game hours
    assert per_hour[1][1]["prompt_tokens"] == 150


def test_fallbacks_counted_by_step_and_reason(events: list) -> None:
    assert report.fallbacks(events) == {("converse", "invalid JSON"): 2, ("react", "timeout"): 1}
    assert report.fallbacks([e for e in events if e.type != "fallback"]) == {}


def test_behaviour_metrics(events: list) -> None:
    tl = report.action_timeline(events)
    assert list(tl) == ["Alice", "Bob"]
    (alice,) = tl["Alice"]
    assert alice.kind == "use_object" and alice.end - alice.start == timedelta(minutes=30)
    (bob,) = tl["Bob"]
    assert bob.end == at(2.9)  # no duration: lasts to the end of the log
    assert report.count_notes(events, "plan_cache_hit") == {"Dan": 1}
    assert report.reflections(events) == [(at(2.4), "Carol", "Bob seems excited about the party.")]
    assert report.tool_counts(events) == {"look_around": 1, "town_directory": 2}


def test_html_report_has_plots_and_numbers(run_dir: Path) -> None:
    out = report.build_report(run_dir)
    assert out == run_dir / "report.html"
    text = out.read_text()
    assert text.count("<img") >= 6 and "data:image/png;base64," in text
    for needle in ("seed", "<td>7</td>", "qwen-test", "12.50 s over 1 session(s)", "invalid JSON", "timeout",
                   "Bob seems excited about the party.", "town_directory", "Plan cache hits: 1",
                   "minds.plan_cache", "saved_calls", "Total: 4 calls, 1 answered from the response cache, 450 prompt tokens"):
        assert needle in text, needle
    # diffusion row for the party fact, per hour
    assert "<tr><td>party</td><td>1</td><td>2</td><td>3</td></tr>" in text


def test_markdown_report_writes_pngs_next_to_it(run_dir: Path, tmp_path: Path) -> None:
    out = report.build_report(run_dir, tmp_path / "out" / "r.md", fmt="md")
    text = out.read_text()
    pngs = sorted((tmp_path / "out").glob("r-*.png"))
    assert len(pngs) >= 6
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png.name})" in text
    assert "| party | 1 | 2 | 3 |" in text
    assert "| converse | invalid JSON | 2 |" in text
    assert "| 1 (09:00) | 2 | 1 | 150 | 30 | 1 | 1.00 |" in text  # LLM tallies of game hour 1 (09:00-10:00)


def test_wall_time_sums_sessions(events: list) -> None:
    assert report.wall_time(events, {"wall_s": 12.5}) == (12.5, 1)
    assert report.wall_time(events, None) is None
    ends = [Event(tick=30, time=at(2.9), type="run_end", data={"summary": {"wall_s": w}}) for w in (3.0, 4.5)]
    assert report.wall_time(events + ends, {"wall_s": 4.5}) == (7.5, 2)


def test_html_escapes_logged_text(tmp_path: Path) -> None:
    run = tmp_path / "run"
    log = EventLog(run / "events.jsonl")
    log.emit(0, at(0), "run_start", seed=1, map="m", scenario="s", agents=["A"], seconds_per_tick=60, start="")
    log.emit(1, at(0.2), "reflection", agent="A", text="<script>x</script> & more")
    log.close()
    text = report.build_report(run).read_text()
    assert "<script>" not in text and "&lt;script&gt;x&lt;/script&gt; &amp; more" in text


def test_no_fallbacks_and_summary_accounting(tmp_path: Path) -> None:
    run = tmp_path / "run"
    log = EventLog(run / "events.jsonl")
    log.emit(0, at(0), "run_start", seed=3, map="m", scenario="s", agents=["A"], seconds_per_tick=60, start="")
    log.emit(1, at(0.5), "tick")
    log.close()
    tally = {"calls": 5, "cache_hits": 2, "prompt_tokens": 500, "completion_tokens": 60, "retries": 0, "fallbacks": 0, "latency_s": 1.0}
    (run / "summary.json").write_text(json.dumps({"minds": {"llm": {"by_step": {"plan": tally}, "by_agent": {"A": tally}}}}))
    text = report.build_report(run, fmt="md").read_text()
    assert "Source: summary.json" in text and "| plan | 5 | 2 | 500 | 60 |" in text
    assert "Fallbacks: 0" in text
    assert "No seeded facts" in text
    assert "wall time" in text and "not recorded" in text


def test_bad_run_dirs_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        report.build_report(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="events.jsonl not found"):
        report.build_report(tmp_path)
    (tmp_path / "events.jsonl").write_text("")
    with pytest.raises(ValueError, match="no events"):
        report.build_report(tmp_path)
    with pytest.raises(ValueError, match="'html' or 'md'"):
        report.build_report(tmp_path, fmt="pdf")  # type: ignore[arg-type]


def test_bad_facts_name_the_file_and_entry(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", facts=[{"id": "party", "known_by": ["Alice"], "keywords": ["party"]}, {"id": "x"}])
    with pytest.raises(ValueError, match=r"scenario.yaml: facts\[1\] is invalid"):
        report.build_report(run)


def test_agent_chat_line_with_markup_is_escaped_in_html(tmp_path: Path) -> None:
    """Agent text is untrusted: markup in a chat line, an action or an agent name shows as text, never raw."""
    run = tmp_path / "run"
    log = EventLog(run / "events.jsonl")
    log.emit(0, at(0), "run_start", seed=1, map="m", scenario="s", agents=["A", "B"], seconds_per_tick=60, start="")
    log.emit(1, at(0.2), "action", agent="A", kind="chat", description="<script>alert(1)</script>", emoji="",
             target="", duration_min=10)
    log.emit(2, at(0.3), "chat", conversation="c", speaker="A", listeners=["<b>B</b>"], text="<script>alert(1)</script>")
    log.close()
    text = report.build_report(run).read_text()
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;b&gt;B&lt;/b&gt;" in text


def test_html_and_markdown_carry_every_figure_of_the_sections(run_dir: Path, tmp_path: Path) -> None:
    """Rendering keeps the facts: every sentence and every table cell the sections hold appears in both formats."""
    import html as html_lib

    secs = report.sections(report.load_run(run_dir))
    page = report.build_report(run_dir).read_text()
    md = report.build_report(run_dir, tmp_path / "r.md", fmt="md").read_text()
    assert [s.title for s in secs] == ["Run", "Who talked to whom", "Information diffusion", "LLM calls and tokens",
                                       "Behaviour"]
    cells = 0
    for sec in secs:
        assert f"<h2>{sec.title}</h2>" in page and f"## {sec.title}" in md
        for t in sec.text:
            assert f"<p>{html_lib.escape(t)}</p>" in page.replace("&#39;", "&#x27;").replace("&#34;", "&quot;"), t
            assert t in md
        for _, table in sec.tables:
            for row in table.rows:
                shown = [f"{c:.2f}" if isinstance(c, float) else str(c) for c in row]
                assert "| " + " | ".join(s.replace("|", "\\|") for s in shown) + " |" in md, row
                assert "<tr>" + "".join(f"<td>{html_lib.escape(s, quote=False)}</td>" for s in shown) + "</tr>" in \
                    page.replace("&#39;", "'").replace("&#34;", '"'), row
                cells += len(row)
    assert cells > 100  # the scripted run fills every table


def test_report_of_a_recorded_v0_1_run_agrees_with_the_runs_own_accounting(tmp_path: Path) -> None:
    """A log written before typed events still reports, and its llm_call notes add up to what the run's own
    accounting wrote in run_end (per step and per agent)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").write_bytes((Path(__file__).parent / "data" / "events_v0_1.jsonl").read_bytes())
    events = report.load_run(run).events
    (end,) = [e for e in events if e.type == "run_end"]
    accounting = end.data.summary["minds"]["llm"]
    for ours, theirs in ((report.calls_by_step(events), accounting["by_step"]),
                         (report.calls_by_agent(events), accounting["by_agent"])):
        assert set(ours) == set(theirs)
        for key, tally in ours.items():
            for f in ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "retries"):
                assert tally[f] == theirs[key][f], (key, f)
    text = report.build_report(run, fmt="md").read_text()
    total = accounting["total"]
    assert (f"Total: {total['calls']} calls, {total['cache_hits']} answered from the response cache, "
            f"{total['prompt_tokens']} prompt tokens, {total['completion_tokens']} completion tokens") in text
    assert "| wall time | 1.04 s over 1 session(s) |" in text and "| seed | 7 |" in text
