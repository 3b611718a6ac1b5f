"""End-of-run probe of `town eval`: interview every agent about the seeded facts and about each other,
judge the answers (knows the fact? knows the person? backed by the agent's own memories?), and read
from memory when each agent first held each fact. Read-only on the run; the result is ``eval_probe.json``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from town.app.eval.metrics import mentions, summed
from town.app.eval.progress import PhaseCounts

PROBE_FILE = "eval_probe.json"


def place_rules(town_map: Any, personas: list[Any]) -> dict[str, Any]:
    """Private sectors (homes) and arenas (bedrooms) of the map, and where each agent lives."""
    return {
        "private_sectors": sorted(n for n, s in town_map.sectors.items() if s.private),
        "private_arenas": sorted(a for a, ar in town_map.arenas.items() if ar.private),
        "homes": {p.name: p.living_area for p in personas},
    }


def all_memories(mind: Any) -> list[Any]:
    """Every memory of the agent (read once per agent; each fact filters this list)."""
    memory = mind.ctx.memory
    n = memory.count()
    return memory.recent(n) if n else []


def fact_memories(memories: list[Any], keywords: list[str]) -> list[Any]:
    """The memories that mention the fact (every keyword), oldest first."""
    return sorted((r for r in memories if mentions(r.text, keywords)), key=lambda r: r.created)


def first_held(memories: list[Any], keywords: list[str], seeded: bool, start: Any) -> str | None:
    """Game time (iso) of the agent's earliest memory mentioning the fact; the start if seeded with it."""
    if seeded:
        return start.isoformat()
    found = fact_memories(memories, keywords)
    return found[0].created.isoformat() if found else None


def held_sources(memories: list[Any], keywords: list[str]) -> dict[str, Any]:
    """Where an agent not seeded with a fact got it: its memories mentioning the fact counted by kind (what it
    was told, a conversation line, an observation, ...) and the first of them, cut to 200 characters."""
    found = fact_memories(memories, keywords)
    return {"kinds": summed([{r.kind: 1} for r in found]), "first": found[0].text[:200] if found else None}


async def _judged_answer(mind: Any, asked: str, judge: Any, persona: Any, now: Any, counts: PhaseCounts,
                         step: str, **judge_vars: Any) -> dict[str, Any]:
    from agents import JUDGE_SUPPORT, judge_yes

    reply = await mind.answer_with_evidence(asked)
    counts.answer()
    row: dict[str, Any] = {"agent": persona.name, "question": asked, "answer": reply.answer,
                           "evidence": reply.evidence, "answer_fallback": reply.fallback}
    if reply.fallback:  # no answer to judge: neither ruling is counted
        row.update(judged=None, supported=None)
        return row
    llm, prompts = judge
    ruling, supported = await asyncio.gather(
        judge_yes(llm, prompts, step, persona, now, answer=reply.answer, **judge_vars),
        judge_yes(llm, prompts, JUDGE_SUPPORT, persona, now, question=asked, answer=reply.answer,
                  evidence=reply.evidence),
    )
    counts.judgement(2)
    row.update(judged=ruling, supported=supported)
    return row


def _renamed(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out = {**extra, **row}
    out["knows"] = out.pop("judged")
    return out


async def probe_run(session: Any, judge: tuple[Any, Any], counts: PhaseCounts | None = None) -> dict[str, Any]:
    """Everything :func:`town.app.eval.metrics.run_metrics` needs beyond the event log; ``counts`` tallies
    the answers and judgements as they come in."""
    from agents import JUDGE_FACT, JUDGE_KNOWS

    scenario, minds, now = session.scenario, session.minds, session.world.now()
    personas = {p.name: p for p in scenario.personas}
    names = sorted(minds)
    counts = counts or PhaseCounts()
    fact_jobs, knows_jobs = [], []
    for f in scenario.facts:
        if f.question:
            for a in names:
                fact_jobs.append((f.id, _judged_answer(minds[a], f.question, judge, personas[a], now, counts,
                                                       JUDGE_FACT,
                                                       fact=f.text, question=f.question)))
    for a in names:
        for b in names:
            if a != b:
                knows_jobs.append((b, _judged_answer(minds[a], f"Who is {b}?", judge, personas[a], now, counts,
                                                     JUDGE_KNOWS, other=b)))
    fact_rows = await asyncio.gather(*(job for _, job in fact_jobs))
    knows_rows = await asyncio.gather(*(job for _, job in knows_jobs))
    answers = [_renamed(row, fact=fid) for (fid, _), row in zip(fact_jobs, fact_rows, strict=True)]
    knows = [_renamed(row, other=other) for (other, _), row in zip(knows_jobs, knows_rows, strict=True)]
    memories = {a: all_memories(minds[a]) for a in names}
    return {
        "agents": names,
        "start": scenario.start.isoformat(),
        "end": now.isoformat(),
        "facts": [f.model_dump(mode="json") for f in scenario.facts],
        "answers": answers,
        "knows": knows,
        "first_held": {f.id: {a: first_held(memories[a], f.keywords, a in f.known_by, scenario.start) for a in names}
                       for f in scenario.facts},
        "held_sources": {f.id: {a: held_sources(memories[a], f.keywords) for a in names if a not in f.known_by}
                         for f in scenario.facts},
        "places": place_rules(session.world.map, scenario.personas),
    }
