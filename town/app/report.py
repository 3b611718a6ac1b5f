"""Run reports: who talked to whom, how seeded facts spread, what the minds cost, what they did.

The metric functions are pure (a list of :class:`~town.world.events.Event` in, numbers out) so they
can be unit-tested; :func:`build_report` reads a run folder and renders them as a
self-contained HTML page (plots embedded as base64 PNGs) or as Markdown with PNG files next to it.

Time is measured in *game hours since the run started*: hour ``h`` covers
``[start + h, start + h + 1)``, where ``start`` is the ``run_start`` event's game time (or the
first event's, for a log without one). Figures per hour are cumulative where they say so.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import yaml
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from town.world.events import Event, read_events

LLM_FIELDS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "retries", "latency_s")


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


class Fact(BaseModel):
    """A seeded fact from the scenario (e.g. Isabella's Valentine's Day party)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    text: str = ""
    known_by: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(min_length=1)


@dataclass
class Utterance:
    """One chat line: who said it, who heard it (the other participants), when."""

    conversation: str
    time: datetime
    speaker: str
    hearers: frozenset[str]
    text: str


@dataclass
class RunData:
    """What a run folder holds, loaded and checked."""

    run_dir: Path
    events: list[Event]
    summary: dict[str, Any] | None
    facts: list[Fact]


def load_facts(path: Path) -> list[Fact]:
    """Read the ``facts`` list of a scenario YAML; a missing file or key means no seeded facts."""
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}")
    raw = doc.get("facts") or []
    if not isinstance(raw, list):
        raise ValueError(f"{path}: 'facts' must be a list, got {type(raw).__name__}")
    facts = []
    for i, item in enumerate(raw):
        try:
            facts.append(Fact.model_validate(item))
        except ValidationError as exc:
            raise ValueError(f"{path}: facts[{i}] is invalid: {exc}") from exc
    return facts


