"""`python -m town bench server`: the model server's own prompt and generation throughput, from its ``timings``.

Against the configured endpoint(s), or the embedded model when none is configured (as `town run`): (a) a
~1,000-token prompt with a fresh prefix each time (nothing reused from a prefix cache), one token out, 3 times;
(b) 128 tokens generated in one slot, 3 times; (c) N such requests at once (N = the embedded server's slots,
else 4); (d) a JSON answer under a response schema that copies addresses from the prompt, as the planning
steps do, one slot, 3 times. Server figures are None where the server gives no ``timings``; the client's wall
time is always shown, and with speculative decoding (llama.cpp's ``draft_n``/``draft_n_accepted``) the share
of drafted tokens the model accepted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai

from agents import server_figures

FILLER = ("The baker of the little town opens the cafe at seven, sweeps the floor, lights the stove and sets out "
          "the bread while the painter next door mixes colours for a portrait of the mayor. ")  # ~40 tokens
PROMPT_REPEATS = 25  # ~1,000 prompt tokens
GEN_TOKENS = 128
REPEATS = 3
STORY = "Tell a long story about a day in a small town, with many details."
PLACES = ["Hobbs Cafe:cafe", "Hobbs Cafe:cafe kitchen", "Oak Hill College:library", "Oak Hill College:classroom A",
          "Johnson Park:community garden", "Johnson Park:pond", "Willow Market:shop floor", "Town Hall:council chamber",
          "Rose and Crown Pub:bar", "Artists' co-living space:studio"]
PLAN = ("It is Monday 09:00. For the next 60 minutes you are: getting ready for the Valentine's Day party.\n"
        "Places:\n" + "\n".join(f"- {p}" for p in PLACES) + "\nSplit this into 4 tasks of 15 minutes, each with a "
        "description and an address (exactly one address from the list).")
PLAN_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["tasks"], "properties": {"tasks": {
    "type": "array", "minItems": 4, "maxItems": 4, "items": {
        "type": "object", "additionalProperties": False, "required": ["description", "address"],
        "properties": {"description": {"type": "string", "maxLength": 80}, "address": {"enum": PLACES}}}}}}


@dataclass(frozen=True)
class Sample:
    """One request: what the server said it did (None: it did not say) and the client's wall seconds."""

    wall_s: float
    prompt_tokens: int  # usage: the whole prompt
    completion_tokens: int
    prompt_n: int | None
    prompt_ms: float | None
    gen_n: int | None
    gen_ms: float | None
    draft_n: int | None = None  # tokens drafted by speculative decoding, and how many the model accepted
    draft_accepted: int | None = None


async def _ask(client: Any, model: str, prompt: str, max_tokens: int, extra: dict[str, Any] | None = None,
               schema: dict[str, Any] | None = None) -> Sample:
    fmt = {"type": "json_schema", "json_schema": {"name": "Tasks", "schema": schema, "strict": True}} if schema else None
    t0 = time.perf_counter()
    resp = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.7,
        extra_body=extra, **({"response_format": fmt} if fmt else {}))
    wall = time.perf_counter() - t0
    f = server_figures(resp, time.time())
    usage = resp.usage
    return Sample(wall, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0,
                  f and f.prompt_n, f and f.prompt_ms, f and f.gen_n, f and f.gen_ms, f and f.draft_n,
                  f and f.draft_accepted)


def _rate(n: list[int | None], ms: list[float | None]) -> float | None:
    """Tokens per second over the samples, by the server's clock; None unless every sample was timed and made at
    least two tokens (one token comes out with the prompt's evaluation: llama.cpp times it at a few microseconds)."""
    if not n or any(x is None for x in n) or any(x is None for x in ms) or not sum(ms):  # type: ignore[arg-type]
        return None
    if sum(n) < 2 * len(n):  # type: ignore[arg-type]
        return None
    return round(sum(n) / (sum(ms) / 1000), 1)  # type: ignore[arg-type]


