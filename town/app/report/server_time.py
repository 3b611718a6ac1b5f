"""How much of a run's wall time the model server spent working, from the server's own figures in the
``llm_call`` events: busy seconds (the union of each answer's server interval, since batched slots overlap),
that share of the wall time, the prefix cache's hit rate and the generation speed the server saw."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from town.world.event_types import LLMCall
from town.world.events import Event


@dataclass(frozen=True)
class ServerTime:
    """The figures; each None when no call said what it needs (never 0 for "not said")."""

    calls: int  # calls with any server figure
    busy_s: float | None  # union over calls of [arrival - (prompt_ms + gen_ms), arrival]
    wall_s: float | None
    busy_share: float | None  # busy_s / wall_s
    prompt_reused: int | None  # prompt tokens taken from the server's prefix cache
    prompt_evaluated: int | None
    cache_hit_rate: float | None  # reused / (reused + evaluated)
    gen_tokens: int | None
    gen_tokens_per_s: float | None  # per slot, as the server timed it
    draft_tokens: int | None = None  # speculative decoding: tokens drafted, and the share the model accepted
    draft_acceptance: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def busy_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def _interval(c: LLMCall) -> tuple[float, float] | None:
    """The span the server worked on this call, ending when the answer arrived. A retried call logs its attempts'
    figures summed, so its span is their total length ending at the last answer (the attempts ran one after the
    other, with the backoff between them: a small shift, no overcount)."""
    if c.ended_at is None or c.server_prompt_ms is None or c.server_gen_ms is None:
        return None
    return c.ended_at - (c.server_prompt_ms + c.server_gen_ms) / 1000, c.ended_at


def _evaluated(c: LLMCall) -> int | None:
    """Prompt tokens evaluated: the server's count, else (``cached_tokens`` alone) the prompt less the reused."""
    if c.server_prompt_n is not None:
        return c.server_prompt_n
    return None if c.server_cache_n is None else max(0, c.prompt_tokens - c.server_cache_n)


def server_time(calls: Sequence[LLMCall], wall_s: float | None) -> ServerTime:
    """The figures of ``calls`` (``llm_call`` payloads) over a wall time of ``wall_s`` seconds."""
    said = [c for c in calls if c.server_cache_n is not None or c.server_prompt_n is not None
            or c.server_gen_n is not None]
    spans = [iv for iv in map(_interval, said) if iv is not None]
    busy = busy_seconds(spans) if spans else None
    cached = [(c.server_cache_n, _evaluated(c)) for c in said if c.server_cache_n is not None]
    reused = sum(r for r, _ in cached) if cached else None
    evaluated = sum(e for _, e in cached if e is not None) if cached else None
    prompt = (reused or 0) + (evaluated or 0)
    timed_gen = [c for c in said if c.server_gen_n is not None and c.server_gen_ms is not None]
    gen_n = sum(c.server_gen_n or 0 for c in timed_gen) if timed_gen else None
    gen_ms = sum(c.server_gen_ms or 0.0 for c in timed_gen)
    drafted = [c for c in said if c.server_draft_n is not None and c.server_draft_accepted is not None]
    draft_n = sum(c.server_draft_n or 0 for c in drafted) if drafted else None
    accepted = sum(c.server_draft_accepted or 0 for c in drafted)
    return ServerTime(
        calls=len(said), busy_s=busy, wall_s=wall_s,
        busy_share=busy / wall_s if busy is not None and wall_s else None,
        prompt_reused=reused, prompt_evaluated=evaluated,
        cache_hit_rate=reused / prompt if reused is not None and prompt else None,
        gen_tokens=gen_n, gen_tokens_per_s=gen_n / (gen_ms / 1000) if gen_n is not None and gen_ms > 0 else None,
        draft_tokens=draft_n, draft_acceptance=accepted / draft_n if draft_n else None,
    )


def llm_call_payloads(events: Iterable[Event]) -> list[LLMCall]:
    return [ev.data for ev in events if isinstance(ev.data, LLMCall)]


def run_server_time(events: Sequence[Event], wall_s: float | None) -> ServerTime:
    """The figures of a whole run; ``wall_s`` is the run's wall time (summed over a resumed run's sessions)."""
    return server_time(llm_call_payloads(events), wall_s)


def server_line(st: ServerTime | dict[str, Any] | None) -> str | None:
    """"model server busy 71% of the wall time (1,170 s of 1,650 s); prefix cache reused 64% of prompt tokens",
    the parts the server gave figures for; None when it gave none."""
    if st is None:
        return None
    d = st.as_dict() if isinstance(st, ServerTime) else st
    parts = []
    if d.get("busy_share") is not None:
        parts.append(f"model server busy {d['busy_share']:.0%} of the wall time "
                     f"({d['busy_s']:,.0f} s of {d['wall_s']:,.0f} s)")
    if d.get("cache_hit_rate") is not None:
        parts.append(f"prefix cache reused {d['cache_hit_rate']:.0%} of prompt tokens")
    if d.get("draft_acceptance") is not None:
        parts.append(f"speculative decoding: {d['draft_acceptance']:.0%} of {d['draft_tokens']:,} drafted tokens accepted")
    return "; ".join(parts) or None
