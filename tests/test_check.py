"""`town check SCENARIO`: OK summary and exit 0, or one line per problem (file, line, field) and exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from town.app.cli import app as cli

DATA = Path(__file__).resolve().parent / "data" / "tinytown"


def _run(*args: str):
    return CliRunner().invoke(cli, ["check", *args])


def _town(tmp_path: Path) -> Path:
    town = tmp_path / "town"
    shutil.copytree(DATA, town)
    return town


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_check_ok_prints_a_summary(tmp_path):
    town = _town(tmp_path)
    before = _files(tmp_path)
    result = _run(str(town / "tinytown.yaml"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("OK tinytown: 2 agents, 3 sectors, 3 arenas, 5 objects (3 with a state other than "
                                     "idle), map 16x10 tiles of 32 px (tinytown.tmx), 1 facts, templates OK")
    assert _files(tmp_path) == before  # nothing written


def test_check_packaged_scenario_by_name():
    result = _run("smallville")
    assert result.exit_code == 0, result.output
    assert "25 agents" in result.stdout and "map 140x100 tiles" in result.stdout


def test_check_reports_every_problem_one_line_each(tmp_path):
    town = _town(tmp_path)
    path = town / "tinytown.yaml"
    data = yaml.safe_load(path.read_text())
    data["personas"][1]["living_area"] = "Home:attic"
    data["facts"][0]["known_by"] = ["Ann Baker", "Carl"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    lines = path.read_text().splitlines()
    result = _run(str(path))
    assert result.exit_code == 2
    problems = result.stderr.strip().splitlines()
    attic = next(i for i, line in enumerate(lines, 1) if "Home:attic" in line)
    carl = next(i for i, line in enumerate(lines, 1) if "Carl" in line)
    assert problems == [
        f"{path}:{attic}: personas[1].living_area: 'Home:attic' is not an arena of tinytown.tmx (e.g. 'Home:bedroom')",
        f"{path}:{carl}: facts[0].known_by[1]: 'Carl' is not a persona of this scenario",
    ]
    assert result.stdout == ""


def test_check_lists_all_field_errors(tmp_path):
    town = _town(tmp_path)
    path = town / "tinytown.yaml"
    data = yaml.safe_load(path.read_text())
    data["personas"][0]["age"] = -1
    del data["personas"][1]["innate"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = _run(str(path))
    assert result.exit_code == 2
    problems = result.stderr.strip().splitlines()
    assert len(problems) == 2
    assert ": personas[0].age: " in problems[0] and ": personas[1].innate: Field required" in problems[1]
    assert all(p.startswith(f"{path}:") for p in problems)


def test_check_finds_a_room_nobody_can_reach(tmp_path):
    town = _town(tmp_path)
    tmx = town / "tinytown.tmx"
    text = tmx.read_text()
    # wall up the cottage's door in the CSV collision layer (row 4: "4,4,4,0,4,4,...")
    collision = text.index('name="collision"')
    row = text.index("4,4,4,0,4,4", collision)
    tmx.write_text(text[:row] + "4,4,4,4,4,4" + text[row + len("4,4,4,0,4,4"):])
    result = _run(str(town / "tinytown.yaml"))
    assert result.exit_code == 2
    problems = result.stderr.strip().splitlines()
    assert problems[0] == (f"{tmx.resolve()}: spawns: Ben Baker starts at (12, 2), which has no path to Ann Baker's "
                           "start (2, 2)")
    assert any("'Corner Cafe:cafe' cannot be reached on foot" in p for p in problems)


def test_check_bad_map_and_bad_templates(tmp_path):
    town = _town(tmp_path)
    (town / "tinytown.tmx").write_text((town / "tinytown.tmx").read_text().replace('name="sectors"', 'name="zones"'))
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "plan_daily.j2").write_text("no front matter {{ oops\n")
    result = _run(str(town / "tinytown.yaml"), "--prompts", str(prompts))
    assert result.exit_code == 2
    problems = result.stderr.strip().splitlines()
    assert problems[0].startswith(f"{town / 'tinytown.yaml'}:5: map: ") and "no layer named 'sectors'" in problems[0]
    assert any(p.startswith(str(prompts / "plan_daily.j2")) for p in problems[1:])


def test_check_unknown_scenario():
    result = _run("atlantis")
    assert result.exit_code == 2 and "no scenario named 'atlantis'" in result.stderr
