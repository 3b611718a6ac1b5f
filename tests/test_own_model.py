"""`--model PATH`: a user's own GGUF file is accepted where a size is, and checked to load before a run writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.llm import model_files
from agents.llm.embedded import check_loads
from agents.settings import agent_settings
from town.app.cli import app


def _flat(res) -> str:
    return " ".join(res.output.split())


@pytest.fixture
def no_endpoint(monkeypatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("TOWN_CONFIG", "OPENAI_BASE_URL", "TOWN_BASE_URLS", "TOWN_EMBEDDED_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_a_path_that_is_not_a_gguf_file_is_one_line_and_exit_2(no_endpoint: Path):
    notes = no_endpoint / "notes.txt"
    notes.write_text("not a model\n")
    res = CliRunner().invoke(app, ["run", "--headless", "--model", str(notes), "--out", str(no_endpoint / "r")])
    assert res.exit_code == 2 and "is not one of '1.5b', '0.5b', nor the path of an existing .gguf file" in _flat(res)
    assert len(res.output.strip().splitlines()) == 1 and not (no_endpoint / "r").exists()


def test_a_gguf_named_file_that_does_not_load_is_one_line_naming_it_and_exit_2(no_endpoint: Path):
    fake = no_endpoint / "mine.gguf"
    fake.write_bytes(b"GGUF? no, just bytes " * 200)
    res = CliRunner().invoke(app, ["run", "--headless", "--model", str(fake), "--out", str(no_endpoint / "r")])
    assert res.exit_code == 2, res.output
    assert f"{fake}: not a GGUF model the embedded server can load" in _flat(res)
    assert len(res.output.strip().splitlines()) == 1 and not (no_endpoint / "r").exists()


def test_a_gguf_path_is_a_valid_embedded_model_setting(no_endpoint: Path):
    own = no_endpoint / "own.gguf"
    own.write_bytes(b"x")
    s = agent_settings(embedded_model=str(own))
    assert s.embedded and s.embedded_file == own
    assert agent_settings(embedded_model="0.5b").embedded_file is None


@pytest.mark.real_model
def test_a_copy_of_the_small_model_loads_and_answers_models(no_endpoint: Path):
    small = model_files.verified_model("0.5b")
    if small is None:
        pytest.skip("the 0.5B model is not joined on this machine (python -m town model 0.5b)")
    link = no_endpoint / "my-model.gguf"
    link.symlink_to(small)
    assert check_loads(link, threads=1) == "my-model.gguf"  # the server serves it under the file's name
