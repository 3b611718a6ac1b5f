"""`town eval` reports: ``eval.json`` rendered to HTML (plots embedded) and Markdown (plots beside it) with
the Jinja2 templates in ``town/eval/templates``; the numbers come from :mod:`town.app.eval.summary` only."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.figure import Figure

TEMPLATES = Path(__file__).with_name("templates")
PAPER_NOTE = "Park et al. 2023 (fig. 8): full > no reflection > no reflection, planning > no observation, reflection, planning"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def diffusion_plot(result: dict[str, Any]) -> Figure | None:
    """Mean agents holding each seeded fact over game time, one line per fact and arm."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    drawn = False
    for arm, data in result["arms"].items():
        for fact, curve in data["curves"].items():
            if curve:
                ax.plot([p[0] for p in curve], [p[1] for p in curve], label=f"{arm}: {fact}",
                        linestyle="-" if arm == "A" else "--")
                drawn = True
    if not drawn:
        return None
    ax.set_xlabel("game minutes since start")
    ax.set_ylabel("agents holding it (mean over seeds)")
    ax.legend(fontsize=7)
    return fig


def ratings_plot(ablation: dict[str, Any]) -> Figure:
    """Bradley-Terry log-strength per condition with its 95% interval, in the paper's order."""
    fig = Figure(figsize=(7, 2.8))
    ax = fig.add_subplot()
    order = ablation["paper_order"]
    r = ablation["ratings"]
    means = [r[c]["mean"] for c in order]
    lo = [r[c]["mean"] - (r[c]["lo"] if r[c]["lo"] is not None else r[c]["mean"]) for c in order]
    hi = [(r[c]["hi"] if r[c]["hi"] is not None else r[c]["mean"]) - r[c]["mean"] for c in order]
    ax.errorbar(means, range(len(order)), xerr=[lo, hi], fmt="o", capsize=4)
    ax.set_yticks(range(len(order)), order)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("Bradley-Terry log-strength (95% bootstrap interval)")
    return fig


def _figures(result: dict[str, Any]) -> dict[str, Figure]:
    figs: dict[str, Figure] = {}
    d = diffusion_plot(result)
    if d is not None:
        figs["diffusion"] = d
    for ab in result["ablations"]:
        if ab["ratings"]:
            figs[f"ratings-seed{ab['seed']}"] = ratings_plot(ab)
    return figs


def fmt_number(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if unit == "share":
        return f"{100 * v:.1f}%"
    return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"


def environment(fmt: str) -> jinja2.Environment:
    """The reports' Jinja2 environment (HTML escaped, Markdown not), with the ``fmt`` number filter."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=fmt == "html",
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt_number
    return env


def render(result: dict[str, Any], out: Path, fmt: str) -> Path:
    """Write ``out/eval.html`` or ``out/eval.md`` (with ``out/eval-*.png``); return the path."""
    env = environment(fmt)
    images: dict[str, str] = {}
    for name, fig in _figures(result).items():
        data = _png(fig)
        if fmt == "html":
            images[name] = "data:image/png;base64," + base64.b64encode(data).decode()
        else:
            (out / f"eval-{name}.png").write_bytes(data)
            images[name] = f"eval-{name}.png"
    path = out / f"eval.{fmt}"
    text = env.get_template(f"eval.{fmt}.j2").render(r=result, images=images, paper=PAPER_NOTE)
    path.write_text(text, encoding="utf-8")
    return path


def summary_lines(result: dict[str, Any]) -> list[str]:
    """What the command prints: each arm's headline metrics, the verdicts, the ablation ratings."""
    lines = []
    for arm, data in result["arms"].items():
        for name, info in result["metrics"].items():
            m = data["metrics"][name]
            lines.append(f"{arm} {info['label']}: {fmt_number(m['mean'], info['unit'])} "
                         f"[{fmt_number(m['lo'], info['unit'])}, {fmt_number(m['hi'], info['unit'])}] {info['unit']}")
    lines += [c["verdict"] for c in result["compare"].values()]
    for ab in result["ablations"]:
        lines += ablation_lines(ab)
    if result["ablations"]:
        lines.append(PAPER_NOTE)
    return lines


def ablation_lines(ab: dict[str, Any]) -> list[str]:
    """One ablated run's ratings: a line naming our order beside the paper's, then one line per condition."""
    head = (f"believability (seed {ab['seed']}, Bradley-Terry log-strength [95% interval]): "
            f"ours {' > '.join(ab['our_order'])}; paper {' > '.join(ab['paper_order'])}")
    return [head] + [f"  {c}: {fmt_number(ab['ratings'][c]['mean'])} [{fmt_number(ab['ratings'][c]['lo'])}, "
                     f"{fmt_number(ab['ratings'][c]['hi'])}]" for c in ab["paper_order"] if c in ab["ratings"]]
