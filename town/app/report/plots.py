"""The report's matplotlib figures, drawn from already-computed metrics (no event reading here).

Each function takes what :mod:`town.app.report.metrics` returned and gives back a ``Figure``;
:mod:`town.app.report.render` turns figures into PNGs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx
from matplotlib.figure import Figure

from town.app.report.metrics import Span


def conversation_graph_figure(g: nx.Graph) -> Figure:
    """Agents on a circle; edge width = conversations, edge label = conversations / lines."""
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
    return fig


def density_figure(dens: list[tuple[int, float]]) -> Figure:
    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    ax.plot([h for h, _ in dens], [d for _, d in dens], marker="o")
    ax.set_xlabel("game hours since start")
    ax.set_ylabel("density")
    ax.set_ylim(0, 1.05)
    ax.set_title("Density of the who-talked-to-whom graph (cumulative, end of each hour)")
    return fig


def diffusion_figure(curves: dict[str, list[tuple[int, int]]], n_agents: int) -> Figure:
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    for fact_id, pts in curves.items():
        ax.plot([h for h, _ in pts], [c for _, c in pts], marker="o", label=fact_id)
    ax.set_xlabel("game hours since start")
    ax.set_ylabel("agents who know it")
    ax.set_ylim(0, n_agents + 0.5)
    ax.legend()
    ax.set_title("Information diffusion")
    return fig


def llm_by_step_figure(by_step: dict[str, dict[str, float]]) -> Figure:
    fig = Figure(figsize=(8, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    steps = list(by_step)
    ax1.barh(steps, [by_step[s]["calls"] for s in steps], label="calls")
    ax1.barh(steps, [by_step[s]["cache_hits"] for s in steps], label="cache hits", hatch="//", alpha=0.6)
    ax1.set_title("calls per step")
    ax1.legend(fontsize=7)
    prompt = [by_step[s]["prompt_tokens"] for s in steps]
    ax2.barh(steps, prompt, label="prompt")
    ax2.barh(steps, [by_step[s]["completion_tokens"] for s in steps], left=prompt, label="completion")
    ax2.set_title("tokens per step")
    ax2.set_yticks([])
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def llm_by_hour_figure(per_hour: list[tuple[int, dict[str, float]]]) -> Figure:
    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    hrs = [h for h, _ in per_hour]
    ax.bar(hrs, [t["calls"] for _, t in per_hour], label="calls")
    ax.set_xlabel("game hours since start")
    ax.set_ylabel("calls")
    axt = ax.twinx()
    axt.plot(hrs, [t["prompt_tokens"] + t["completion_tokens"] for _, t in per_hour], color="tab:red", marker="o",
             label="tokens")
    axt.set_ylabel("tokens")
    ax.set_title("LLM calls (bars) and tokens (line) per game hour")
    return fig


def timeline_figure(timeline: dict[str, list[Span]], start: datetime) -> Figure:
    """One row per agent, one coloured bar per action, colour = action kind."""
    kinds = sorted({s.kind for spans in timeline.values() for s in spans})
    colours = {k: f"C{i}" for i, k in enumerate(kinds)}
    fig = Figure(figsize=(9, 0.6 * len(timeline) + 1.5))
    ax = fig.add_subplot()
    labelled: set[str] = set()
    hour = timedelta(hours=1)
    for row, spans in enumerate(timeline.values()):
        for kind in kinds:
            bars = [((s.start - start) / hour, (s.end - s.start) / hour) for s in spans if s.kind == kind]
            if bars:
                ax.broken_barh(bars, (row - 0.4, 0.8), color=colours[kind], label=None if kind in labelled else kind)
                labelled.add(kind)
    ax.set_yticks(range(len(timeline)), list(timeline))
    ax.invert_yaxis()
    ax.set_xlabel("game hours since start")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("Activity timeline (action kinds)")
    fig.tight_layout()
    return fig
