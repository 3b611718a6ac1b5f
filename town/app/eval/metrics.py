"""Per-run metrics of `town eval`: pure functions of a run's typed events and its end-of-run probe.

The probe (``RUN/eval_probe.json``, written by :mod:`town.app.eval.probe`) holds the interviews: who
knows each seeded fact, who knows whom, whether each answer is backed by the agent's own memories,
and when each agent first held each fact in memory. Nothing here renders or calls a model.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from town.world import event_types as et
from town.world.events import Event
from town.app.report import action_timeline, run_server_time, start_time, utterances

ODD_SLEEP_HOURS = (10, 20)  # asleep between 10:00 and 20:00 game time counts as sleeping at odd hours
REPEAT_RATIO = 0.9          # a line this similar (difflib) to an earlier line of the run is repeated/parroted


@dataclass(frozen=True)
class MetricInfo:
    """How a metric reads in a report: its label, unit and which direction is better (+1, -1, 0: neither)."""

    name: str
    label: str
    unit: str
    better: int


CATALOGUE: tuple[MetricInfo, ...] = (
    MetricInfo("spread", "information spread", "agents", +1),
    MetricInfo("held", "seeded facts held in memory", "agents", +1),
    MetricInfo("conversations", "number of conversations", "conversations", +1),
    MetricInfo("lines_per_conversation", "conversation length", "lines", +1),
    MetricInfo("fact_conversation_share", "conversations passing on a seeded fact", "share", +1),
    MetricInfo("repeated_line_share", "repeated or parroted lines", "share", -1),
    MetricInfo("network_density", "who-knows-whom density", "share", +1),
    MetricInfo("on_schedule_share", "awake time where the plan says", "share", +1),
    MetricInfo("trespass_min", "time in places the agent may not enter", "agent-minutes", -1),
    MetricInfo("odd_sleep_min", "sleep at odd hours", "agent-minutes", -1),
    MetricInfo("unstarted_plan_share", "plan items never started", "share", -1),
    MetricInfo("long_block_share", "scheduled time in blocks over 4 hours", "share", -1),
    MetricInfo("hallucination_rate", "interview claims not backed by memory", "share", -1),
    MetricInfo("calls_per_agent_day", "LLM calls", "per agent per game day", -1),
    MetricInfo("prompt_tokens_per_agent_day", "prompt tokens", "per agent per game day", -1),
    MetricInfo("completion_tokens_per_agent_day", "completion tokens", "per agent per game day", -1),
    MetricInfo("retries", "LLM retries", "retries", -1),
    MetricInfo("fallbacks", "LLM fallbacks", "fallbacks", -1),
    MetricInfo("wall_s", "wall time", "s", -1),
    MetricInfo("server_busy_share", "wall time the model server was working", "share", +1),
    MetricInfo("prefix_cache_hit_rate", "prompt tokens reused from the server's prefix cache", "share", +1),
)


def metric_info(name: str) -> MetricInfo:
    """The catalogue entry, or one made for a per-fact metric such as ``spread.party``."""
    for m in CATALOGUE:
        if m.name == name:
            return m
    base, _, fact = name.partition(".")
    for m in CATALOGUE:
        if m.name == base and fact:
            return MetricInfo(name, f"{m.label} of '{fact}'", m.unit, m.better)
    raise KeyError(f"unknown metric {name!r}")


# -- information diffusion -------------------------------------------------------------------
def mentions(text: str, keywords: Sequence[str]) -> bool:
    """A text mentions a fact when it holds every keyword (case-insensitive)."""
    low = text.lower()
    return all(k.lower() in low for k in keywords)


def diffusion_curve(first_held: dict[str, datetime | None], start: datetime, end: datetime,
                    points: int = 25) -> list[tuple[float, int]]:
    """``(game minutes since start, agents holding the fact by then)`` at ``points`` even steps up to ``end``."""
    span = max(0.0, (end - start) / timedelta(minutes=1))
    grid = [span * i / (points - 1) for i in range(points)] if points > 1 else [span]
    times = [t for t in first_held.values() if t is not None]
    return [(m, sum(1 for t in times if t <= start + timedelta(minutes=m))) for m in grid]


def spread(answers: Sequence[dict[str, Any]], fact_id: str, known_by: Sequence[str]) -> int:
    """Agents, beyond those seeded with it, whose interview answer was judged to state the fact."""
    return sum(1 for a in answers if a["fact"] == fact_id and a.get("knows") is True and a["agent"] not in known_by)


def held(first_held: dict[str, datetime | None], known_by: Sequence[str]) -> int:
    """Agents, beyond those seeded with it, who came to hold the fact in memory."""
    return sum(1 for agent, t in first_held.items() if t is not None and agent not in known_by)


# -- social ----------------------------------------------------------------------------------
def conversation_lines(events: Sequence[Event]) -> dict[str, list[str]]:
    """Conversation id -> its lines, in order."""
    out: dict[str, list[str]] = defaultdict(list)
    for u in utterances(events):
        out[u.conversation].append(u.text)
    return dict(out)


def fact_conversation_share(events: Sequence[Event], facts: Sequence[dict[str, Any]]) -> float | None:
    """Share of conversations with a line mentioning a seeded fact (None without conversations)."""
    convs = conversation_lines(events)
    if not convs:
        return None
    passing = sum(1 for lines in convs.values() if any(mentions(t, f["keywords"]) for t in lines for f in facts))
    return passing / len(convs)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def repeated_line_share(events: Sequence[Event], ratio: float = REPEAT_RATIO) -> float | None:
    """Share of chat lines nearly the same as an earlier line of the run, by anyone (None without lines)."""
    seen: list[str] = []
    repeated = 0
    for u in utterances(events):
        text = _norm(u.text)
        if any(text == s or difflib.SequenceMatcher(None, text, s).ratio() >= ratio for s in seen):
            repeated += 1
        seen.append(text)
    return repeated / len(seen) if seen else None


def network_density(knows: Sequence[dict[str, Any]]) -> float | None:
    """Share of judged ordered pairs (a asked "Who is b?") where a knows b, as Park et al. measured it."""
    judged = [k for k in knows if k.get("knows") is not None]
    return sum(1 for k in judged if k["knows"]) / len(judged) if judged else None


# -- coherence -------------------------------------------------------------------------------
def _sleep_spans(events: Sequence[Event]) -> dict[str, list[tuple[datetime, datetime]]]:
    return {a: [(s.start, s.end) for s in spans if s.kind == "sleep"] for a, spans in action_timeline(events).items()}


def _asleep(spans: list[tuple[datetime, datetime]], t: datetime) -> bool:
    return any(a <= t < b for a, b in spans)


def _planned_places(events: Sequence[Event]) -> dict[str, list[tuple[datetime, datetime, str]]]:
    """Per agent, ``(start, end, address)`` of every planned task, from ``decompose`` notes (a plan-cache hit
    replays the agent's earlier decomposition of the same activity and length); a later plan overrides."""
    earlier: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    out: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for ev in events:
        if ev.type not in ("decompose", "plan_cache_hit") or ev.agent is None:
            continue
        d = cast("et.DecomposeNote | et.PlanCacheHit", ev.data)
        key = (ev.agent, str(d.activity), d.minutes or 0)
        tasks = d.tasks if isinstance(d, et.DecomposeNote) else earlier.get(key)
        if ev.type == "decompose":
            earlier[key] = tasks or []
        t = ev.time
        mine = [s for s in out[ev.agent] if s[0] < ev.time]
        out[ev.agent] = [(a, min(b, ev.time), addr) for a, b, addr in mine]
        for task in tasks or []:
            end = t + timedelta(minutes=int(task.get("duration_min", 0)))
            out[ev.agent].append((t, end, str(task.get("address", ""))))
            t = end
    return dict(out)


def on_schedule_share(events: Sequence[Event]) -> float | None:
    """Of the awake ticks an agent had a planned task, the share spent in the task's sector."""
    plans, sleeps = _planned_places(events), _sleep_spans(events)
    hit = total = 0
    for ev in events:
        if ev.type != "agents":
            continue
        for agent, state in cast(et.Agents, ev.data).states.items():
            if _asleep(sleeps.get(agent, []), ev.time):
                continue
            task = next((addr for a, b, addr in plans.get(agent, []) if a <= ev.time < b), None)
            if task is None:
                continue
            total += 1
            hit += int((state.address or "").split(":")[0] == task.split(":")[0])
    return hit / total if total else None


def may_enter(agent: str, address: str | None, places: dict[str, Any]) -> bool:
    """Homes (private sectors) and bedrooms (private arenas) are for the people who live there."""
    if not address:
        return True
    home = places.get("homes", {}).get(agent, "")
    parts = address.split(":")
    if parts[0] in places.get("private_sectors", []) and home.split(":")[0] != parts[0]:
        return False
    arena = ":".join(parts[:2])
    return not (arena in places.get("private_arenas", []) and home != arena)


def trespass_minutes(events: Sequence[Event], places: dict[str, Any], minutes_per_tick: float) -> float:
    """Agent-minutes spent in places the agent may not enter (from the per-tick ``agents`` states)."""
    n = 0
    for ev in events:
        if ev.type == "agents":
            states = cast(et.Agents, ev.data).states
            n += sum(1 for a, s in states.items() if not may_enter(a, s.address, places))
    return n * minutes_per_tick


def odd_sleep_minutes(events: Sequence[Event], hours: tuple[int, int] = ODD_SLEEP_HOURS) -> float:
    """Agent-minutes of sleep that fall between ``hours[0]``:00 and ``hours[1]``:00 of any day."""
    total = 0.0
    for spans in _sleep_spans(events).values():
        for a, b in spans:
            day = a.replace(hour=0, minute=0, second=0, microsecond=0)
            while day < b:
                lo, hi = day + timedelta(hours=hours[0]), day + timedelta(hours=hours[1])
                total += max(0.0, (min(b, hi) - max(a, lo)) / timedelta(minutes=1))
                day += timedelta(days=1)
    return total


#: a schedule block longer than this many hours is a long one (the 1.5B stretches a day's last item to bedtime:
#: "sleep" 08:00-23:00, "Close the cafe and enjoy the evening" 13:00-23:00)
LONG_BLOCK_H = 4


def long_block_share(events: Sequence[Event], hours: float = LONG_BLOCK_H) -> float | None:
    """Of the time the day schedules cover (every ``schedule`` note, each block once), the share in blocks longer
    than ``hours``; None without a schedule. A block ending at or before its start runs past midnight."""
    total = long = 0.0
    for ev in events:
        if ev.type != "schedule":
            continue
        for block in cast(et.ScheduleNote, ev.data).blocks:
            minutes = ((_hhmm(block["end"]) - _hhmm(block["start"])) / timedelta(minutes=1)) % (24 * 60)
            total += minutes
            long += minutes if minutes > hours * 60 else 0
    return long / total if total else None


def unstarted_plan_share(events: Sequence[Event]) -> float | None:
    """Of the schedule blocks that ended before the log does, the share never decomposed into tasks."""
    if not events:
        return None
    end = max(ev.time for ev in events)
    started: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for ev in events:
        if ev.type in ("decompose", "plan_cache_hit") and ev.agent:
            activity = cast("et.DecomposeNote | et.PlanCacheHit", ev.data).activity
            started[ev.agent].append((ev.time, _norm(activity or "")))
    ended = unstarted = 0
    for ev in events:
        if ev.type != "schedule" or not ev.agent:
            continue
        day = ev.time.replace(hour=0, minute=0, second=0, microsecond=0)
        for block in cast(et.ScheduleNote, ev.data).blocks:
            b0 = day + _hhmm(block["start"])
            b1 = day + _hhmm(block["end"]) if _hhmm(block["end"]) > _hhmm(block["start"]) else day + timedelta(days=1)
            if b1 > end:
                continue
            ended += 1
            act = _norm(str(block.get("activity", "")))
            unstarted += int(not any(a == act and b0 - timedelta(minutes=1) <= t <= b1 for t, a in started[ev.agent]))
    return unstarted / ended if ended else None


def _hhmm(s: str) -> timedelta:
    h, m = s.split(":")
    return timedelta(hours=int(h), minutes=int(m))


# -- hallucination and cost ------------------------------------------------------------------
def hallucination_rate(rows: Sequence[dict[str, Any]]) -> float | None:
    """Share of judged interview answers with a claim not backed by the agent's retrieved memories."""
    judged = [r for r in rows if r.get("supported") is not None]
    return sum(1 for r in judged if not r["supported"]) / len(judged) if judged else None


#: what ``calls_by_step`` counts for each step
STEP_FIGURES = ("calls", "prompt_tokens", "completion_tokens")


def no_step_figures() -> dict[str, int]:
    """A step's figures before its first call."""
    return dict.fromkeys(STEP_FIGURES, 0)


def cost(events: Sequence[Event], n_agents: int, game_days: float) -> dict[str, Any]:
    """LLM calls and tokens per agent per game day, retries and fallbacks (total and by step), and each step's
    calls and tokens in the run (``calls_by_step``)."""
    calls = [cast(et.LLMCall, ev.data) for ev in events if ev.type == "llm_call"]
    per = max(n_agents, 1) * max(game_days, 1e-9)
    retries: dict[str, int] = defaultdict(int)
    falls: dict[str, int] = defaultdict(int)
    by_step: dict[str, dict[str, int]] = defaultdict(no_step_figures)
    for c in calls:
        retries[c.step or "?"] += max(0, (1 if c.attempts is None else c.attempts) - 1)
        step = by_step[c.step or "?"]
        step["calls"] += 1
        step["prompt_tokens"] += c.prompt_tokens
        step["completion_tokens"] += c.completion_tokens
    for ev in events:
        if ev.type == "fallback":
            falls[cast(et.FallbackNote, ev.data).step or "?"] += 1
    return {
        "calls_per_agent_day": len(calls) / per,
        "prompt_tokens_per_agent_day": sum(c.prompt_tokens for c in calls) / per,
        "completion_tokens_per_agent_day": sum(c.completion_tokens for c in calls) / per,
        "retries": sum(retries.values()),
        "fallbacks": sum(falls.values()),
        "retries_by_step": dict(sorted((k, v) for k, v in retries.items() if v)),
        "fallbacks_by_step": dict(sorted(falls.items())),
        "calls_by_step": dict(sorted(by_step.items())),
    }


def wall_seconds(events: Sequence[Event]) -> float | None:
    """Wall time summed over the run's sessions (``run_end`` summaries)."""
    summaries = [cast(et.RunEnd, ev.data).summary for ev in events if ev.type == "run_end"]
    walls = [float(s["wall_s"]) for s in summaries if "wall_s" in s]
    return sum(walls) if walls else None


def minutes_per_tick(events: Sequence[Event]) -> float:
    for ev in events:
        if ev.type == "run_start":
            return cast(et.RunStart, ev.data).seconds_per_tick / 60
    return 1.0


# -- one run ---------------------------------------------------------------------------------
def _when(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Counts by name added together, in name order."""
    total: dict[str, int] = {}
    for c in counts:
        for name, n in c.items():
            total[name] = total.get(name, 0) + n
    return dict(sorted(total.items()))


def held_by_kind(probe: dict[str, Any]) -> dict[str, dict[str, int]]:
    """``{fact: {memory kind: count}}``: the memories naming each fact that the agents not seeded with it hold,
    by kind, all agents together (empty for a probe made before it was recorded)."""
    return {fact: summed(source["kinds"] for source in agents.values())
            for fact, agents in probe.get("held_sources", {}).items()}


def run_metrics(events: Sequence[Event], probe: dict[str, Any], wall_s: float | None = None) -> dict[str, Any]:
    """Every metric of one run: ``{"values": {name: number or None}, "curves": {fact: [(min, n)]}, ...}``.

    ``wall_s``: the run's wall time when the caller tallied it (the eval, over every session, killed ones
    included); else the sum of the ``run_end`` summaries."""
    start = start_time(events)
    end = max(ev.time for ev in events)
    facts = probe.get("facts", [])
    answers = probe.get("answers", [])
    values: dict[str, float | None] = {}
    curves: dict[str, list[tuple[float, int]]] = {}
    for f in facts:
        first = {a: _when(t) for a, t in probe.get("first_held", {}).get(f["id"], {}).items()}
        values[f"spread.{f['id']}"] = spread(answers, f["id"], f["known_by"]) if f.get("question") else None
        values[f"held.{f['id']}"] = held(first, f["known_by"])
        curves[f["id"]] = diffusion_curve(first, start, end)
    asked = [v for k, v in values.items() if k.startswith("spread.") and v is not None]
    values["spread"] = float(sum(asked)) if asked else None
    values["held"] = float(sum(v for k, v in values.items() if k.startswith("held.") and v is not None))
    convs = conversation_lines(events)
    values["conversations"] = float(len(convs))
    values["lines_per_conversation"] = sum(map(len, convs.values())) / len(convs) if convs else None
    values["fact_conversation_share"] = fact_conversation_share(events, facts)
    values["repeated_line_share"] = repeated_line_share(events)
    values["network_density"] = network_density(probe.get("knows", []))
    values["on_schedule_share"] = on_schedule_share(events)
    values["trespass_min"] = trespass_minutes(events, probe.get("places", {}), minutes_per_tick(events))
    values["odd_sleep_min"] = odd_sleep_minutes(events)
    values["unstarted_plan_share"] = unstarted_plan_share(events)
    values["long_block_share"] = long_block_share(events)
    values["hallucination_rate"] = hallucination_rate([*answers, *probe.get("knows", [])])
    days = (end - start) / timedelta(days=1)
    money = cost(events, len(probe.get("agents", [])) or 1, days)
    values.update({k: float(v) for k, v in money.items() if not isinstance(v, dict)})
    values["wall_s"] = wall_s if wall_s is not None else wall_seconds(events)
    server = run_server_time(events, values["wall_s"])  # None each where the server gave no figures
    values["server_busy_share"], values["prefix_cache_hit_rate"] = server.busy_share, server.cache_hit_rate
    return {"values": values, "curves": curves, "retries_by_step": money["retries_by_step"],
            "fallbacks_by_step": money["fallbacks_by_step"], "calls_by_step": money["calls_by_step"],
            "held_by_kind": held_by_kind(probe), "game_minutes": (end - start) / timedelta(minutes=1)}
