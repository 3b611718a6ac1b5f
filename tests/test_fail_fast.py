"""Rejected inputs of `town run` / `town resume`: one line naming the file, line or field, exit 2, nothing on disk.

Before these checks ran first, every rejected input left ``RUN/town.log`` behind (logging made the folder), a
template error printed a long traceback, ``--hours inf`` overflowed after the folder was made, and ``--out`` into
a folder with an old events.jsonl appended to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from town.app.cli import app as cli
from town.world.resources import data_dir

ROOT = Path(__file__).resolve().parent.parent


def _lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.strip()]


def _run(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["run", "--headless", *args], env=env)


def _assert_one_line_refusal(res, *needles: str) -> None:
    lines = _lines(res.output)
    assert res.exit_code == 2, res.output
    assert len(lines) == 1, res.output
    for needle in needles:
        assert needle in lines[0], res.output


def _scenario_with_map(tmp_path: Path, map_path: Path) -> Path:
    text = (data_dir("maps") / "scenarios" / "valentines.yaml").read_text(encoding="utf-8")
    out = tmp_path / "scen.yaml"
    out.write_text(text.replace("map: ../the_ville.json", f"map: {map_path}"), encoding="utf-8")
    return out


def _bad_template_dir(tmp_path: Path, line: str) -> Path:
    src = (data_dir("prompt_templates") / "plan_daily.j2").read_text(encoding="utf-8")
    d = tmp_path / "evil_prompts"
    d.mkdir()
    (d / "plan_daily.j2").write_text(src.rstrip("\n") + "\n" + line + "\n", encoding="utf-8")
    return d


@pytest.mark.parametrize("hours", ["inf", "nan", "-3", "0", "1e9"])
def test_bad_hours_is_one_line_and_writes_nothing(tmp_path, hours):
    out = tmp_path / "r"
    res = _run(["--hours", hours, "--out", str(out)])
    _assert_one_line_refusal(res, "--hours")
    assert not out.exists()


def test_bad_scenario_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npersonas: [1, 2\n", encoding="utf-8")
    out = tmp_path / "r"
    res = _run(["--scenario", str(bad), "--out", str(out)])
    _assert_one_line_refusal(res, "bad.yaml")
    assert not out.exists()


def test_bad_map_writes_nothing(tmp_path):
    broken = tmp_path / "broken_map.json"
    broken.write_text('{"width": 3, "layers": [', encoding="utf-8")
    out = tmp_path / "r"
    res = _run(["--scenario", str(_scenario_with_map(tmp_path, broken)), "--out", str(out)])
    _assert_one_line_refusal(res, "broken_map.json")
    assert not out.exists()


@pytest.mark.parametrize(
    "line", ['{{ lipsum.__globals__["os"].popen("id").read() }}', "{{ ''.__class__ }}"]
)
def test_template_the_sandbox_forbids_is_refused_before_the_run(tmp_path, line):
    prompts = _bad_template_dir(tmp_path, line)
    out = tmp_path / "r"
    res = _run(["--prompts", str(prompts), "--out", str(out)])
    _assert_one_line_refusal(res, "plan_daily.j2:", "not allowed")
    assert "Traceback" not in res.output
    assert not out.exists()


def test_bad_settings_writes_nothing(tmp_path):
    out = tmp_path / "r"
    res = _run(["--out", str(out)], env={"TOWN_RETRIES": "lots"})
    _assert_one_line_refusal(res, "retries")
    assert not out.exists()
    res = _run(["--out", str(out)], env={"TOWN_MIND_RETRIEVE_K": "many"})
    _assert_one_line_refusal(res, "retrieve_k")
    assert not out.exists()


def test_out_is_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("mine", encoding="utf-8")
    _assert_one_line_refusal(_run(["--out", str(f)]), "is a file")
    assert f.read_text() == "mine"


def test_out_holding_a_run_says_resume(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "checkpoint.json").write_text("{}", encoding="utf-8")
    _assert_one_line_refusal(_run(["--out", str(out)]), f"town resume {out}")


def test_out_with_an_old_event_log_is_refused_not_appended(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    old = json.dumps({"seq": 1, "tick": 0, "time": "2023-02-13T07:00:00", "type": "tick", "data": {}}) + "\n"
    (out / "events.jsonl").write_text(old, encoding="utf-8")
    _assert_one_line_refusal(_run(["--out", str(out)]), "not empty", "events.jsonl")
    assert (out / "events.jsonl").read_text() == old
    assert sorted(p.name for p in out.iterdir()) == ["events.jsonl"]  # no town.log either


def test_out_with_other_files_is_refused(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("x", encoding="utf-8")
    _assert_one_line_refusal(_run(["--out", str(out)]), "not empty")
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_resume_of_a_missing_folder_creates_nothing(tmp_path):
    missing = tmp_path / "typo"
    res = CliRunner().invoke(cli, ["resume", str(missing), "--headless"])
    _assert_one_line_refusal(res, "nothing to resume")
    assert not missing.exists()
    res = CliRunner().invoke(cli, ["resume", str(missing), "--headless", "--hours", "inf"])
    _assert_one_line_refusal(res, "--hours")
