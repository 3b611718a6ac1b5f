"""A scripted fake LLM for tests: answers come from a script, everything else is the real BaseLLM.

The script is either a callable ``(step, messages, response_format) -> str | dict`` or a mapping
``step -> list of answers`` consumed in order (a dict answer is sent as JSON, a str as-is, so
tests can feed malformed answers and exercise retry and fallback). Each request is kept in
``self.requests`` for assertions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from agents.llm.base import BaseLLM, LLMError, Messages, RawCompletion

Script = Callable[[str, Messages, "dict[str, Any] | None"], "str | dict[str, Any]"] | Mapping[str, list[Any]]


class ScriptedLLM(BaseLLM):
    model_name = "scripted"

    def __init__(self, script: Script, *, delay_s: float = 0.0, **kw: Any) -> None:
        super().__init__(**kw)
        self._script = script
        self._queues = {k: list(v) for k, v in script.items()} if isinstance(script, Mapping) else None
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []

    async def _complete(self, messages, *, response_format, temperature, max_tokens, seed, step, agent) -> RawCompletion:
        self.requests.append(
            {"step": step, "agent": agent, "messages": messages, "response_format": response_format, "seed": seed}
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._queues is not None:
            queue = self._queues.get(step)
            if not queue:
                raise LLMError(f"script has no answer left for step {step!r}")
            answer = queue.pop(0)
        else:
            answer = self._script(step, messages, response_format)
        if isinstance(answer, Exception):
            raise answer
        content = answer if isinstance(answer, str) else json.dumps(answer)
        ptok = sum(len(m["content"].split()) for m in messages)
        return RawCompletion(content=content, prompt_tokens=ptok, completion_tokens=len(content.split()), model="scripted")
