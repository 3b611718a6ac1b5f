"""The report's content: sections of sentences, tables and figures, built from the metrics.

This decides what the report says, in which order, with which numbers; it writes no markup
(:mod:`town.app.report.render` does, through the Jinja2 templates).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from matplotlib.figure import Figure

from town.app.report import plots
from town.app.report.server_time import run_server_time, server_line
from town.app.report.loading import Fact, RunData
from town.app.report.metrics import (
    LLM_FIELDS,
    action_timeline,
    agent_names,
    calls_by_agent,
    calls_by_hour,
    calls_by_step,
    conversation_graph,
    conversations,
    count_notes,
    density_over_time,
    diffusion,
    fallbacks,
    knowledge_times,
    llm_calls,
    of_type,
    reflections,
    start_time,
    summary_extras,
    summary_llm,
    tool_counts,
    wall_time,
)
from town.world.event_types import LLMCall, RunStart
from town.world.events import Event

LLM_HEADERS = ["calls", "cache hits", "prompt tokens", "completion tokens", "retries", "latency s"]


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


def _hour_label(h: int, start: datetime) -> str:
    """``"2 (10:00)"``: game hour index since the start, with the clock time it begins at."""
    return f"{h} ({start + timedelta(hours=h):%H:%M})"


def _header(run: RunData) -> Section:
    ev = run.events
    meta = next((run_start for _, run_start in of_type(ev, RunStart)), None)
    models = sorted({call.model for _, call in of_type(ev, LLMCall) if call.model})
    s = run.summary or {}
    ticks = s.get("ticks", max(e.tick for e in ev))
    first, last = start_time(ev), max(e.time for e in ev)
    wall = wall_time(ev, run.summary)
    rows = [
        ["run folder", str(run.run_dir)],
        ["scenario", meta.scenario if meta else s.get("scenario", "not recorded")],
        ["map", meta.map if meta else "not recorded"],
        ["seed", meta.seed if meta else s.get("seed", "not recorded")],
        ["model", ", ".join(models) if models else "no LLM calls logged"],
        ["agents", ", ".join(agent_names(ev))],
        ["ticks", ticks],
        ["game time", f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} ({(last - first) / timedelta(hours=1):.2f} game hours)"],
        ["wall time", f"{wall[0]:.2f} s over {wall[1]} session(s)" if wall else "not recorded (no run_end event or summary.json: run still going or killed)"],
        ["events", len(ev)],
    ]
    server = server_line(run_server_time(ev, wall[0] if wall else None))
    if server:
        rows.insert(-1, ["model server", server])
    return Section("Run", tables=[("", Table(["", ""], rows))])


def _graph_section(events: Sequence[Event]) -> Section:
    g = conversation_graph(events)
    sec = Section("Who talked to whom")
    sec.text.append(
        f"{len(conversations(events))} conversations among {g.number_of_nodes()} agents; {g.number_of_edges()} pairs talked. "
        f"Edge label: conversations / chat lines heard between the pair."
    )
    rows = [[a, b, d["conversations"], d["lines"]] for a, b, d in sorted(g.edges(data=True))]
    sec.tables.append(("Pairs", Table(["agent", "agent", "conversations", "lines"], rows)))
    sec.figures.append(("conversation_graph", plots.conversation_graph_figure(g)))
    dens = density_over_time(events)
    sec.figures.append(("density", plots.density_figure(dens)))
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
    start = start_time(events)
    hours = [h for h, _ in next(iter(curves.values()))]
    sec.tables.append(("Agents who know each fact by the end of each game hour (hour, starts at)",
                       Table(["fact"] + [_hour_label(h, start) for h in hours],
                             [[fid] + [c for _, c in pts] for fid, pts in curves.items()])))
    for fact in facts:
        times = sorted(knowledge_times(events, fact).items(), key=lambda kv: kv[1])
        rows = [[who, f"{t:%H:%M}", "seeded" if who in fact.known_by else "conversation"] for who, t in times]
        sec.tables.append((f"{fact.id}: {fact.text} (keywords: {', '.join(fact.keywords)})",
                           Table(["agent", "knows since", "how"], rows)))
    sec.figures.append(("diffusion", plots.diffusion_figure(curves, n)))
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
    sec.tables.append(("By cognitive step", Table(["step"] + LLM_HEADERS, _tally_rows(by_step))))
    sec.tables.append(("By agent", Table(["agent"] + LLM_HEADERS, _tally_rows(by_agent))))
    if by_step:
        sec.figures.append(("llm_by_step", plots.llm_by_step_figure(by_step)))
    if llm_calls(events):
        per_hour = calls_by_hour(events)
        sec.figures.append(("llm_by_hour", plots.llm_by_hour_figure(per_hour)))
        start = start_time(events)
        sec.tables.append(("By game hour", Table(["hour (starts at)"] + LLM_HEADERS,
                                                  _tally_rows({_hour_label(h, start): t for h, t in per_hour}))))
    fb = fallbacks(events)
    if fb:
        sec.tables.append((f"Fallbacks: {sum(fb.values())}", Table(["step", "reason", "count"], [[s, r, c] for (s, r), c in fb.items()])))
    else:
        logged = int(sum(t.get("fallbacks", 0) for t in summary_llm(summary).get("by_step", {}).values()))
        sec.text.append("Fallbacks: 0 logged as fallback notes" + (f" (summary.json counts {logged})." if logged else "."))
    return sec


def _timeline_tables(events: Sequence[Event], sec: Section) -> None:
    timeline = action_timeline(events)
    if not timeline:
        sec.text.append("Actions: 0 logged.")
        return
    sec.figures.append(("timeline", plots.timeline_figure(timeline, start_time(events))))
    rows = [[a, len(spans), ", ".join(f"{k} {n}" for k, n in sorted(Counter(s.kind for s in spans).items()))]
            for a, spans in timeline.items()]
    sec.tables.append(("Actions per agent", Table(["agent", "actions", "by kind"], rows)))
    for agent, spans in timeline.items():
        sec.tables.append((f"Timeline: {agent}", Table(["from", "to", "kind", "description"],
                                                        [[f"{s.start:%H:%M}", f"{s.end:%H:%M}", s.kind, s.description] for s in spans])))


def _behaviour_section(events: Sequence[Event], summary: dict[str, Any] | None) -> Section:
    sec = Section("Behaviour")
    _timeline_tables(events, sec)
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
