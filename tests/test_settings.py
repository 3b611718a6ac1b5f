"""One settings model: [engine], [llm] and [mind] of town.toml, the environment over the file, flags over both,
and every misspelt or out-of-range value one line naming the key and its source, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.settings import SettingsError as MindSettingsError
from agents.settings import agent_settings, cognition_settings
from town.app.cli import app
from town.world.config import SettingsError, engine_settings

TOML = """
[engine]
vision_radius = 5
decide_concurrency = 4
conversation_cooldown_min = 30

[llm]
concurrency = 3
embedded_model = "0.5b"

[mind]
reflection_threshold = 90
"""


@pytest.fixture
def town_toml(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("TOWN_CONFIG", "TOWN_CONCURRENCY", "TOWN_EMBEDDED_MODEL", "OPENAI_BASE_URL", "TOWN_BASE_URLS"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "town.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


def test_each_table_is_read_from_town_toml(town_toml: Path):
    e = engine_settings()
    assert (e.vision_radius, e.decide_concurrency, e.conversation_cooldown_min, e.tiles_per_tick) == (5, 4, 30, 6)
    llm = agent_settings()
    assert (llm.concurrency, llm.embedded_model) == (3, "0.5b")
    assert cognition_settings().reflection_threshold == 90


def test_environment_beats_the_file_and_flags_beat_the_environment(town_toml: Path, monkeypatch):
    monkeypatch.setenv("TOWN_ENGINE_VISION_RADIUS", "7")
    monkeypatch.setenv("TOWN_TALK_RADIUS", "9")  # the name from before [engine] still works
    monkeypatch.setenv("TOWN_CONCURRENCY", "12")  # the LLM's knob alone now: the engine's stays at the file's
    monkeypatch.setenv("TOWN_MIND_REFLECTION_THRESHOLD", "40")
    e = engine_settings()
    assert (e.vision_radius, e.talk_radius, e.decide_concurrency) == (7, 9, 4)
    assert agent_settings().concurrency == 12 and cognition_settings().reflection_threshold == 40
    assert engine_settings(flags={"vision_radius": 2}).vision_radius == 2
    assert agent_settings(concurrency=2).concurrency == 2
    monkeypatch.setenv("TOWN_VISION_RADIUS", "1")  # both names set: the [engine] one wins
    assert engine_settings().vision_radius == 7


@pytest.mark.parametrize("table,key,expected", [
    ("engine", "vison_radius", "[engine] vison_radius: unknown key"),
    ("llm", "concurency", "[llm] concurency: unknown key"),
    ("mind", "reflection_treshold", "[mind]: reflection_treshold: Extra inputs are not permitted"),
])
def test_a_misspelt_key_in_each_table_is_one_line_naming_the_file(town_toml: Path, table, key, expected):
    town_toml.write_text(f"[{table}]\n{key} = 3\n", encoding="utf-8")
    load = {"engine": engine_settings, "llm": agent_settings, "mind": cognition_settings}[table]
    with pytest.raises((SettingsError, MindSettingsError)) as err:
        load()
    msg = str(err.value)
    assert expected in msg and str(town_toml) in msg and "\n" not in msg


def test_a_misspelt_engine_variable_and_an_engine_knob_in_mind_are_refused(town_toml: Path, monkeypatch):
    monkeypatch.setenv("TOWN_ENGINE_VISON_RADIUS", "3")
    with pytest.raises(SettingsError, match="environment variable TOWN_ENGINE_VISON_RADIUS: unknown"):
        engine_settings()
    monkeypatch.delenv("TOWN_ENGINE_VISON_RADIUS")
    town_toml.write_text("[mind]\nconversation_cooldown_min = 5\n", encoding="utf-8")
    with pytest.raises(MindSettingsError, match=r"conversation_cooldown_min is an \[engine\] setting"):
        cognition_settings()


@pytest.mark.parametrize("var,value,source", [
    ("TOWN_CONCURRENCY", "5000", "environment variable TOWN_CONCURRENCY: concurrency"),
    ("TOWN_ENGINE_DECIDE_CONCURRENCY", "512", "environment variable TOWN_ENGINE_DECIDE_CONCURRENCY: decide_concurrency"),
    ("TOWN_VISION_RADIUS", "0", "environment variable TOWN_VISION_RADIUS: vision_radius"),
    ("TOWN_MIND_RETRIEVAL__RECENCY", "fast", "environment variable TOWN_MIND_RETRIEVAL__RECENCY: retrieval.recency"),
])
def test_out_of_range_values_name_key_and_source(town_toml: Path, monkeypatch, var, value, source):
    monkeypatch.setenv(var, value)
    loaders = [engine_settings, agent_settings, cognition_settings]
    errors = []
    for load in loaders:
        try:
            load()
        except (SettingsError, MindSettingsError) as exc:
            errors.append(str(exc))
    assert len(errors) == 1 and source in errors[0] and "\n" not in errors[0], errors


def test_out_of_range_in_the_file_and_in_a_flag_name_their_source(town_toml: Path):
    town_toml.write_text("[engine]\ntalk_radius = 1000\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=rf"{town_toml} \[engine\]: talk_radius=1000"):
        engine_settings()
    with pytest.raises(SettingsError, match="flag --vision-radius: vision_radius=0"):
        engine_settings(flags={"vision_radius": 0})
    with pytest.raises(MindSettingsError, match="argument concurrency: concurrency"):
        agent_settings(concurrency=0)


def test_a_run_with_TOWN_CONCURRENCY_512_runs_past_settings_and_a_bad_engine_value_writes_nothing(
        town_toml: Path, monkeypatch, tmp_path: Path):
    # 512 requests in flight is a valid [llm] concurrency now that the engine's knob has its own name
    monkeypatch.setenv("TOWN_CONCURRENCY", "512")
    assert agent_settings().concurrency == 512 and engine_settings().decide_concurrency == 4
    monkeypatch.setenv("TOWN_ENGINE_DECIDE_CONCURRENCY", "512")
    res = CliRunner().invoke(app, ["run", "--headless", "--out", str(tmp_path / "r")])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2 and "TOWN_ENGINE_DECIDE_CONCURRENCY: decide_concurrency=512" in flat, res.output
    assert not (tmp_path / "r").exists()


def test_the_minds_use_the_engines_conversation_knobs(town_toml: Path, tmp_path: Path):
    import asyncio

    import agents.testing
    from town.app.session import RunConfig, Session

    town_toml.write_text("[engine]\nconversation_cooldown_min = 17\nmax_conversation_turns = 5\n", encoding="utf-8")
    llm = agents.testing.ScriptedLLM(agents.testing.schema_example_script(), seed=1)

    async def check() -> None:
        cfg = RunConfig(scenario="valentines", hours=1, seed=1, run_dir=tmp_path / "run")
        session = await Session.open(tmp_path / "run", resume=False, cfg=cfg, llm=llm)
        try:
            mind = session.minds["Klaus Mueller"].ctx.settings
            world = session.world.settings
            assert (mind.conversation_cooldown_min, mind.max_conversation_turns) == (17, 5)
            assert (world.conversation_cooldown_min, world.max_conversation_turns) == (17, 5)
        finally:
            await session.runtime.aclose()

    asyncio.run(check())


def test_the_readme_example_loads_as_is(town_toml: Path):
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Settings"):]
    town_toml.write_text(re.search(r"```toml\n(.*?)```", section, re.S).group(1), encoding="utf-8")
    assert engine_settings().decide_concurrency == 8
    assert agent_settings().concurrency == 16 and cognition_settings().retrieval.keyword == 0.5


def test_the_minds_attend_limit_has_its_own_name_and_the_old_one_names_it(town_toml: Path, monkeypatch):
    town_toml.write_text("[engine]\nattention_limit = 6\n[mind]\nattend_limit = 2\n", encoding="utf-8")
    assert engine_settings().attention_limit == 6 and cognition_settings().attend_limit == 2
    town_toml.write_text("[mind]\nattention_limit = 2\n", encoding="utf-8")
    with pytest.raises(MindSettingsError, match=rf"{town_toml} \[mind\]: .*attention_limit is now attend_limit"):
        cognition_settings()
    town_toml.write_text("", encoding="utf-8")
    monkeypatch.setenv("TOWN_MIND_ATTENTION_LIMIT", "2")
    with pytest.raises(MindSettingsError) as err:
        cognition_settings()
    assert "environment variable TOWN_MIND_ATTENTION_LIMIT" in str(err.value) and "attend_limit" in str(err.value)
    monkeypatch.delenv("TOWN_MIND_ATTENTION_LIMIT")
    monkeypatch.setenv("TOWN_MIND_ATTEND_LIMIT", "0")
    with pytest.raises(MindSettingsError, match="TOWN_MIND_ATTEND_LIMIT: attend_limit"):
        cognition_settings()


@pytest.mark.parametrize("var,closest", [
    ("TOWN_RETRYS", "TOWN_RETRIES"),
    ("TOWN_VISION_RADUIS", "TOWN_VISION_RADIUS"),
    ("TOWN_ENGNE_TALK_RADIUS", "TOWN_ENGINE_TALK_RADIUS"),
    ("TOWN_MIND_RETREIVE_K", "TOWN_MIND_RETRIEVE_K"),
])
def test_an_unknown_TOWN_variable_stops_a_run_naming_the_closest_name(
        town_toml: Path, monkeypatch, tmp_path: Path, var, closest):
    monkeypatch.setenv(var, "3")
    res = CliRunner().invoke(app, ["run", "--headless", "--out", str(tmp_path / "r")])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2 and f"environment variable {var}: no setting has this name; did you mean {closest}?" \
        in flat, res.output
    assert not (tmp_path / "r").exists()


def test_every_name_a_settings_model_reads_is_known_and_the_test_environment_has_no_stray_one():
    import os

    from agents.context import CognitionSettings
    from agents.settings import AgentSettings
    from town.app.town_env import check_environment, known_names
    from town.world.config import EngineSettings

    known = known_names()
    assert {f"TOWN_ENGINE_{k.upper()}" for k in EngineSettings.model_fields} <= known
    assert {f"TOWN_{k.upper()}" for k in AgentSettings.model_fields} <= known
    assert {f"TOWN_MIND_{k.upper()}" for k in CognitionSettings.model_fields} <= known
    assert {"TOWN_CONFIG", "TOWN_CACHE_DIR", "TOWN_CACHE_PATH", "TOWN_BASE_URLS", "TOWN_VISION_RADIUS"} <= known
    check_environment(os.environ)  # conftest leaves no stray TOWN_ variable behind


def test_doctor_shows_an_unknown_TOWN_variable_as_a_failed_settings_check(town_toml: Path, monkeypatch):
    from town.app.doctor import run_checks

    monkeypatch.setenv("TOWN_CONCURENCY", "4")
    failed = [c for c in run_checks() if c.status == "fail"]
    assert [c.name for c in failed] == ["settings"]
    assert "TOWN_CONCURENCY: no setting has this name; did you mean TOWN_CONCURRENCY?" in failed[0].detail


def test_set_flags_go_through_the_same_models_and_beat_the_environment(town_toml: Path, monkeypatch):
    import os

    from town.app.town_env import apply_sets

    monkeypatch.setenv("TOWN_ENGINE_VISION_RADIUS", "7")
    apply_sets(["engine.vision_radius=6", "mind.retrieve_k=4", "llm.retries=1", "mind.retrieval.recency=0.5"])
    assert engine_settings().vision_radius == 6 and agent_settings().retries == 1
    mind = cognition_settings()
    assert (mind.retrieve_k, mind.retrieval.recency) == (4, 0.5)
    assert os.environ["TOWN_ENGINE_VISION_RADIUS"] == "6"


@pytest.mark.parametrize("item,expected", [
    ("engine.vison_radius=6", "--set engine.vison_radius=6: [engine] has no key 'vison_radius'; did you mean "
                              "engine.vision_radius?"),
    ("engine.vision_radius=0", "--set engine.vision_radius=0: vision_radius=0: Input should be greater than"),
    ("mind.attention_limit=2", "did you mean mind.attend_limit?"),
    ("llm.retries=lots", "bad LLM setting from --set llm.retries=lots: retries:"),
    ("mind.retrieval.recency=fast", "bad mind setting from --set mind.retrieval.recency=fast: retrieval.recency:"),
    ("vision_radius=6", "--set vision_radius=6: expected TABLE.KEY=VALUE"),
])
def test_a_bad_set_flag_is_one_line_exit_2_and_nothing_written(town_toml: Path, tmp_path: Path, item, expected):
    res = CliRunner().invoke(app, ["run", "--headless", "--set", item, "--out", str(tmp_path / "r")])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2 and expected in flat and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "r").exists()


def test_resume_takes_set_too(town_toml: Path, tmp_path: Path):
    res = CliRunner().invoke(app, ["resume", str(tmp_path), "--set", "llm.retrys=1"])
    assert res.exit_code == 2 and "--set llm.retrys=1: [llm] has no key 'retrys'; did you mean llm.retries?" in \
        " ".join(res.output.split()), res.output
