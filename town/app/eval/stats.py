"""Statistics of `town eval`: seeded bootstrap CIs across seeds, paired A/B differences with plain verdicts,
and Bradley-Terry ratings (with bootstrap intervals) for the believability conditions.

Every resampling takes a seed, so a report computed twice from the same runs is the same report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from town.app.eval.metrics import metric_info

RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% bootstrap interval over ``n`` values (``lo``/``hi`` None when n < 2)."""

    mean: float | None
    lo: float | None
    hi: float | None
    n: int


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.array([v for v in values if v is not None and not math.isnan(v)], dtype=float)


def bootstrap_ci(values: Sequence[float | None], *, seed: int = 0, resamples: int = RESAMPLES,
                 level: float = 0.95) -> Estimate:
    """Mean and percentile bootstrap interval of the mean; missing values (None/NaN) are left out."""
    x = _clean(values)
    if len(x) == 0:
        return Estimate(None, None, None, 0)
    if len(x) < 2:
        return Estimate(float(x.mean()), None, None, 1)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    a = (1 - level) / 2
    return Estimate(float(x.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a)), len(x))


def paired_difference(a: Sequence[float | None], b: Sequence[float | None], *, seed: int = 0) -> Estimate:
    """B minus A, seed by seed (a seed missing on either side is left out), with its bootstrap interval."""
    if len(a) != len(b):
        raise ValueError(f"paired difference needs the same seeds on both sides, got {len(a)} and {len(b)}")
    diffs = [y - x for x, y in zip(a, b, strict=True)
             if x is not None and y is not None and not math.isnan(x) and not math.isnan(y)]
    return bootstrap_ci(diffs, seed=seed)


def _num(v: float, unit: str) -> str:
    if unit == "share":
        return f"{v * 100:+.1f} points" if v else "+0.0 points"
    return f"{v:+.2f} {unit}" if abs(v) < 100 else f"{v:+,.0f} {unit}"


def _bound(v: float, unit: str) -> str:
    return f"{v * 100:.1f}" if unit == "share" else (f"{v:.2f}" if abs(v) < 100 else f"{v:,.0f}")


def direction(diff: Estimate, better: int) -> int:
    """+1 when a difference is better at 95% (its interval excludes 0 on the metric's better side), -1 when worse,
    0 otherwise (no detectable change, no interval, or a metric with no better side)."""
    if better == 0 or diff.mean is None or diff.lo is None or diff.hi is None or diff.lo <= 0 <= diff.hi:
        return 0
    return 1 if (diff.mean > 0) == (better > 0) else -1


def verdict(name: str, diff: Estimate, *, side: str = "B") -> str:
    """A plain sentence about ``side`` (B of an A/B, or "after" of a before/after) against the other on one
    metric, e.g. "B is better on information spread: +0.80 agents [0.20, 1.40]"."""
    info = metric_info(name)
    if diff.mean is None:
        return f"{info.label}: not measured on both sides"
    if diff.lo is None or diff.hi is None:
        return f"{info.label}: one seed only, no interval; use --seeds 2 or more"
    interval = f"{_num(diff.mean, info.unit)} [{_bound(diff.lo, info.unit)}, {_bound(diff.hi, info.unit)}]"
    if diff.lo <= 0 <= diff.hi:
        return f"no detectable change in {info.label} ({interval})"
    if info.better == 0:
        return f"{side} is {'higher' if diff.mean > 0 else 'lower'} on {info.label}: {interval}"
    return f"{side} is {'better' if direction(diff, info.better) > 0 else 'worse'} on {info.label}: {interval}"


# -- Bradley-Terry ---------------------------------------------------------------------------
def bradley_terry(wins: np.ndarray, *, prior: float = 0.5, iterations: int = 500) -> np.ndarray:
    """Log-strengths (mean 0) from ``wins[i, j]`` = times i beat j, by the MM algorithm (Hunter 2004).

    ``prior`` adds that many pseudo-wins each way to every pair, so an unbeaten condition gets a finite score.
    """
    w = np.asarray(wins, dtype=float)
    k = w.shape[0]
    w = w + prior * (1 - np.eye(k))
    n = w + w.T
    p = np.ones(k)
    for _ in range(iterations):
        denom = (n / (p[:, None] + p[None, :])).sum(axis=1)
        new = w.sum(axis=1) / denom
        new /= np.exp(np.log(new).mean())
        if np.allclose(new, p, rtol=1e-10, atol=1e-12):
            p = new
            break
        p = new
    s = np.log(p)
    return s - s.mean()


def rate_conditions(comparisons: Sequence[tuple[str, str]], conditions: Sequence[str], *, seed: int = 0,
                    resamples: int = 1000) -> dict[str, Estimate]:
    """Bradley-Terry log-strength per condition from ``(winner, loser)`` pairs, with 95% bootstrap intervals
    (comparisons resampled with replacement)."""
    idx = {c: i for i, c in enumerate(conditions)}
    pairs = np.array([(idx[w], idx[lo]) for w, lo in comparisons], dtype=int).reshape(-1, 2)

    def fit(rows: np.ndarray) -> np.ndarray:
        m = np.zeros((len(conditions), len(conditions)))
        np.add.at(m, (rows[:, 0], rows[:, 1]), 1)
        return bradley_terry(m)

    point = fit(pairs)
    if len(pairs) < 2:
        return {c: Estimate(float(point[i]), None, None, len(pairs)) for c, i in idx.items()}
    rng = np.random.default_rng(seed)
    boot = np.array([fit(pairs[rng.integers(0, len(pairs), len(pairs))]) for _ in range(resamples)])
    lo, hi = np.quantile(boot, 0.025, axis=0), np.quantile(boot, 0.975, axis=0)
    return {c: Estimate(float(point[i]), float(lo[i]), float(hi[i]), len(pairs)) for c, i in idx.items()}
