"""The `town eval` entry: check the inputs, open the LLM backends once, run every arm and seed, summarise,
write eval.json and the reports. Kept apart from the CLI so tests drive it with a scripted LLM."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from town.app import checkpoint as ckpt
from town.app.eval.cascade import backend_overrides
from town.app.eval.report import render
from town.app.eval.runner import SPEC_FILE, EvalSpec, check_inputs, check_spec, run_all
from town.app.eval.summary import summarise

log = logging.getLogger("town.app.eval")


async def _open_backends(out: Path, judge_base_url: str | None, judge_model: str | None,
                         overrides: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """The shared backend (``overrides``: the arms' cascade keys, eval/cascade.py) and the judge's."""
    from agents import open_llm
    from agents import agent_settings

    settings = agent_settings(**(overrides or {}))
    if settings.cache_path is None:  # every run's answers in one cache: a rerun of the eval replays them
        settings = settings.model_copy(update={"cache_path": out / "llm_cache.sqlite"})
    backend = await open_llm(settings, seed=0)
    if not judge_base_url:
        return backend, backend
    try:
        # the judge's own server: the minds' cascade (small_steps) is not the judge's
        judge = await open_llm(agent_settings(base_urls=[judge_base_url], model=judge_model,
                                              cache_path=out / "judge_cache.sqlite", small_steps=[]), seed=0)
    except BaseException:
        await backend.aclose()
        raise
    return backend, judge


def evaluate(spec: EvalSpec, out: Path, *, concurrency: int = 2, judge_base_url: str | None = None,
             judge_model: str | None = None, llm: Any = None, judge_llm: Any = None,
             formats: tuple[str, ...] = ("html", "md"), console: Any = None) -> dict[str, Any]:
    """Run (or continue) the eval in ``out``; ``llm``/``judge_llm`` replace the configured backends (tests);
    progress goes to ``console`` (stderr by default): drawn on a terminal, else INFO log lines."""
    check_inputs(spec)
    check_spec(out, spec)

    async def go() -> None:
        backend, judge = (llm, judge_llm or llm) if llm is not None else await _open_backends(
            out, judge_base_url, judge_model, backend_overrides(spec))
        try:
            agents_model, judge_name = backend.model_name, judge.model_name
            spec.judge = {"model": judge_name, "agents_model": agents_model,
                          "weak": judge is backend or judge_name == agents_model}
            out.mkdir(parents=True, exist_ok=True)
            ckpt.atomic_write_json(out / SPEC_FILE, spec.model_dump())
            await run_all(out, spec, backend, judge, concurrency=concurrency, console=console)
        finally:
            if llm is None:
                await backend.aclose()
                if judge is not backend:
                    await judge.aclose()

    asyncio.run(go())
    result = summarise(out, spec)
    for fmt in formats:
        log.info("eval report: %s", render(result, out, fmt))
    return result
