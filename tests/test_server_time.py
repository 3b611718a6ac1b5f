"""The model server's share of a run's wall time and its prefix-cache hit rate, on hand-made events with known
answers: overlapping and disjoint server intervals, a resumed run's two sessions, figures missing -> None."""

from __future__ import annotations

from datetime import datetime

import pytest

from town.app.report import busy_seconds, run_server_time, server_line, wall_time
from town.world.events import Event

T0 = datetime(2023, 2, 13, 8, 0)


def call(ended_at: float | None = None, prompt_ms: float | None = None, gen_ms: float | None = None,
         **server: int) -> Event:
    data = {"step": "s", "prompt_tokens": server.pop("prompt_tokens", 0)}
    figures = {"ended_at": ended_at, "server_prompt_ms": prompt_ms, "server_gen_ms": gen_ms,
               **{f"server_{k}": v for k, v in server.items()}}
    data.update({k: v for k, v in figures.items() if v is not None})
    return Event(tick=1, time=T0, type="llm_call", agent="A", data=data)


def run_end(wall_s: float) -> Event:
    return Event(tick=9, time=T0, type="run_end", data={"summary": {"wall_s": wall_s}})


def test_union_of_intervals():
    assert busy_seconds([]) == 0.0
    assert busy_seconds([(0, 2), (5, 6)]) == 3.0  # disjoint: summed
    assert busy_seconds([(0, 4), (1, 2), (3, 6)]) == 6.0  # nested and overlapping: counted once
    assert busy_seconds([(3, 6), (0, 3)]) == 6.0  # touching, given out of order


def test_overlapping_slots_are_not_counted_twice():
    # two slots at once: [100, 104] and [102, 105] (prompt + generation ms before arrival), one later alone [110, 111]
    events = [
        call(104.0, 1000.0, 3000.0, prompt_n=30, cache_n=10, gen_n=30),
        call(105.0, 1000.0, 2000.0, prompt_n=20, cache_n=40, gen_n=20),
        call(111.0, 500.0, 500.0, prompt_n=10, cache_n=0, gen_n=5),
        run_end(20.0),
    ]
    st = run_server_time(events, wall_time(events, None)[0])
    assert st.busy_s == pytest.approx(6.0)  # not 4 + 3 + 1 = 8
    assert st.busy_share == pytest.approx(0.3)
    assert (st.prompt_reused, st.prompt_evaluated) == (50, 60)
    assert st.cache_hit_rate == pytest.approx(50 / 110)
    assert st.gen_tokens == 55 and st.gen_tokens_per_s == pytest.approx(55 / 5.5)
    assert server_line(st) == "model server busy 30% of the wall time (6 s of 20 s); prefix cache reused 45% of prompt tokens"


def test_a_resumed_run_counts_the_wall_time_of_both_sessions():
    events = [call(10.0, 1000.0, 1000.0, prompt_n=1, cache_n=0, gen_n=1), run_end(10.0),
              call(50.0, 2000.0, 1000.0, prompt_n=1, cache_n=0, gen_n=1), run_end(15.0)]
    st = run_server_time(events, wall_time(events, None)[0])
    assert st.wall_s == 25.0 and st.busy_s == pytest.approx(5.0) and st.busy_share == pytest.approx(0.2)


def test_missing_figures_are_none_not_zero():
    # an old log, or a server that said nothing: no figure at all, and no summary line
    st = run_server_time([call(), run_end(10.0)], 10.0)
    assert st.calls == 0
    assert (st.busy_s, st.busy_share, st.prompt_reused, st.cache_hit_rate, st.gen_tokens_per_s) == (None,) * 5
    assert server_line(st) is None
    # vLLM: cached_tokens only -> a hit rate (the rest of the prompt evaluated) but no busy time, no speed
    st = run_server_time([call(12.0, cache_n=30, prompt_tokens=40)], 10.0)
    assert st.busy_s is None and st.busy_share is None and st.gen_tokens_per_s is None
    assert (st.prompt_reused, st.prompt_evaluated, st.cache_hit_rate) == (30, 10, 0.75)
    assert server_line(st) == "prefix cache reused 75% of prompt tokens"
    # timings but no wall time recorded (a killed run): busy seconds, no share
    st = run_server_time([call(12.0, 100.0, 100.0, prompt_n=5, cache_n=0, gen_n=2)], None)
    assert st.busy_s == pytest.approx(0.2) and st.busy_share is None
    assert st.cache_hit_rate == 0.0  # a real zero: the server said nothing was reused


def test_speculative_decoding_acceptance_is_summed_over_calls_and_named_in_the_line():
    events = [call(104.0, 1000.0, 3000.0, prompt_n=30, cache_n=10, gen_n=30, draft_n=30, draft_accepted=24),
              call(110.0, 500.0, 500.0, prompt_n=5, cache_n=5, gen_n=10, draft_n=10, draft_accepted=6),
              call(111.0, 100.0, 100.0, prompt_n=5, cache_n=5, gen_n=1)]  # no speculation said: not counted
    st = run_server_time(events, 20.0)
    assert st.draft_tokens == 40 and st.draft_acceptance == pytest.approx(0.75)
    assert "speculative decoding: 75% of 40 drafted tokens accepted" in server_line(st)
    plain = run_server_time([call(104.0, 1000.0, 3000.0, prompt_n=30, cache_n=10, gen_n=30)], 20.0)
    assert plain.draft_tokens is None and plain.draft_acceptance is None and "speculative" not in server_line(plain)


def test_an_eval_run_shares_the_server_time_over_the_wall_time_of_every_session(tmp_path):
    # a session killed before its run_end leaves its calls but not its wall time in the events; the eval's own
    # tally (eval_wall.json, written tick by tick) has all of it, and the share is taken of that
    import json

    from town.app.eval.summary import load_run

    start = Event(tick=0, time=T0, type="run_start", data={"seed": 0, "map": "m", "scenario": "s", "agents": ["A"],
                                                           "seconds_per_tick": 60, "start": T0.isoformat()})
    events = [start, call(10.0, 1000.0, 1000.0, prompt_n=1, cache_n=0, gen_n=1),
              call(50.0, 2000.0, 1000.0, prompt_n=1, cache_n=0, gen_n=1), run_end(10.0)]
    (tmp_path / "events.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in events))
    (tmp_path / "eval_probe.json").write_text("{}")
    (tmp_path / "eval_wall.json").write_text(json.dumps({"wall_s": 50.0, "sessions": 2}))
    values = load_run(tmp_path)["values"]
    assert values["wall_s"] == 50.0 and values["server_busy_share"] == pytest.approx(5.0 / 50.0)
