"""`town eval-compare BEFORE AFTER`: one arm of two finished eval folders (made before and after a code change,
same scenario, hours and seeds) set side by side, metric by metric, with the paired after-minus-before difference
and its verdict. Both folders are only read; the report goes where the caller says."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from rich.table import Table

from town.app.eval.metrics import metric_info, no_step_figures
from town.app.eval.report import PAPER_NOTE, ablation_lines, environment, fmt_number
from town.app.eval.runner import SPEC_FILE, EvalSpec
from town.app.eval.stats import bootstrap_ci, direction, paired_difference, verdict
from town.app.eval.summary import EVAL_FILE, metric_names
from town.app.session import UserError

SIDES = ("before", "after")


class _Rating(BaseModel):
    mean: float | None
    lo: float | None
    hi: float | None


class _Ablation(BaseModel):
    seed: int
    ratings: dict[str, _Rating]
    paper_order: list[str]
    our_order: list[str]
    judge_fallbacks: int
    comparisons: int


class _ArmResult(BaseModel):
    per_seed: dict[str, dict[str, float | None]]
    calls_by_step: dict[str, dict[str, int]] | None = None  # absent in evals made before it was recorded


class _EvalFile(BaseModel):
    """The part of ``eval.json`` a comparison reads (the rest, curves and plots, is not needed)."""

    model_config = ConfigDict(extra="ignore")
    spec: EvalSpec
    arms: dict[str, _ArmResult]
    ablations: list[_Ablation]


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: not found; give the folder of a finished `town eval`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})") from None


def _invalid(path: Path, exc: ValidationError) -> UserError:
    err = exc.errors()[0]
    return UserError(f"{path}: field {'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}")


def load_spec(folder: Path) -> EvalSpec:
    path = folder / SPEC_FILE
    try:
        return EvalSpec.model_validate(_read(path))
    except ValidationError as exc:
        raise _invalid(path, exc) from None


def load_result(folder: Path, spec: EvalSpec, arm: str) -> _EvalFile:
    """One eval folder's results, checked: they are of its spec and ``arm`` has every seed."""
    path = folder / EVAL_FILE
    try:
        result = _EvalFile.model_validate(_read(path))
    except ValidationError as exc:
        raise _invalid(path, exc) from None
    for field in ("scenario", "hours", "seeds", "arms"):
        if getattr(result.spec, field) != getattr(spec, field):
            raise UserError(f"{path}: field spec.{field} is {getattr(result.spec, field)!r} but {folder / SPEC_FILE} "
                            f"says {getattr(spec, field)!r}; rerun that `town eval` to finish it")
    if arm not in result.arms:
        raise UserError(f"{path}: field arms.{arm}: no such arm (it has {', '.join(result.arms)}); see --arm")
    missing = [s for s in spec.seeds if str(s) not in result.arms[arm].per_seed]
    if missing:
        raise UserError(f"{path}: field arms.{arm}.per_seed.{missing[0]}: missing; rerun that `town eval`")
    return result


def check_same(before: Path, b: EvalSpec, after: Path, a: EvalSpec) -> None:
    """Scenario, hours and the seed list must be equal: a before/after is paired seed by seed."""
    for field, why in (("scenario", ""), ("hours", ""),
                       ("seeds", "; the comparison is paired seed by seed, so both evals need the same seed list")):
        if getattr(a, field) != getattr(b, field):
            raise UserError(f"{after / SPEC_FILE}: field {field} is {getattr(a, field)!r} but "
                            f"{before / SPEC_FILE} has {getattr(b, field)!r}{why}")


def difference(e: dict[str, Any], unit: str) -> str:
    """A paired difference with its interval: share metrics in percentage points, others in their unit."""
    if e["mean"] is None:
        return "–"

    def num(v: float | None, sign: str = "") -> str:
        if v is None:
            return "–"
        return f"{100 * v:{sign}.1f}" if unit == "share" else (f"{v:{sign},.2f}" if abs(v) < 1000 else f"{v:{sign},.0f}")

    return f"{num(e['mean'], '+')}{' pts' if unit == 'share' else ''} [{num(e['lo'])}, {num(e['hi'])}]"