def load_run(run_dir: Path) -> RunData:
    """Load ``events.jsonl`` (required), ``summary.json`` and ``scenario.yaml`` (optional) of a run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a directory: give a run folder such as runs/demo")
    events_path = run_dir / "events.jsonl"
    if not events_path.exists():
        raise FileNotFoundError(f"{events_path} not found: is {run_dir} a run folder?")
    events = list(read_events(events_path))
    if not events:
        raise ValueError(f"{events_path} holds no events: nothing to report")
    summary_path = run_dir / "summary.json"
    summary: dict[str, Any] | None = None
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{summary_path}: not valid JSON: {exc}") from exc
        if not isinstance(summary, dict):
            raise ValueError(f"{summary_path}: expected a JSON object")
    return RunData(run_dir, events, summary, load_facts(run_dir / "scenario.yaml"))


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


def _conversations(events: Sequence[Event]) -> dict[str, tuple[datetime, set[str]]]:
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
    for first, people in _conversations(events).values():
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


def _llm_calls(events: Sequence[Event]) -> list[Event]:
    return [ev for ev in events if ev.type == "llm_call"]


def _call_agent(ev: Event) -> str:
    return ev.agent or ev.data.get("agent") or "-"


def calls_by_step(events: Sequence[Event]) -> dict[str, dict[str, float]]:
    """Per cognitive step: calls, cache hits, prompt/completion tokens, retries, latency (from ``llm_call``)."""
    out: dict[str, dict[str, float]] = defaultdict(_tally)
    for ev in _llm_calls(events):
        _add_call(out[ev.data["step"]], ev.data)
    return dict(sorted(out.items()))


def calls_by_agent(events: Sequence[Event]) -> dict[str, dict[str, float]]:
    """Per agent: the same tallies as :func:`calls_by_step`."""
    out: dict[str, dict[str, float]] = defaultdict(_tally)
    for ev in _llm_calls(events):
        _add_call(out[_call_agent(ev)], ev.data)
    return dict(sorted(out.items()))


def calls_by_hour(events: Sequence[Event]) -> list[tuple[int, dict[str, float]]]:
    """Per game hour (every hour of the run, empty ones included): the same tallies."""
    start = start_time(events)
    out = [(h, _tally()) for h in range(last_hour(events) + 1)]
    for ev in _llm_calls(events):
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


# --------------------------------------------------------------------------------------------
# Report assembly
# --------------------------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[tuple[str, Table]] = field(default_factory=list)
    figures: list[tuple[str, Figure]] = field(default_factory=list)


def _fmt(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def _hour_label(h: int, start: datetime) -> str:
    """``"2 (10:00)"``: game hour index since the start, with the clock time it begins at."""
    return f"{h} ({start + timedelta(hours=h):%H:%M})"


def _header(run: RunData) -> Section:
    ev = run.events
    start_ev = next((e for e in ev if e.type == "run_start"), None)
    meta = start_ev.data if start_ev else {}
    models = sorted({str(e.data["model"]) for e in _llm_calls(ev) if e.data.get("model")})
    s = run.summary or {}
    ticks = s.get("ticks", max(e.tick for e in ev))
    first, last = start_time(ev), max(e.time for e in ev)
    wall = wall_time(ev, run.summary)
    rows = [
        ["run folder", str(run.run_dir)],
        ["scenario", meta.get("scenario", s.get("scenario", "not recorded"))],
        ["map", meta.get("map", "not recorded")],
        ["seed", meta.get("seed", s.get("seed", "not recorded"))],
        ["model", ", ".join(models) if models else "no LLM calls logged"],
        ["agents", ", ".join(agent_names(ev))],
        ["ticks", ticks],
        ["game time", f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} ({(last - first) / timedelta(hours=1):.2f} game hours)"],
        ["wall time", f"{wall[0]:.2f} s over {wall[1]} session(s)" if wall else "not recorded (no run_end event or summary.json: run still going or killed)"],
        ["events", len(ev)],
    ]
    return Section("Run", tables=[("", Table(["", ""], rows))])


def _graph_section(events: Sequence[Event]) -> Section:
    g = conversation_graph(events)
    sec = Section("Who talked to whom")
    n_conv = len(_conversations(events))
    sec.text.append(
        f"{n_conv} conversations among {g.number_of_nodes()} agents; {g.number_of_edges()} pairs talked. "
        f"Edge label: conversations / chat lines heard between the pair."
    )
    rows = [[a, b, d["conversations"], d["lines"]] for a, b, d in sorted(g.edges(data=True))]
    sec.tables.append(("Pairs", Table(["agent", "agent", "conversations", "lines"], rows)))
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    pos = nx.circular_layout(sorted(g.nodes)) if g.number_of_nodes() else {}
    top = max((d["conversations"] for _, _, d in g.edges(data=True)), default=1)
    for a, b, d in g.edges(data=True):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ax.plot([x1, x2], [y1, y2], color="tab:blue", alpha=0.6, linewidth=1 + 5 * d["conversations"] / top, zorder=1)
        ax.text((x1 + x2) / 2, (y1 + y2) / 2, f"{d['conversations']}/{d['lines']}", fontsize=8, ha="center",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    for name, (x, y) in pos.items():
        ax.scatter([x], [y], s=300, color="tab:orange", zorder=2)
        ax.text(x, y + 0.1, name, ha="center", fontsize=9)
    ax.set_axis_off()
    ax.margins(0.25)
    ax.set_title("Conversations between agents (edge width = conversations)")
    sec.figures.append(("conversation_graph", fig))
    dens = density_over_time(events)
    fig2 = Figure(figsize=(7, 3))
    ax2 = fig2.add_subplot()
    ax2.plot([h for h, _ in dens], [d for _, d in dens], marker="o")
    ax2.set_xlabel("game hours since start")
    ax2.set_ylabel("density")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("Density of the who-talked-to-whom graph (cumulative, end of each hour)")
    sec.figures.append(("density", fig2))
    start = start_time(events)
    sec.tables.append(("Density by game hour (cumulative)",
                       Table(["hour (starts at)", "density"], [[_hour_label(h, start), round(d, 3)] for h, d in dens])))
    return sec


def _diffusion_section(events: Sequence[Event], facts: list[Fact]) -> Section:
    sec = Section("Information diffusion")
    if not facts:
        sec.text.append("No seeded facts in scenario.yaml: nothing to trace.")
        return sec
    n = len(agent_names(events))
    sec.text.append(
        f"An agent knows a fact if it was seeded with it, or once it said or heard a chat line containing one of "
        f"the fact's keywords (case-insensitive). Counts are cumulative at the end of each game hour, out of {n} agents."
    )
    curves = diffusion(events, facts)
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    for fact in facts:
        pts = curves[fact.id]
        ax.plot([h for h, _ in pts], [c for _, c in pts], marker="o", label=fact.id)
        times = knowledge_times(events, fact)
        rows = [[who, f"{t:%H:%M}", "seeded" if who in fact.known_by else "conversation"] for who, t in sorted(times.items(), key=lambda kv: kv[1])]
        sec.tables.append((f"{fact.id}: {fact.text} (keywords: {', '.join(fact.keywords)})", Table(["agent", "knows since", "how"], rows)))
    start = start_time(events)
    hours = [h for h, _ in next(iter(curves.values()))]
    sec.tables.insert(0, ("Agents who know each fact by the end of each game hour (hour, starts at)",
                          Table(["fact"] + [_hour_label(h, start) for h in hours], [[fid] + [c for _, c in pts] for fid, pts in curves.items()])))
    ax.set_xlabel("game hours since start")
    ax.set_ylabel("agents who know it")
    ax.set_ylim(0, n + 0.5)
    ax.legend()
    ax.set_title("Information diffusion")
    sec.figures.append(("diffusion", fig))
    return sec


def _tally_rows(tallies: dict[str, dict[str, Any]]) -> list[list[Any]]:
    return [[k] + [round(t.get(f, 0), 2) for f in LLM_FIELDS] for k, t in tallies.items()]


def _llm_section(events: Sequence[Event], summary: dict[str, Any] | None) -> Section:
    sec = Section("LLM calls and tokens")
    by_step = calls_by_step(events)
    by_agent = calls_by_agent(events)
    source = "llm_call events"
    if not by_step:
        llm = summary_llm(summary)
        by_step, by_agent = llm.get("by_step", {}), llm.get("by_agent", {})
        source = "summary.json (no llm_call events in the log)" if by_step else "nothing: no llm_call events and no summary.json accounting"
    total = {f: sum(t.get(f, 0) for t in by_step.values()) for f in LLM_FIELDS}
    sec.text.append(
        f"Source: {source}. Total: {int(total['calls'])} calls, {int(total['cache_hits'])} answered from the response cache, "
        f"{int(total['prompt_tokens'])} prompt tokens, {int(total['completion_tokens'])} completion tokens, "
        f"{int(total['retries'])} retries, {total['latency_s']:.1f} s summed latency."
    )
    headers = ["calls", "cache hits", "prompt tokens", "completion tokens", "retries", "latency s"]
    sec.tables.append(("By cognitive step", Table(["step"] + headers, _tally_rows(by_step))))
    sec.tables.append(("By agent", Table(["agent"] + headers, _tally_rows(by_agent))))
    if by_step:
        fig = Figure(figsize=(8, 3.5))
        ax1, ax2 = fig.subplots(1, 2)
        steps = list(by_step)
        ax1.barh(steps, [by_step[s]["calls"] for s in steps], label="calls")
        ax1.barh(steps, [by_step[s]["cache_hits"] for s in steps], label="cache hits", hatch="//", alpha=0.6)
        ax1.set_title("calls per step")
        ax1.legend(fontsize=7)
        ax2.barh(steps, [by_step[s]["prompt_tokens"] for s in steps], label="prompt")
        ax2.barh(steps, [by_step[s]["completion_tokens"] for s in steps], left=[by_step[s]["prompt_tokens"] for s in steps], label="completion")
        ax2.set_title("tokens per step")
        ax2.set_yticks([])
        ax2.legend(fontsize=7)
        fig.tight_layout()
        sec.figures.append(("llm_by_step", fig))
    if _llm_calls(events):
        per_hour = calls_by_hour(events)
        fig2 = Figure(figsize=(7, 3))
        ax = fig2.add_subplot()
        hrs = [h for h, _ in per_hour]
        ax.bar(hrs, [t["calls"] for _, t in per_hour], label="calls")
        ax.set_xlabel("game hours since start")
        ax.set_ylabel("calls")
        axt = ax.twinx()
        axt.plot(hrs, [t["prompt_tokens"] + t["completion_tokens"] for _, t in per_hour], color="tab:red", marker="o", label="tokens")
        axt.set_ylabel("tokens")
        ax.set_title("LLM calls (bars) and tokens (line) per game hour")
        sec.figures.append(("llm_by_hour", fig2))
        start = start_time(events)
        sec.tables.append(("By game hour", Table(["hour (starts at)"] + headers,
                                                  _tally_rows({_hour_label(h, start): t for h, t in per_hour}))))
    fb = fallbacks(events)
    if fb:
        sec.tables.append((f"Fallbacks: {sum(fb.values())}", Table(["step", "reason", "count"], [[s, r, c] for (s, r), c in fb.items()])))
    else:
        logged = int(sum(t.get("fallbacks", 0) for t in summary_llm(summary).get("by_step", {}).values()))
        sec.text.append(f"Fallbacks: 0 logged as fallback notes" + (f" (summary.json counts {logged})." if logged else "."))
    return sec


def _behaviour_section(events: Sequence[Event], summary: dict[str, Any] | None) -> Section:
    sec = Section("Behaviour")
    timeline = action_timeline(events)
    if timeline:
        kinds = sorted({s.kind for spans in timeline.values() for s in spans})
        colours = {k: f"C{i}" for i, k in enumerate(kinds)}
        start = start_time(events)
        fig = Figure(figsize=(9, 0.6 * len(timeline) + 1.5))
        ax = fig.add_subplot()
        labelled: set[str] = set()
        for row, (agent, spans) in enumerate(timeline.items()):
            for kind in kinds:
                bars = [((s.start - start) / timedelta(hours=1), (s.end - s.start) / timedelta(hours=1)) for s in spans if s.kind == kind]
                if bars:
                    ax.broken_barh(bars, (row - 0.4, 0.8), color=colours[kind], label=None if kind in labelled else kind)
                    labelled.add(kind)
        ax.set_yticks(range(len(timeline)), list(timeline))
        ax.invert_yaxis()
        ax.set_xlabel("game hours since start")
        ax.legend(fontsize=7, loc="upper right")
        ax.set_title("Activity timeline (action kinds)")
        fig.tight_layout()
        sec.figures.append(("timeline", fig))
        rows = [[a, len(spans), ", ".join(f"{k} {n}" for k, n in sorted(Counter(s.kind for s in spans).items()))] for a, spans in timeline.items()]
        sec.tables.append(("Actions per agent", Table(["agent", "actions", "by kind"], rows)))
        for agent, spans in timeline.items():
            sec.tables.append((f"Timeline: {agent}", Table(["from", "to", "kind", "description"],
                                                            [[f"{s.start:%H:%M}", f"{s.end:%H:%M}", s.kind, s.description] for s in spans])))
    else:
        sec.text.append("Actions: 0 logged.")
    pch = count_notes(events, "plan_cache_hit")
    sec.text.append(f"Plan cache hits: {sum(pch.values())}" + (" (" + ", ".join(f"{a} {n}" for a, n in pch.items()) + ")." if pch else "."))
    extra = summary_extras(summary)
    if extra:
        sec.tables.append(("Other figures from summary.json (plan cache savings, tick times, ...)",
                           Table(["figure", "value"], [[k, json.dumps(v, default=str)] for k, v in sorted(extra.items())])))
    refl = reflections(events)
    sec.text.append(f"Reflections: {len(refl)}.")
    if refl:
        sec.tables.append(("Reflections", Table(["time", "agent", "text"], [[f"{t:%H:%M}", a, x] for t, a, x in refl])))
    tools = tool_counts(events)
    sec.text.append(f"Tool calls: {sum(tools.values())}.")
    if tools:
        sec.tables.append(("Tool calls by tool", Table(["tool", "calls"], [[k, v] for k, v in tools.items()])))
    return sec


def sections(run: RunData) -> list[Section]:
    """All report sections for a loaded run."""
    return [
        _header(run),
        _graph_section(run.events),
        _diffusion_section(run.events, run.facts),
        _llm_section(run.events, run.summary),
        _behaviour_section(run.events, run.summary),
    ]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def _render_html(secs: list[Section], title: str) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>body{{font-family:sans-serif;max-width:1000px;margin:auto}}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    for sec in secs:
        parts.append(f"<h2>{e(sec.title)}</h2>")
        parts.extend(f"<p>{e(t)}</p>" for t in sec.text)
        for name, fig in sec.figures:
            data = base64.b64encode(_png(fig)).decode("ascii")
            parts.append(f"<img alt='{e(name)}' src='data:image/png;base64,{data}'>")
        for caption, table in sec.tables:
            if caption:
                parts.append(f"<h3>{e(caption)}</h3>")
            parts.append("<table>")
            if any(table.headers):
                parts.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in table.headers) + "</tr>")
            parts.extend("<tr>" + "".join(f"<td>{e(_fmt(c))}</td>" for c in row) + "</tr>" for row in table.rows)
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _md_cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def _render_md(secs: list[Section], title: str, out: Path) -> str:
    lines = [f"# {title}", ""]
    for sec in secs:
        lines += [f"## {sec.title}", ""]
        for t in sec.text:
            lines += [t, ""]
        for name, fig in sec.figures:
            png = out.with_name(f"{out.stem}-{name}.png")
            png.write_bytes(_png(fig))
            lines += [f"![{name}]({png.name})", ""]
        for caption, table in sec.tables:
            if caption:
                lines += [f"### {caption}", ""]
            headers = [h or " " for h in table.headers]
            lines.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
            lines.append("|" + "---|" * len(headers))
            lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows)
            lines.append("")
    return "\n".join(lines)


def build_report(run_dir: Path, out: Path | None = None, fmt: Literal["html", "md"] = "html") -> Path:
    """Write a report of the run in ``run_dir``; returns its path (default ``RUN/report.html`` or ``.md``)."""
    if fmt not in ("html", "md"):
        raise ValueError(f"report format must be 'html' or 'md', not {fmt!r}")
    run = load_run(Path(run_dir))
    out = Path(out) if out is not None else run.run_dir / f"report.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"Town run report: {run.run_dir.name}"
    secs = sections(run)
    text = _render_html(secs, title) if fmt == "html" else _render_md(secs, title, out)
    out.write_text(text, encoding="utf-8")
    return out
