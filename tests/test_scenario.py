"""Scenario files: the valentines scenario, lookup by name, validation errors with file, field and line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import shutil

import pytest
import yaml

from town.world.config import SettingsError, engine_settings
from town.world.maps import load_map
from town.world.scenario import Scenario, ScenarioError, available_scenarios, load_scenario, maps_dir
from town.world.state import World

REPO = Path(__file__).resolve().parent.parent
VALENTINES = REPO / "maps" / "scenarios" / "valentines.yaml"


def test_valentines_scenario():
    s = load_scenario("valentines")
    assert s.name == "valentines" and s.start == datetime(2023, 2, 13, 7, 0) and s.seconds_per_tick == 60
    assert s.path == VALENTINES.resolve() and s.map_path == (REPO / "maps" / "the_ville.json").resolve()
    assert [p.name for p in s.personas] == ["Isabella Rodriguez", "Klaus Mueller", "Maria Lopez"]
    isabella = s.persona("Isabella Rodriguez")
    assert "Valentine" in isabella.currently and "Hobbs Cafe" in isabella.currently
    assert "gentrification" in s.persona("Klaus Mueller").currently
    maria = s.persona("Maria Lopez")
    assert "Klaus" in maria.currently and maria.seed_memories == [] and "crush" in maria.private_memories[0]
    party = next(f for f in s.facts if f.id == "party")
    assert party.known_by == ["Isabella Rodriguez"] and "party" in party.keywords
    m = load_map(s.map_path)
    assert all(p.living_area in m.arenas for p in s.personas)
    assert s.news
    world = World.create(m, s, seed=0)
    assert {n: world.address_of(n) for n in world.agent_names()} == {p.name: p.living_area for p in s.personas}
    with pytest.raises(KeyError):
        s.persona("Nobody")


def test_lookup_by_name_or_path():
    assert "valentines" in available_scenarios()
    assert load_scenario(VALENTINES).name == load_scenario("valentines").name
    assert maps_dir() == REPO / "maps"
    with pytest.raises(ScenarioError, match="no scenario named 'picnic'; available: .*valentines"):
        load_scenario("picnic")
    with pytest.raises(ScenarioError, match="missing.yaml: scenario file not found"):
        load_scenario("/tmp/definitely/missing.yaml")


def test_scenario_without_a_file_has_no_path():
    data = yaml.safe_load(VALENTINES.read_text())
    s = Scenario.model_validate(data)
    with pytest.raises(RuntimeError, match="not loaded from a file"):
        _ = s.map_path


def _write(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(VALENTINES.read_text())
    data["map"] = str(REPO / "maps" / "the_ville.json")  # absolute, inside the packaged maps: allowed
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


BAD = [
    ("living area", lambda d: d["personas"][1].update(living_area="Oak Hill College dorm:attic"),
     "personas[1].living_area", "'Oak Hill College dorm:attic' is not an arena", "attic"),
    ("spawn", lambda d: d["personas"][0].update(spawn="the moon"), "personas[0].spawn", "neither a spawn point", "the moon"),
    ("age", lambda d: d["personas"][2].update(age=-3), "personas[2].age", "greater than or equal to 0", "age: -3"),
    ("missing field", lambda d: d["personas"][0].pop("innate"), "personas[0].innate", "Field required", None),
    ("extra field", lambda d: d["personas"][0].update(hobby="chess"), "personas[0].hobby", "Extra inputs", "hobby"),
    ("known_by", lambda d: d["facts"][0].update(known_by=["Isabella Rodriguez", "Santa"]), "facts[0].known_by[1]",
     "'Santa' is not a persona", "Santa"),
    ("duplicate persona", lambda d: d["personas"][2].update(name="Klaus Mueller"), "personas[2].name",
     "duplicate persona", None),
    ("duplicate fact", lambda d: d["facts"][1].update(id="party"), "facts[1].id", "duplicate fact id", None),
    ("blank keyword", lambda d: d["facts"][0].update(keywords=[" "]), "facts[0].keywords", "blank", None),
    ("start", lambda d: d.update(start="next tuesday"), "start", "datetime", "next tuesday"),
    ("map", lambda d: d.update(map="atlantis.json"), "map", "map file not found", "atlantis"),
]


@pytest.mark.parametrize("label,edit,field,msg,line_of", BAD, ids=[b[0] for b in BAD])
def test_bad_scenario_names_file_field_and_line(tmp_path, label, edit, field, msg, line_of):
    path = _write(tmp_path, edit)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert text.startswith(f"{path}:"), text
    assert f": {field}: " in text and msg in text, text
    if line_of is not None:
        assert text.startswith(f"{path}:{_line(path, line_of)}: "), text


def test_map_resolves_against_the_scenario_file(tmp_path, monkeypatch):
    town_dir = tmp_path / "mytown"
    (town_dir / "maps").mkdir(parents=True)
    shutil.copy(REPO / "maps" / "the_ville.json", town_dir / "maps" / "ville.json")
    shutil.copy(REPO / "maps" / "the_ville_tiles.png", town_dir / "maps" / "the_ville_tiles.png")
    data = yaml.safe_load(VALENTINES.read_text())
    data["map"] = "maps/ville.json"
    (town_dir / "town.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the scenario's folder: the path must not depend on the working folder
    s = load_scenario("mytown/town.yaml")
    assert s.map_path == (town_dir / "maps" / "ville.json").resolve()
    assert s.roots[0] == town_dir.resolve()
    m = s.load_map()
    assert m.path == s.map_path and m.tilesets[0].image == (town_dir / "maps" / "the_ville_tiles.png").resolve()


@pytest.mark.parametrize("ref", ["../../../../../etc/passwd", "/etc/passwd", "../outside.json"])
def test_map_outside_the_scenario_folder_is_refused(tmp_path, ref):
    (tmp_path / "outside.json").write_text((REPO / "maps" / "the_ville.json").read_text())
    (tmp_path / "sub").mkdir()
    data = yaml.safe_load(VALENTINES.read_text())
    data["map"] = ref
    path = tmp_path / "sub" / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{_line(path, 'map:')}: map: {ref!r} lies outside the scenario's folder"), text
    assert "\n" not in text


def test_bad_yaml_and_top_level(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\npersonas: [\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="broken.yaml: invalid YAML"):
        load_scenario(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="expected a mapping"):
        load_scenario(path)


def test_engine_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOWN_VISION_RADIUS", "3")  # the older name still works
    monkeypatch.setenv("TOWN_ENGINE_SECONDS_PER_TICK", "30")
    monkeypatch.setenv("TOWN_EMBEDDED_MODEL", "0.5b")  # someone else's setting: ignored here
    s = engine_settings()
    assert s.vision_radius == 3 and s.seconds_per_tick == 30 and s.tiles_per_tick == 6
    scenario = load_scenario("valentines")
    world = World.create(load_map(scenario.map_path), scenario, settings=s)
    assert world.clock.seconds_per_tick == 30  # the environment overrides the scenario
    monkeypatch.setenv("TOWN_ATTENTION_LIMIT", "0")
    with pytest.raises(SettingsError, match="attention_limit"):
        engine_settings()
