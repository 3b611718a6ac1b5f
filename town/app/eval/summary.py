"""Across runs: per-run metrics from each run folder, mean and 95% bootstrap CI per arm, the paired A/B
difference and its verdict per metric, the ablation ratings; written to ``eval.json``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from town.app import checkpoint as ckpt
from town.app.eval.ablation import ABLATION_FILE
from town.app.eval.metrics import CATALOGUE, metric_info, no_step_figures, run_metrics, summed
from town.app.eval.probe import PROBE_FILE
from town.app.eval.runner import WALL_FILE, EvalSpec, run_dir
from town.app.eval.stats import bootstrap_ci, paired_difference, verdict
from town.world.events import read_events

EVAL_FILE = "eval.json"


def load_run(rd: Path) -> dict[str, Any]:
    """One run's metrics (its probe must exist); wall time, and the server's share of it, from the eval's own
    tally over every session (a resumed run's events keep only the last session's ``run_end``)."""
    wall = rd / WALL_FILE
    wall_s = ckpt.read_json(wall)["wall_s"] if wall.exists() else None
    result = run_metrics(list(read_events(rd / "events.jsonl")), ckpt.read_json(rd / PROBE_FILE), wall_s)
    result["values"]["wall_s"] = wall_s  # the eval's tally alone: None rather than a partial run_end sum
    return result


def metric_names(runs: list[dict[str, Any]]) -> list[str]:
    """Catalogue order, each per-fact metric right after its total."""
    seen = {n for r in runs for n in r["values"]}
    out: list[str] = []
    for m in CATALOGUE:
        if m.name in seen:
            out.append(m.name)
        out.extend(sorted(n for n in seen if n.startswith(m.name + ".")))
    return out


def _mean_curve(curves: list[list[tuple[float, int]]]) -> list[tuple[float, float]]:
    if not curves:
        return []
    n = min(len(c) for c in curves)
    counts = np.array([[p[1] for p in c[:n]] for c in curves], dtype=float)
    return [(float(curves[0][i][0]), float(counts[:, i].mean())) for i in range(n)]


def calls_by_step(runs: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Each step's calls and tokens summed over the runs, most calls first."""
    total: dict[str, dict[str, int]] = {}
    for run in runs:
        for step, figures in run.items():
            into = total.setdefault(step, no_step_figures())
            for k, v in figures.items():
                into[k] += v
    return dict(sorted(total.items(), key=lambda kv: (-kv[1]["calls"], kv[0])))


def held_by_kind(runs: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Each fact's held memories by kind (:func:`town.app.eval.metrics.held_by_kind`) summed over the runs."""
    facts = sorted({fact for run in runs for fact in run})
    return {fact: summed(run.get(fact, {}) for run in runs) for fact in facts}


def summarise(out: Path, spec: EvalSpec) -> dict[str, Any]:
    """Everything the reports show; also written to ``OUT/eval.json``."""
    runs = {arm: {s: load_run(run_dir(out, arm, s)) for s in spec.seeds} for arm in spec.arms}
    names = metric_names([r for per in runs.values() for r in per.values()])
    arms: dict[str, Any] = {}
    for arm, per in runs.items():
        facts = sorted({f for r in per.values() for f in r["curves"]})
        arms[arm] = {
            "metrics": {n: asdict(bootstrap_ci([per[s]["values"].get(n) for s in spec.seeds])) for n in names},
            "per_seed": {str(s): per[s]["values"] for s in spec.seeds},
            "curves": {f: _mean_curve([per[s]["curves"][f] for s in spec.seeds if f in per[s]["curves"]]) for f in facts},
            "retries_by_step": {str(s): per[s]["retries_by_step"] for s in spec.seeds},
            "fallbacks_by_step": {str(s): per[s]["fallbacks_by_step"] for s in spec.seeds},
            "calls_by_step": calls_by_step([per[s]["calls_by_step"] for s in spec.seeds]),
            "held_by_kind": held_by_kind([per[s].get("held_by_kind", {}) for s in spec.seeds]),
        }
    compare: dict[str, Any] = {}
    if len(spec.arms) == 2:
        a, b = list(spec.arms)
        for n in names:
            diff = paired_difference([runs[a][s]["values"].get(n) for s in spec.seeds],
                                     [runs[b][s]["values"].get(n) for s in spec.seeds])
            compare[n] = {"diff": asdict(diff), "verdict": verdict(n, diff)}
    ablations = []
    for s in spec.seeds:
        path = run_dir(out, next(iter(spec.arms)), s) / ABLATION_FILE
        if path.exists():
            ab = ckpt.read_json(path)
            ablations.append({"seed": s, **{k: ab[k] for k in ("ratings", "paper_order", "our_order", "judge_fallbacks")},
                              "comparisons": len(ab["comparisons"])})
    result = {
        "spec": spec.model_dump(),
        "metrics": {n: asdict(metric_info(n)) for n in names},
        "arms": arms,
        "compare": compare,
        "ablations": ablations,
    }
    ckpt.atomic_write_json(out / EVAL_FILE, result)
    return result
