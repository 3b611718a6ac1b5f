"""Run metrics: who talked to whom, how seeded facts spread, what the minds cost, what they did.

Every function is pure (a list of :class:`~town.world.events.Event` in, numbers out) and knows
nothing of plots or HTML; :mod:`town.app.report.content` lays the figures out for rendering.

Time is measured in *game hours since the run started*: hour ``h`` covers
``[start + h, start + h + 1)``, where ``start`` is the ``run_start`` event's game time (or the
first event's, for a log without one). Figures per hour are cumulative where they say so.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import networkx as nx

from town.app.report.loading import Fact
from town.world.events import Event

LLM_FIELDS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "retries", "latency_s")


@dataclass
class Utterance:
    """One chat line: who said it, who heard it (the other participants), when."""

    conversation: str
    time: datetime
    speaker: str
    hearers: frozenset[str]
    text: str



# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


def start_time(events: Sequence[Event]) -> datetime:
    """Game time of the ``run_start`` event, else of the earliest event."""
    if not events:
        raise ValueError("no events")
    for ev in events:
        if ev.type == "run_start":
            return ev.time
    return min(ev.time for ev in events)


def hour_of(t: datetime, start: datetime) -> int:
    """Whole game hours from ``start`` to ``t`` (hour 0 is the first hour of the run)."""
    return math.floor((t - start) / timedelta(hours=1))


def last_hour(events: Sequence[Event]) -> int:
    """The index of the last game hour the log reaches."""
    start = start_time(events)
    return max(0, hour_of(max(ev.time for ev in events), start))


def agent_names(events: Sequence[Event]) -> list[str]:
    """The run's agents: the ``run_start`` roster plus anyone seen acting or talking."""
    names: set[str] = set()
    for ev in events:
        if ev.type == "run_start":
            names.update(ev.data.get("agents", []))
        elif ev.type == "chat":
            names.add(ev.data["speaker"])
            names.update(ev.data.get("listeners", []))
        elif ev.type == "conversation_end":
            names.update(ev.data.get("participants", []))
        if ev.agent is not None:
            names.add(ev.agent)
    return sorted(names)


# --------------------------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------------------------


def utterances(events: Sequence[Event]) -> list[Utterance]:
    """Every chat line with its hearers.

    Hearers are the line's listeners plus everyone already known to be in that conversation
    (earlier speakers and listeners), minus the speaker. A conversation logged only by its
    ``conversation_end`` (no ``chat`` events) contributes its ``lines`` at the end time.
    """
    members: dict[str, set[str]] = defaultdict(set)
    out: list[Utterance] = []
    chatted: set[str] = set()
    for ev in events:
        if ev.type == "chat":
            conv = str(ev.data["conversation"])
            speaker = ev.data["speaker"]
            members[conv].add(speaker)
            members[conv].update(ev.data.get("listeners", []))
            chatted.add(conv)
            out.append(Utterance(conv, ev.time, speaker, frozenset(members[conv] - {speaker}), ev.data.get("text", "")))
    for ev in events:
        if ev.type == "conversation_end" and str(ev.data["conversation"]) not in chatted:
            conv = str(ev.data["conversation"])
            people = set(ev.data.get("participants", []))
            for line in ev.data.get("lines", []):
                speaker = line["speaker"]
                out.append(Utterance(conv, ev.time, speaker, frozenset((people | {speaker}) - {speaker}), line.get("text", "")))
    out.sort(key=lambda u: u.time)
    return out


def conversations(events: Sequence[Event]) -> dict[str, tuple[datetime, set[str]]]:
    """Conversation id -> (time of its first line, everyone who took part)."""
    convs: dict[str, tuple[datetime, set[str]]] = {}
    for u in utterances(events):
        first, people = convs.get(u.conversation, (u.time, set()))
        people.update(u.hearers | {u.speaker})
        convs[u.conversation] = (min(first, u.time), people)
    return convs


