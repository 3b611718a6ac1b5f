"""The smallville scenario: 25 people on a 140x100 map, its generator, and one scripted-LLM game hour of real minds."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import agents.testing
from town.app.session import RunConfig, Session, run_session
from town.world.events import read_events
from town.world.pathfinding import Pathfinder
from town.world.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
MAP = REPO / "maps" / "smallville.tmj"


def test_smallville_scenario_and_map():
    s = load_scenario("smallville")
    m = s.load_map()
    assert s.map_path == MAP.resolve()
    assert len(s.personas) == 25 and len({p.name for p in s.personas}) == 25
    assert (m.width, m.height, m.tile_size) >= (100, 80, 32) and m.tile_size == 32
    assert len(m.sectors) >= 15
    for place in ("Hobbs Cafe", "Rose and Crown Pub", "Willow Market", "Willows Pharmacy", "Harvey Oak Supply Store",
                  "Oak Hill College", "Oak Hill College dorm", "Johnson Park"):
        assert place in m.sectors, place
    assert {"Oak Hill College:classroom A", "Oak Hill College:classroom B", "Oak Hill College:library"} <= set(m.arenas)
    dorm_rooms = [a for a in m.arenas.values() if a.sector == "Oak Hill College dorm" and a.private]
    assert len(dorm_rooms) >= 4
    for p in s.personas:  # every home and bedroom is private: only its people walk in
        arena = m.arenas[p.living_area]
        assert arena.private and m.sectors[arena.sector].private, p.name
    homes = Counter(m.arenas[p.living_area].sector for p in s.personas)
    assert homes["Lin family home"] == 3 and homes["Willow Street apartments"] == 5 and len(homes) >= 8
    states = {o.state for o in m.objects.values()}
    assert {"off", "made", "stocked", "closed"} <= states  # furnished rooms whose objects have states
    assert len(m.objects) > 150


def test_smallville_households_and_ties_are_seeded():
    s = load_scenario("smallville")
    names = {p.name for p in s.personas}
    for p in s.personas:
        others = {n for n in names - {p.name} if any(n in mem for mem in p.seed_memories)}
        assert others, f"{p.name} knows nobody"
    # people who share a home know each other from the start
    by_home: dict[str, list[str]] = {}
    for p in s.personas:
        by_home.setdefault(p.living_area.split(":")[0], []).append(p.name)
    for p in s.personas:
        housemates = set(by_home[p.living_area.split(":")[0]]) - {p.name}
        text = " ".join(p.seed_memories)
        if housemates:  # a family knows each other; in a shared house, at least someone
            known = [h for h in housemates if h.split()[0] in text]
            assert known if len(housemates) > 2 else len(known) == len(housemates), p.name
    assert len({p.learned for p in s.personas}) == 25 and len({p.lifestyle for p in s.personas}) == 25
    party = next(f for f in s.facts if f.id == "party")
    assert party.known_by == ["Isabella Rodriguez"] and party.question
    assert "Valentine" in s.persona("Isabella Rodriguez").currently
    assert all(f.question for f in s.facts)
    maria = s.persona("Maria Lopez")  # her crush is hers to keep: never offered as something to tell
    assert [m for m in maria.private_memories if "crush" in m] and not [m for m in maria.seed_memories if "crush" in m]


def test_everyone_can_walk_from_home_to_the_cafe():
    s = load_scenario("smallville")
    m = s.load_map()
    pf = Pathfinder(m)
    cafe = pf.candidate_tiles("Hobbs Cafe:cafe")
    for p in s.personas:
        start = m.spawns.get(p.spawn or p.living_area) or pf.candidate_tiles(p.living_area)[0]
        path = pf.path(start, cafe[len(cafe) // 2])
        assert path is not None and not set(path) & m.blocked, p.name
        assert any(m.tile_classes[y][x] == "door" for x, y in path), p.name  # out through a door


def test_smallville_map_is_what_the_generator_makes(tmp_path):
    (tmp_path / "tilesets").mkdir()
    shutil.copy(REPO / "maps" / "make_smallville.py", tmp_path)
    shutil.copy(REPO / "maps" / "town_builder.py", tmp_path)
    shutil.copy(REPO / "maps" / "tilesets" / "town.tsj", tmp_path / "tilesets")
    subprocess.run([sys.executable, str(tmp_path / "make_smallville.py")], check=True, capture_output=True)
    assert json.loads((tmp_path / "smallville.tmj").read_text()) == json.loads(MAP.read_text())
    data = json.loads(MAP.read_text())
    assert data["tilesets"] == [{"firstgid": 1, "source": "tilesets/town.tsj"}]
    assert [la["name"] for la in data["layers"]] == ["ground", "decor", "collision", "sectors", "arenas", "objects",
                                                      "spawns"]
    assert all(la["encoding"] == "base64" and la["compression"] == "zlib" for la in data["layers"][:3])


def test_tiles_are_looked_up_by_class_from_the_tileset():
    m = load_scenario("smallville").load_map()
    (ts,) = m.tilesets
    assert ts.name == "town" and ts.image == (REPO / "maps" / "tilesets" / "town.png").resolve()
    by_class = {cls: ts.firstgid + tid for tid, cls in ts.classes.items()}
    ground, decor, collision = m.tile_layers
    used = {g for row in ground.gids for g in row} | {g for row in decor.gids for g in row} - {0}
    assert {by_class[c] for c in ("grass", "road", "road_line", "sidewalk", "wall", "door", "water")} <= used
    assert {by_class[c] for c in ("tree", "flowers", "fence")} <= {g for row in decor.gids for g in row}
    assert not collision.visible and {g for row in collision.gids for g in row} == {0, by_class["blocked"]}
    walls = {(x, y) for y, row in enumerate(ground.gids) for x, g in enumerate(row) if g == by_class["wall"]}
    assert walls and walls <= m.blocked


def test_one_scripted_game_hour_of_smallville(tmp_path):
    """Real minds (real chromadb) over the scripted LLM: 60 ticks, 25 agents, everyone plans and moves."""
    run_dir = tmp_path / "run"

    async def main() -> dict:
        cfg = RunConfig(scenario="smallville", hours=1, seed=5, run_dir=run_dir)
        session = await Session.open(run_dir, resume=False, cfg=cfg,
                                     llm=agents.testing.ScriptedLLM(agents.testing.schema_example_script(), seed=5))
        return await run_session(session, 60)

    summary = asyncio.run(main())
    assert summary["ticks"] == 60
    events = list(read_events(run_dir / "events.jsonl"))
    assert events[0].type == "run_start" and events[-1].type == "run_end"
    ck = json.loads((run_dir / "checkpoint.json").read_text())
    assert ck["tick"] == 60 and len(ck["minds"]) == 25
    kinds = Counter(e.type for e in events)
    assert kinds["tick"] == 60 and kinds["agents"] == 60
    assert {e.agent for e in events if e.type == "plan"} == {p.name for p in load_scenario("smallville").personas}
    movers = {e.agent for e in events if e.type == "move"}
    assert len(movers) >= 5  # people leave their beds for their day's first places
    scenario = load_scenario("smallville")
    m, home = scenario.load_map(), {p.name: p.living_area for p in scenario.personas}
    for e in (e for e in events if e.type == "agents"):  # nobody walks into someone else's home or bedroom
        for name, st in e.data["states"].items():
            sector, arena = st["address"].split(":")[0], ":".join(st["address"].split(":")[:2])
            if sector in m.sectors and m.sectors[sector].private:
                assert sector == home[name].split(":")[0], (e.tick, name, st["address"])
            if arena in m.arenas and m.arenas[arena].private:
                assert arena == home[name], (e.tick, name, st["address"])
    last = next(e for e in reversed(events) if e.type == "agents").data["states"]
    assert len(last) == 25 and all(st["address"] for st in last.values())
    assert summary["minds"]["llm"]["total"]["calls"] >= 25
