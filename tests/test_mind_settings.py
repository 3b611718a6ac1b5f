"""The minds' settings ([mind] of town.toml, TOWN_MIND_*), the LLM settings' errors, and both reaching a run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import agents.testing
from agents.settings import SettingsError, agent_settings, cognition_settings
from town.app.session import RunConfig, Session, UserError


def test_defaults_then_file_then_environment(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    s = cognition_settings()
    assert s == agents.CognitionSettings() and s.reflection_threshold == 150 and s.retrieval.recency == 1.0
    (tmp_path / "town.toml").write_text(
        "[mind]\nreflection_threshold = 90\nimportance_batch = 3\n[mind.retrieval]\nkeyword = 0.0\nrecency = 2.0\n")
    s = cognition_settings()
    assert (s.reflection_threshold, s.importance_batch, s.retrieval.keyword, s.retrieval.recency) == (90, 3, 0.0, 2.0)
    monkeypatch.setenv("TOWN_MIND_REFLECTION_THRESHOLD", "40")
    monkeypatch.setenv("TOWN_MIND_RETRIEVAL__RECENCY", "0.5")
    s = cognition_settings()
    assert (s.reflection_threshold, s.retrieval.recency, s.retrieval.keyword) == (40, 0.5, 0.0)  # env wins, merged


@pytest.mark.parametrize("toml,env,expected", [
    ("[mind]\nreflection_treshold = 90\n", {}, "reflection_treshold: Extra inputs are not permitted"),
    ("[mind.retrieval]\ndecay_per_hour = 1.5\n", {}, "retrieval.decay_per_hour"),
    ("", {"TOWN_MIND_RETRIEVAL__RECENCY": "fast"}, "retrieval.recency"),
])
def test_bad_mind_settings_say_what_and_where(monkeypatch, tmp_path: Path, toml, env, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "town.toml").write_text(toml)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as err:
        cognition_settings()
    source = next(iter(env), None) or "town.toml [mind]"  # the one source that gave the bad value
    assert expected in str(err.value) and "bad mind setting from " in str(err.value) and source in str(err.value)


def test_bad_llm_settings_are_settings_errors(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOWN_EMBEDDED_MODEL", "7b")
    with pytest.raises(SettingsError, match=r"TOWN_EMBEDDED_MODEL: embedded_model: .*must be 1.5b or 0.5b or the "
                       r"path of an existing .gguf file \(got '7b'\)"):
        agent_settings()
    monkeypatch.delenv("TOWN_EMBEDDED_MODEL")
    monkeypatch.setenv("TOWN_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="missing.toml"):
        agent_settings()


def test_a_run_uses_the_mind_settings_and_reports_bad_ones_as_user_errors(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOWN_MIND_RETRIEVAL__RELEVANCE", "0.25")
    monkeypatch.setenv("TOWN_MIND_REACT_MAX_STEPS", "2")
    llm = agents.testing.ScriptedLLM(agents.testing.schema_example_script(), seed=1)

    async def open_(run_dir: Path) -> Session:
        cfg = RunConfig(scenario="valentines", hours=1, seed=1, run_dir=run_dir)
        return await Session.open(run_dir, resume=False, cfg=cfg, llm=llm)

    async def check() -> None:
        session = await open_(tmp_path / "ok")
        try:
            mind = session.minds["Klaus Mueller"]
            assert mind.ctx.settings.react_max_steps == 2
            assert mind.ctx.memory.weights.relevance == 0.25  # retrieval weighs as configured
        finally:
            await session.runtime.aclose()

    asyncio.run(check())
    monkeypatch.setenv("TOWN_MIND_REACT_MAX_STEPS", "many")
    with pytest.raises(UserError, match="react_max_steps"):
        asyncio.run(open_(tmp_path / "bad"))


def test_a_config_file_may_hold_either_table_alone(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "town.toml").write_text("[llm]\nconcurrency = 3\n")
    assert cognition_settings() == agents.CognitionSettings() and agent_settings().concurrency == 3
    (tmp_path / "town.toml").write_text("[mind]\nretrieve_k = 5\n")
    assert cognition_settings().retrieve_k == 5 and agent_settings().concurrency == 8


def test_request_timeout_defaults_to_longer_for_the_embedded_model(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    assert agent_settings().timeout_s == 600.0  # no server configured: the local model is slow, not down
    assert agent_settings(base_urls="http://127.0.0.1:9/v1").timeout_s == 120.0
    monkeypatch.setenv("TOWN_REQUEST_TIMEOUT_S", "30")
    assert agent_settings().timeout_s == 30.0 and agent_settings(base_urls="http://127.0.0.1:9/v1").timeout_s == 30.0