def conversation_graph(events: Sequence[Event], until: datetime | None = None) -> nx.Graph:
    """Who talked to whom.

    Nodes are all agents. An edge joins two agents who were in a conversation together;
    ``conversations`` counts those conversations (also stored as ``weight``) and ``lines`` counts
    the chat lines one of them said with the other listening. With ``until``, only conversations
    that started before it, and lines said before it, count.
    """
    g = nx.Graph()
    g.add_nodes_from(agent_names(events))
    for first, people in conversations(events).values():
        if until is not None and first >= until:
            continue
        ordered = sorted(people)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                if g.has_edge(a, b):
                    g[a][b]["conversations"] += 1
                else:
                    g.add_edge(a, b, conversations=1, lines=0)
                g[a][b]["weight"] = g[a][b]["conversations"]
    for u in utterances(events):
        if until is not None and u.time >= until:
            continue
        for h in u.hearers:
            g[u.speaker][h]["lines"] += 1
    return g


def density_over_time(events: Sequence[Event]) -> list[tuple[int, float]]:
    """Density of the cumulative who-talked-to-whom graph at the end of each game hour."""
    start = start_time(events)
    return [
        (h, nx.density(conversation_graph(events, until=start + timedelta(hours=h + 1))))
        for h in range(last_hour(events) + 1)
    ]


# --------------------------------------------------------------------------------------------
# Information diffusion
# --------------------------------------------------------------------------------------------


def knowledge_times(events: Sequence[Event], fact: Fact) -> dict[str, datetime]:
    """When each agent came to know ``fact``: at the start if in ``known_by``, else at the first
    chat line they said or heard that contains one of the fact's keywords (case-insensitive)."""
    start = start_time(events)
    known = {name: start for name in fact.known_by}
    words = [k.lower() for k in fact.keywords]
    for u in utterances(events):
        text = u.text.lower()
        if any(w in text for w in words):
            for person in u.hearers | {u.speaker}:
                known.setdefault(person, u.time)
    return known


def diffusion(events: Sequence[Event], facts: Iterable[Fact]) -> dict[str, list[tuple[int, int]]]:
    """For each fact id: ``(hour, number of agents who know it by the end of that hour)`` per game hour."""
    start = start_time(events)
    hours = range(last_hour(events) + 1)
    out: dict[str, list[tuple[int, int]]] = {}
    for fact in facts:
        times = knowledge_times(events, fact).values()
        out[fact.id] = [(h, sum(1 for t in times if t < start + timedelta(hours=h + 1))) for h in hours]
    return out


# --------------------------------------------------------------------------------------------
# LLM accounting
# --------------------------------------------------------------------------------------------


def _tally() -> dict[str, float]:
    return {k: 0 for k in LLM_FIELDS}


def _add_call(t: dict[str, float], data: dict[str, Any]) -> None:
    t["calls"] += 1
    t["cache_hits"] += int(bool(data.get("cached", False)))
    t["prompt_tokens"] += int(data.get("prompt_tokens", 0))
    t["completion_tokens"] += int(data.get("completion_tokens", 0))
    t["retries"] += max(0, int(data.get("attempts", 1)) - 1)
    t["latency_s"] += float(data.get("latency_s", 0.0))


def llm_calls(events: Sequence[Event]) -> list[Event]:
    """The `llm_call` notes of the log, in order."""
    return [ev for ev in events if ev.type == "llm_call"]


def _call_agent(ev: Event) -> str:
    return ev.agent or ev.data.get("agent") or "-"


def calls_by_step(events: Sequence[Event]) -> dict[str, dict[str, float]]:
    """Per cognitive step: calls, cache hits, prompt/completion tokens, retries, latency (from ``llm_call``)."""
    out: dict[str, dict[str, float]] = defaultdict(_tally)
    for ev in llm_calls(events):
        _add_call(out[ev.data["step"]], ev.data)
    return dict(sorted(out.items()))


def calls_by_agent(events: Sequence[Event]) -> dict[str, dict[str, float]]:
    """Per agent: the same tallies as :func:`calls_by_step`."""
    out: dict[str, dict[str, float]] = defaultdict(_tally)
    for ev in llm_calls(events):
        _add_call(out[_call_agent(ev)], ev.data)
    return dict(sorted(out.items()))


def calls_by_hour(events: Sequence[Event]) -> list[tuple[int, dict[str, float]]]:
    """Per game hour (every hour of the run, empty ones included): the same tallies."""
    start = start_time(events)
    out = [(h, _tally()) for h in range(last_hour(events) + 1)]
    for ev in llm_calls(events):
        _add_call(out[hour_of(ev.time, start)][1], ev.data)
    return out


