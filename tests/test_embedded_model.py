"""The real embedded 0.5B model behind open_llm, with no base URL configured.

Uses the default user cache dir (``~/.cache/town/models`` or ``$TOWN_CACHE_DIR``), so the 491 MB join
happens once per machine. Marked ``real_model``: ``pytest -m real_model tests/test_embedded_model.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from agents.llm import AgentSettings, OpenAIChatLLM, open_llm

pytestmark = pytest.mark.real_model


class Choice(BaseModel):
    place: Literal["cafe", "park", "library"]
    reason: str = Field(min_length=3, max_length=300)
    minutes: int = Field(ge=1, le=240)


MSGS = [
    {"role": "system", "content": "You are Isabella Rodriguez, who runs Hobbs Cafe. Answer in JSON."},
    {"role": "user", "content": "It is 7am and you must open the cafe. Where do you go, why, and for how many minutes?"},
]


@pytest.fixture
def small_model_env(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no town.toml from the working folder
    monkeypatch.setenv("TOWN_EMBEDDED_MODEL", "0.5b")
    monkeypatch.setenv("TOWN_EMBEDDED_PARALLEL", "2")
    monkeypatch.setenv("TOWN_EMBEDDED_CTX", "4096")
    monkeypatch.setenv("TOWN_CACHE_PATH", str(tmp_path / "cache.sqlite"))


async def test_open_llm_starts_the_embedded_model_and_answers_structured(small_model_env):
    settings = AgentSettings()
    assert settings.embedded and settings.embedded_model == "0.5b"
    llm = await open_llm(settings, seed=5)
    try:
        assert isinstance(llm, OpenAIChatLLM)
        assert llm.model_name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
        assert llm.endpoints[0].url.startswith("http://127.0.0.1:")
        t0 = time.perf_counter()
        answers = await asyncio.gather(
            *(llm.structured(MSGS, Choice, step="plan", agent=f"a{i}", temperature=0.7, max_tokens=120) for i in range(2))
        )
        elapsed = time.perf_counter() - t0
        for a in answers:
            assert isinstance(a, Choice)
        recs = llm.drain_records()
        assert all(not r.fallback and r.completion_tokens > 0 for r in recs), recs
        tokens = sum(r.completion_tokens for r in recs)
        print(f"\n0.5b: 2 parallel structured calls, {tokens} completion tokens in {elapsed:.2f} s "
              f"({tokens / elapsed:.1f} tok/s aggregate)")
        # the same seeded request again: answered from the response cache, identical
        again = await llm.structured(MSGS, Choice, step="plan", agent="a0", temperature=0.7, max_tokens=120)
        assert again == answers[0]
        assert llm.drain_records()[0].cached
        url = llm.endpoints[0].url
    finally:
        await llm.aclose()
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.URLError):  # aclose() stopped the embedded server
        urllib.request.urlopen(url + "/models", timeout=2)


async def test_the_server_decodes_only_well_formed_react_calls(small_model_env):
    """Told to answer with a tool that does not exist and an address-keyed args dict, the real model still
    returns a registered tool with one tool's argument object: the schema constrains decoding."""
    from agents.steps.act import ActStep, ToolActStep
    from agents.tools import TOOLS

    msgs = [
        {"role": "system", "content": "You are Isabella Rodriguez at Hobbs Cafe. Answer in JSON."},
        {"role": "user", "content": 'Reply exactly with {"thought": "on", "tool": "fly", '
                                    '"args": {"Hobbs Cafe:cafe:coffee machine": "brewing coffee"}}'},
    ]
    llm = await open_llm(AgentSettings(), seed=11)
    try:
        steps = await asyncio.gather(*(llm.structured(msgs, ActStep, step="act_react", agent=f"a{i}",
                                                      temperature=0.9, max_tokens=120) for i in range(2)))
        recs = llm.drain_records()
        stats = llm.stats()["endpoints"][0]
    finally:
        await llm.aclose()
    assert not stats["json_object_mode"] and stats["bad_requests"] == 0  # the schema was accepted as a grammar
    assert all(r.attempts == 1 and not r.fallback for r in recs), recs
    fitting = {name: t.args_model.model_fields.keys() for name, t in TOOLS.items()}
    for s in steps:
        assert s.tool in TOOLS
        assert set(s.args) in [set(keys) for keys in fitting.values()], s.args
    # the per-tool schema ([mind] react_per_tool_schema): the arguments fit the tool chosen, not just some tool
    llm = await open_llm(AgentSettings(), seed=11)
    try:
        steps = await asyncio.gather(*(llm.structured(msgs, ToolActStep, step="act_react", agent=f"a{i}",
                                                      temperature=0.9, max_tokens=120) for i in range(2)))
        recs = llm.drain_records()
    finally:
        await llm.aclose()
    assert all(r.attempts == 1 and not r.fallback for r in recs), recs
    for s in steps:
        assert set(s.args) == set(TOOLS[s.tool].args_model.model_fields), (s.tool, s.args)  # all are required
        TOOLS[s.tool].args_model.model_validate(s.args)  # and they fit: no refusal to come