def compare(before: Path, after: Path, arm: str = "A") -> dict[str, Any]:
    """Every metric both folders measured, in catalogue order: each side's mean and interval, the paired
    difference (after minus before, seed by seed) and its verdict; each side's ablation ratings."""
    b_spec, a_spec = load_spec(before), load_spec(after)
    check_same(before, b_spec, after, a_spec)
    b_res, a_res = load_result(before, b_spec, arm), load_result(after, a_spec, arm)
    seeds = [str(s) for s in b_spec.seeds]
    per = {"before": b_res.arms[arm].per_seed, "after": a_res.arms[arm].per_seed}
    names = {side: metric_names([{"values": per[side][s]} for s in seeds]) for side in SIDES}
    rows = []
    for name in names["before"]:
        if name not in names["after"]:
            continue
        vals = {side: [per[side][s].get(name) for s in seeds] for side in SIDES}
        diff = paired_difference(vals["before"], vals["after"])
        info = metric_info(name)
        rows.append({"name": name, "label": info.label, "unit": info.unit, "better": info.better,
                     **{side: asdict(bootstrap_ci(vals[side])) for side in SIDES},
                     "diff": asdict(diff), "verdict": verdict(name, diff, side="after"),
                     "direction": direction(diff, info.better)})
    specs, results = {"before": b_spec, "after": a_spec}, {"before": b_res, "after": a_res}
    return {
        "arm": arm, "scenario": b_spec.scenario, "hours": b_spec.hours, "seeds": b_spec.seeds,
        "sides": {side: {"folder": str(folder), "arm": specs[side].arms[arm].model_dump(),
                         "judge": specs[side].judge, "ablations": [ab.model_dump() for ab in results[side].ablations],
                         "only_here": [n for n in names[side] if n not in names[SIDES[1 - i]]]}
                  for i, (side, folder) in enumerate(zip(SIDES, (before, after), strict=True))},
        "rows": rows,
        "steps": step_rows(b_res.arms[arm].calls_by_step, a_res.arms[arm].calls_by_step),
    }


def add_baselines(result: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """``result`` with ``holds``: the verdicts of ``result`` (after against before) that ``others`` (the same
    after against more evals of the unchanged code, an A/A) all repeat in the same direction."""
    found = [{row["name"]: row for row in other["rows"]} for other in others]
    holds = []
    for row in result["rows"]:
        same = [f[row["name"]] for f in found if row["name"] in f]
        way = row["direction"]
        if way and len(same) == len(found) and all(r["direction"] == way for r in same):
            diffs = "; ".join(difference(r["diff"], r["unit"]) for r in [row, *same])
            word = "better" if way > 0 else "worse"
            holds.append(f"after is {word} on {row['label']} against every baseline: {diffs}")
    baselines = [result["sides"]["before"]["folder"], *(o["sides"]["before"]["folder"] for o in others)]
    return {**result, "baselines": baselines, "holds": holds}


StepFigures = dict[str, dict[str, int]]


def step_rows(before: StepFigures | None, after: StepFigures | None) -> list[dict[str, Any]]:
    """Each step's calls and tokens over all runs, before and after, most calls after first; [] when either eval
    did not record them."""
    if before is None or after is None:
        return []
    none = no_step_figures()
    steps = sorted(set(before) | set(after),
                   key=lambda k: (-after.get(k, none)["calls"], -before.get(k, none)["calls"], k))
    return [{"step": k, "before": before.get(k, none), "after": after.get(k, none)} for k in steps]


def table(result: dict[str, Any]) -> Table:
    """The console's view: one row per metric, before and after with intervals, and the paired difference."""
    t = Table(title=f"{result['scenario']}: arm {result['arm']}, {len(result['seeds'])} seeds × {result['hours']:g} h, "
                    "after − before paired by seed (95% bootstrap intervals)")
    for col in ("metric", "before", "after", "after − before"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for r in result["rows"]:
        u = r["unit"]
        t.add_row(r["label"], *(f"{fmt_number(e['mean'], u)} [{fmt_number(e['lo'], u)}, {fmt_number(e['hi'], u)}]"
                                for e in (r["before"], r["after"])), difference(r["diff"], u))
    return t


def summary_lines(result: dict[str, Any]) -> list[str]:
    """What the command prints under the table: every verdict, then each side's ablation ratings."""
    lines = [row["verdict"] for row in result["rows"]]
    if "holds" in result:
        lines.append(f"against every baseline ({', '.join(result['baselines'])}):")
        lines += [f"  {line}" for line in result["holds"]] or ["  no verdict holds against every baseline"]
    ablations = [(side, ab) for side, s in result["sides"].items() for ab in s["ablations"]]
    for side, ab in ablations:
        lines += [line if line.startswith(" ") else f"{side}: {line}" for line in ablation_lines(ab)]
    if ablations:
        lines.append(PAPER_NOTE)
    return lines


def render(result: dict[str, Any], path: Path, fmt: str) -> Path:
    """Write the Markdown or HTML report to ``path`` (its folder must exist: nothing else is created)."""
    env = environment(fmt)
    env.filters["difference"] = difference
    text = env.get_template(f"compare.{fmt}.j2").render(c=result, paper=PAPER_NOTE)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report ({exc.strerror})") from None
    return path


def default_report(before: Path, after: Path, fmt: str) -> Path:
    return after / f"compare-{before.resolve().name}.{fmt}"


__all__ = ["add_baselines", "compare", "default_report", "render", "summary_lines", "table"]
