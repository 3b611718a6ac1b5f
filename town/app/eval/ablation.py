"""The paper's believability study: interview every agent under the full architecture and under ablations
that hide memory kinds from what it can retrieve, have a judge compare the answers pairwise, and rate the
conditions (Bradley-Terry with bootstrap intervals). Read-only on the run; the result is ``eval_ablation.json``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

from town.app.eval.progress import PhaseCounts
from town.app.eval.stats import rate_conditions
from town.app.interviews import expand_questions, load_questions

ABLATION_FILE = "eval_ablation.json"
_ALL = frozenset({"observation", "thought", "plan", "chat", "reflection"})
#: what each condition may retrieve while answering (None: everything). Chats are what the agent heard and
#: said, so the last condition hides them with the observations; the persona and seed thoughts stay.
CONDITIONS: dict[str, frozenset[str] | None] = {
    "full": None,
    "no reflection": _ALL - {"reflection"},
    "no reflection, planning": _ALL - {"reflection", "plan"},
    "no observation, reflection, planning": frozenset({"thought"}),
}
PAPER_ORDER = list(CONDITIONS)  # Park et al. 2023, fig. 8: full > no refl. > no refl.+plan > no obs.+refl.+plan


def pick_questions(questions: dict[str, list[str]], agent: str, agents: list[str], limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` questions for ``agent``, round-robin over the categories so each gets its share."""
    asked = expand_questions(questions, agent, agents, max_others=1)
    by_cat: dict[str, list[tuple[str, str]]] = {}
    for cat, q in asked:
        by_cat.setdefault(cat, []).append((cat, q))
    out: list[tuple[str, str]] = []
    for row in itertools.zip_longest(*by_cat.values()):
        out.extend(x for x in row if x is not None)
    return out[:limit]


async def _answers(mind: Any, question: str, counts: PhaseCounts) -> dict[str, Any]:
    async def one(kinds: frozenset[str] | None) -> Any:
        reply = await mind.answer_with_evidence(question, kinds=None if kinds is None else set(kinds))
        counts.answer()
        return reply

    replies = await asyncio.gather(*(one(k) for k in CONDITIONS.values()))
    return {c: (None if r.fallback else r.answer) for c, r in zip(CONDITIONS, replies, strict=True)}


async def believability(session: Any, judge: tuple[Any, Any], questions_path: Path, *, limit: int,
                        seed: int, counts: PhaseCounts | None = None) -> dict[str, Any]:
    """Answers under every condition, pairwise judgements (order shuffled, seeded) and the ratings; ``counts``
    tallies the answers and judgements as they come in."""
    from agents import judge_pair

    llm, prompts = judge
    minds, now = session.minds, session.world.now()
    personas = {p.name: p for p in session.scenario.personas}
    names = sorted(minds)
    questions = load_questions(questions_path)
    asks = [(a, cat, q) for a in names for cat, q in pick_questions(questions, a, names, limit)]
    counts = counts or PhaseCounts()
    answers = await asyncio.gather(*(_answers(minds[a], q, counts) for a, _, q in asks))
    jobs, meta = [], []
    for (agent, cat, q), ans in zip(asks, answers, strict=True):
        for c1, c2 in itertools.combinations(CONDITIONS, 2):
            if ans[c1] is None or ans[c2] is None:
                continue
            swap = random.Random(f"{seed}|{agent}|{q}|{c1}|{c2}").random() < 0.5
            first, second = (c2, c1) if swap else (c1, c2)
            jobs.append(judge_pair(llm, prompts, personas[agent], now, question=q, first=ans[first], second=ans[second]))
            meta.append((agent, cat, q, first, second))
    async def judged(job: Any) -> Any:
        pick = await job
        counts.judgement()
        return pick

    picks = await asyncio.gather(*(judged(j) for j in jobs))
    comparisons, rows, dropped = [], [], 0
    for (agent, cat, q, first, second), pick in zip(meta, picks, strict=True):
        if pick is None:
            dropped += 1
            continue
        win, lose = (first, second) if pick == "first" else (second, first)
        comparisons.append((win, lose))
        rows.append({"agent": agent, "category": cat, "question": q, "winner": win, "loser": lose})
    ratings = rate_conditions(comparisons, PAPER_ORDER, seed=seed) if comparisons else {}
    ours = sorted(ratings, key=lambda c: -(ratings[c].mean or 0.0))
    return {
        "conditions": {c: (sorted(k) if k is not None else "all") for c, k in CONDITIONS.items()},
        "answers": [{"agent": a, "category": cat, "question": q, "answers": ans}
                    for (a, cat, q), ans in zip(asks, answers, strict=True)],
        "comparisons": rows,
        "judge_fallbacks": dropped,
        "ratings": {c: asdict(e) for c, e in ratings.items()},
        "paper_order": PAPER_ORDER,
        "our_order": ours,
    }