def fallbacks(events: Sequence[Event]) -> dict[tuple[str, str], int]:
    """``(step, reason) -> count`` over the ``fallback`` notes."""
    c: Counter[tuple[str, str]] = Counter()
    for ev in events:
        if ev.type == "fallback":
            c[(str(ev.data.get("step", "?")), str(ev.data.get("reason", "?")))] += 1
    return dict(sorted(c.items()))


def summary_llm(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The LLM accounting block of ``summary.json`` (``minds.llm`` or top-level ``llm``), or ``{}``."""
    if not summary:
        return {}
    minds = summary.get("minds")
    if isinstance(minds, dict) and isinstance(minds.get("llm"), dict):
        return minds["llm"]
    llm = summary.get("llm")
    return llm if isinstance(llm, dict) else {}


def wall_time(events: Sequence[Event], summary: dict[str, Any] | None) -> tuple[float, int] | None:
    """``(seconds, sessions)``: the wall time summed over the ``run_end`` events (one per session of a
    resumed run), else ``summary.json``'s ``wall_s`` (the last session only), else None."""
    walls = [float(ev.data["summary"]["wall_s"]) for ev in events
             if ev.type == "run_end" and isinstance(ev.data.get("summary"), dict) and "wall_s" in ev.data["summary"]]
    if walls:
        return sum(walls), len(walls)
    if summary and summary.get("wall_s") is not None:
        return float(summary["wall_s"]), 1
    return None


_HEADER_KEYS = frozenset({"run_dir", "seed", "scenario", "ticks", "wall_s", "minds", "llm"})


def summary_extras(summary: dict[str, Any] | None) -> dict[str, Any]:
    """Figures of ``summary.json`` not shown elsewhere: top-level ones and the mind runtime's, LLM aside."""
    if not summary:
        return {}
    out = {k: v for k, v in summary.items() if k not in _HEADER_KEYS}
    minds = summary.get("minds")
    if isinstance(minds, dict):
        out.update({f"minds.{k}": v for k, v in minds.items() if k != "llm"})
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------------------------
# Behaviour
# --------------------------------------------------------------------------------------------


@dataclass
class Span:
    """One action of an agent on the timeline."""

    start: datetime
    end: datetime
    kind: str
    description: str


def action_timeline(events: Sequence[Event]) -> dict[str, list[Span]]:
    """Per agent, its actions; each lasts until the next one, or its ``duration_min`` if that ends sooner.

    The last action of an agent runs to the end of the log (or its duration if shorter).
    """
    end_of_log = max(ev.time for ev in events)
    raw: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        if ev.type == "action":
            raw[ev.agent or ev.data["agent"]].append(ev)
    out: dict[str, list[Span]] = {}
    for agent, acts in sorted(raw.items()):
        spans = []
        for i, ev in enumerate(acts):
            nxt = acts[i + 1].time if i + 1 < len(acts) else end_of_log
            dur = int(ev.data.get("duration_min") or 0)
            end = min(nxt, ev.time + timedelta(minutes=dur)) if dur > 0 else nxt
            spans.append(Span(ev.time, max(end, ev.time), str(ev.data.get("kind", "?")), str(ev.data.get("description", ""))))
        out[agent] = spans
    return out


def count_notes(events: Sequence[Event], type_: str, key: str | None = None) -> dict[str, int]:
    """Count events of ``type_`` by ``data[key]`` (or by agent when ``key`` is None)."""
    c: Counter[str] = Counter()
    for ev in events:
        if ev.type == type_:
            label = ev.data.get(key) if key is not None else (ev.agent or ev.data.get("agent"))
            c[str(label if label is not None else "?")] += 1
    return dict(sorted(c.items()))


def _note_text(data: dict[str, Any]) -> str:
    for key in ("text", "insight", "description", "content"):
        if isinstance(data.get(key), str):
            return data[key]
    return json.dumps(data, default=str, ensure_ascii=False)


def reflections(events: Sequence[Event]) -> list[tuple[datetime, str, str]]:
    """``(game time, agent, text)`` of every reflection note."""
    return [(ev.time, ev.agent or str(ev.data.get("agent", "?")), _note_text(ev.data)) for ev in events if ev.type == "reflection"]


def tool_counts(events: Sequence[Event]) -> dict[str, int]:
    """ReAct tool calls by tool name (``data.tool``, else ``data.name``)."""
    c: Counter[str] = Counter()
    for ev in events:
        if ev.type == "tool":
            c[str(ev.data.get("tool") or ev.data.get("name") or "?")] += 1
    return dict(sorted(c.items()))