def _row(test: str, samples: list[Sample], wall_s: float, *, prompt: bool = False) -> dict[str, Any]:
    """One table row; ``wall_s`` is the client's wall time for all the samples (sequential or at once), over which
    the client's tokens/s counts the prompt's tokens (``prompt``) or the generated ones."""
    gen = sum(s.completion_tokens for s in samples)
    client_tokens = sum(s.prompt_tokens for s in samples) if prompt else gen
    evaluated = [s.prompt_n for s in samples]
    drafted = [s.draft_n for s in samples]
    accepted = None if None in drafted or not sum(drafted) else round(  # type: ignore[arg-type]
        sum(s.draft_accepted or 0 for s in samples) / sum(drafted), 2)  # type: ignore[arg-type]
    return {
        "test": test,
        "requests": len(samples),
        "prompt tokens evaluated": None if None in evaluated else sum(evaluated),  # type: ignore[arg-type]
        "prompt tok/s (server)": _rate(evaluated, [s.prompt_ms for s in samples]),
        "tokens generated": gen,
        "gen tok/s per slot (server)": _rate([s.gen_n for s in samples], [s.gen_ms for s in samples]),
        "tokens/s (client wall)": round(client_tokens / wall_s, 1) if wall_s > 0 else None,
        "client wall s": round(wall_s, 3),
        "draft accepted": accepted,
    }


async def _one_at_a_time(test: str, ask: Callable[[], Awaitable[Sample]], *, prompt: bool = False) -> dict[str, Any]:
    """``REPEATS`` requests one after the other, as one table row."""
    t0 = time.perf_counter()
    samples = [await ask() for _ in range(REPEATS)]
    return _row(test, samples, time.perf_counter() - t0, prompt=prompt)


async def bench_endpoint(client: Any, model: str, parallel: int, *, llama_cpp: bool) -> list[dict[str, Any]]:
    """The four measurements against one endpoint (``llama_cpp``: also tell it not to reuse its prompt cache)."""
    no_cache = {"cache_prompt": False} if llama_cpp else None  # the chat template's own prefix is shared too

    def fresh_prompt() -> str:  # a new first word each time: no prefix cache can help with the user's message
        return f"{uuid.uuid4().hex}: a request.\n" + FILLER * PROMPT_REPEATS

    prompt = await _one_at_a_time("prompt ~1,000 tokens, nothing reused",
                                  lambda: _ask(client, model, fresh_prompt(), 1, no_cache), prompt=True)
    one = await _one_at_a_time(f"generate {GEN_TOKENS} tokens, one slot", lambda: _ask(client, model, STORY, GEN_TOKENS))
    t0 = time.perf_counter()
    samples = list(await asyncio.gather(*(_ask(client, model, f"{i}. {STORY}", GEN_TOKENS) for i in range(parallel))))
    many = _row(f"generate {GEN_TOKENS} tokens, {parallel} at once", samples, time.perf_counter() - t0)
    plan = await _one_at_a_time("JSON plan copying addresses, one slot",
                                lambda: _ask(client, model, PLAN, GEN_TOKENS * 2, schema=PLAN_SCHEMA))
    return [prompt, one, many, plan]


async def bench_server(parallel: int | None = None) -> dict[str, Any]:
    """Open the LLM as `town run` does (no response cache) and measure each of its endpoints."""
    from agents import agent_settings, open_llm

    settings = agent_settings().model_copy(update={"cache_path": None})
    slots = parallel or (4 if settings.base_urls else settings.embedded_parallel)
    llm = await open_llm(settings)
    try:
        rows = []
        embedded = not settings.base_urls
        for ep in llm.pool.endpoints:  # type: ignore[attr-defined]
            try:
                measured = await bench_endpoint(ep.client, llm.model_name, slots, llama_cpp=embedded)
            except openai.APIError as exc:  # the command says so in one line (its caller turns ValueError into that)
                raise ValueError(f"bench server: {ep.label}: {' '.join(str(exc).split())[:300]}") from None
            rows += [{"endpoint": ep.label, **r} for r in measured]
        return {"model": llm.model_name, "embedded": embedded, "parallel": slots, "rows": rows,
                "speculative": settings.embedded_speculative if embedded else None}
    finally:
        await llm.aclose()
