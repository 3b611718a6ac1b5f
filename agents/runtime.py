"""MindRuntime: what all minds of a run share (LLM, memory store, prompts, plan cache) and their factory."""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from agents.context import CognitionSettings, MindContext
from agents.llm.base import BaseLLM
from agents.memory.stream import MemoryStore
from agents.mind import AgentMind
from agents.steps.perceive import PROVISIONAL_IMPORTANCE
from agents.prompts import PromptLibrary
from town.world.protocol import MindFactory, Persona, WorldView

log = logging.getLogger("agents.runtime")


def _namespace(run_dir: Path) -> str:
    """A chroma namespace unique to ``run_dir`` (for stores shared between runs)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", run_dir.name).strip("-_")[:40] or "run"
    digest = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def _register_secrets(llm_settings: Any) -> None:
    """The configured API key and URL passwords are masked verbatim in everything logged or stored from now on."""
    from urllib.parse import urlsplit

    from agents.llm.redact import register_secret

    register_secret(llm_settings.api_key)
    for url in llm_settings.base_urls:
        try:
            register_secret(urlsplit(url).password)
        except ValueError:  # an unparsable URL is the LLM gateway's to report; redact() still masks userinfo
            pass


class MindRuntime:
    """Owns the LLM, the memory store, the prompt library and a plan cache shared by all minds."""

    def __init__(self, *, llm: BaseLLM, store: MemoryStore, prompts: PromptLibrary, settings: CognitionSettings,
                 seed: int, owns_llm: bool) -> None:
        self.llm = llm
        self.store = store
        self.prompts = prompts
        self.settings = settings
        self.seed = seed
        self.plan_cache: dict[str, Any] = {}
        self.digests: dict[str, Any] = {}
        self.minds: dict[str, AgentMind] = {}
        self._owns_llm = owns_llm

    @classmethod
    async def open(
        cls,
        run_dir: Path,
        *,
        seed: int,
        prompts_dir: Path | None = None,
        llm: BaseLLM | None = None,
        memory_url: str | None = None,
        settings: CognitionSettings | None = None,
    ) -> MindRuntime:
        """Load (and check) the prompts and the settings, open memory, and open the LLM unless one is given.

        ``settings`` default to :func:`agents.settings.cognition_settings` (``[mind]`` of town.toml, ``TOWN_MIND_*``).
        """
        prompts = PromptLibrary.load(prompts_dir)
        if settings is None:
            from agents.settings import cognition_settings

            settings = cognition_settings()
        run_dir = Path(run_dir)
        if memory_url:
            store = MemoryStore.from_url(memory_url, namespace=_namespace(run_dir))
        else:
            store = MemoryStore.persistent(run_dir / "memory")
        owns = llm is None
        if llm is None:
            from agents.llm import open_llm
            from agents.settings import agent_settings

            llm_settings = agent_settings()
            _register_secrets(llm_settings)
            if llm_settings.cache_path is None:  # each run keeps its answers: same seed + same cache = same run
                llm_settings = llm_settings.model_copy(update={"cache_path": run_dir / "llm_cache.sqlite"})
            llm = await open_llm(llm_settings, seed=seed)
        return cls(llm=llm, store=store, prompts=prompts, settings=settings, seed=seed, owns_llm=owns)

    @staticmethod
    def check_inputs(prompts_dir: Path | None = None) -> None:
        """Load the prompts and the LLM and mind settings without opening anything; register configured secrets.

        Raises PromptError or SettingsError (one line naming the file or key): a run calls this before it
        writes anything, so a bad input leaves nothing on disk.
        """
        from agents.settings import agent_settings, cognition_settings

        _register_secrets(agent_settings())
        cognition_settings()
        PromptLibrary.load(prompts_dir)

    def factory(self) -> MindFactory:
        """``(persona, world) -> AgentMind``; a new agent's stream gets its persona's seed memories."""

        def make(persona: Persona, world: WorldView) -> AgentMind:
            if persona.name in self.minds:
                raise ValueError(f"a mind for {persona.name!r} already exists in this runtime")
            stream = self.store.stream(persona.name)
            stream.weights = self.settings.retrieval
            ctx = MindContext(
                persona=persona,
                llm=self.llm,
                memory=stream,
                prompts=self.prompts,
                world=world,
                settings=self.settings,
                rng=random.Random(f"{self.seed}:{persona.name}"),
                plan_cache=self.plan_cache,
                digests=self.digests,
            )
            mind = AgentMind(ctx)
            seeds = [(text, False) for text in persona.seed_memories]
            seeds += [(text, True) for text in persona.private_memories]
            if stream.count() == 0 and seeds:
                records = stream.add_many([
                    {"kind": "thought", "text": text, "created": world.now(), "importance": PROVISIONAL_IMPORTANCE,
                     "private": private}
                    for text, private in seeds
                ])
                mind.state.perception.pending.extend(r.id for r in records)
            self.minds[persona.name] = mind
            return mind

        return make

    def forget_after(self, t: datetime) -> dict[str, int]:
        """On resume: delete memories created at or after the checkpoint's game time ``t`` (the tick in flight
        when the run was killed); return ``{agent: n}`` for agents that lost any. Call before :meth:`factory`."""
        dropped: dict[str, int] = {}
        for agent in self.store.agents():
            n = self.store.stream(agent).forget_from(t)
            if n:
                dropped[agent] = n
                log.warning("%s: dropped %d memories written after the checkpoint (%s)", agent, n, t.isoformat())
        return dropped

    def summary(self) -> dict[str, Any]:
        """LLM accounting (total, by agent, by step) and cognition counters (all minds and by agent)."""
        counters: Counter[str] = Counter()
        for mind in self.minds.values():
            counters.update(mind.ctx.counters)
        llm = self.llm.accounting.summary()
        pool = getattr(self.llm, "stats", None)  # the endpoint pool's counters (failures by kind), when there is one
        stats = pool() if callable(pool) else {}
        return {
            "llm": llm,
            **({"llm_endpoints": stats["endpoints"]} if stats else {}),
            **({"llm_small_endpoints": stats["small"]["endpoints"]} if "small" in stats else {}),
            **({"llm_affinity": stats["affinity"]} if "affinity" in stats else {}),  # [llm] affinity_slack
            # every logged fallback (the event log's ``fallback`` notes): a step that used its fallback answer after
            # the retries, a ReAct loop that gave up, a reflection step skipped, a conversation line dropped
            "fallbacks": counters.get("fallbacks", 0),
            "fallbacks_by_step": {k.removeprefix("fallbacks_"): v for k, v in sorted(counters.items())
                                  if k.startswith("fallbacks_")},
            "plan_cache_saved_calls": counters.get("plan_cache_saved_calls", 0),
            "reflections": counters.get("reflections", 0),
            "counters": dict(sorted(counters.items())),
            "counters_by_agent": {name: dict(sorted(m.ctx.counters.items())) for name, m in sorted(self.minds.items())},
        }

    async def aclose(self) -> None:
        """Close the LLM if this runtime opened it."""
        if self._owns_llm:
            await self.llm.aclose()
