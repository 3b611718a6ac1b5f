"""The judge: yes/no rulings and pairwise picks for ``town eval``, rendered from ``prompt_templates/judge_*.j2``.

A judge call is an ordinary structured LLM step (retry, then a logged, counted fallback); the caller
gets ``None`` when the judge fell back, so an unjudged answer is never counted as either ruling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agents.llm.base import BaseLLM
from agents.prompts import PromptLibrary, format_time
from agents.step_registry import register_step
from agents.schemas import Judgement, PairJudgement
from town.world.protocol import Persona

JUDGE_FACT = "judge_fact"        # does the answer show the agent knows the fact?
JUDGE_SUPPORT = "judge_support"  # is every claim of the answer backed by the memories shown?
JUDGE_KNOWS = "judge_knows"      # does the answer to "Who is X?" show the agent knows X?
JUDGE_PAIR = "judge_pair"        # which of two answers is more believable?

register_step(JUDGE_FACT, {"fact", "question", "answer"})
register_step(JUDGE_SUPPORT, {"question", "answer", "evidence"})
register_step(JUDGE_KNOWS, {"other", "answer"})
register_step(JUDGE_PAIR, {"question", "first", "second"})

_FALLBACK_YES = Judgement(reason="(judge failed)", yes=False)
_FALLBACK_PAIR = PairJudgement(reason="(judge failed)", better="first")


async def _ask(llm: BaseLLM, prompts: PromptLibrary, step: str, fallback: Any, persona: Persona, now: datetime,
               **variables: Any) -> Any:
    tpl = prompts.get(step)
    messages = tpl.render(persona=persona, now=format_time(now), **variables)
    assert tpl.schema is not None, f"{tpl.path}: a judge template needs a schema"
    result = await llm.structured(messages, tpl.schema, step=step, agent=f"judge:{persona.name}",
                                  temperature=tpl.temperature, max_tokens=tpl.max_tokens, fallback=fallback)
    return None if result is fallback else result


async def judge_yes(llm: BaseLLM, prompts: PromptLibrary, step: str, persona: Persona, now: datetime,
                    **variables: Any) -> bool | None:
    """A yes/no ruling of ``step`` (one of the yes/no judges); None when the judge fell back."""
    if step not in (JUDGE_FACT, JUDGE_SUPPORT, JUDGE_KNOWS):
        raise ValueError(f"{step!r} is not a yes/no judge step")
    result = await _ask(llm, prompts, step, _FALLBACK_YES, persona, now, **variables)
    return None if result is None else bool(result.yes)


async def judge_pair(llm: BaseLLM, prompts: PromptLibrary, persona: Persona, now: datetime, *, question: str,
                     first: str, second: str) -> str | None:
    """``"first"`` or ``"second"``: the more believable answer; None when the judge fell back."""
    result = await _ask(llm, prompts, JUDGE_PAIR, _FALLBACK_PAIR, persona, now,
                        question=question, first=first, second=second)
    return None if result is None else result.better
