"""`town eval --compare-settings` with an arm whose file turns the LLM cascade on: the shared backend opens the
small model, and only that arm's runs ask it their routed steps; the file's bad cascade keys are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.testing import FakeOpenAIServer
from tests._eval_fixtures import cafe_scenario
from town.app.cli import app as cli
from town.app.eval.cascade import arm_cascade, arm_small_steps, backend_overrides
from town.app.eval.main import _open_backends
from town.app.eval.runner import Arm, EvalSpec
from town.app.session import UserError

ROUTED = "plan_daily"


def _spec(tmp: Path, b_file: Path) -> EvalSpec:
    return EvalSpec(scenario=str(cafe_scenario(tmp)), seeds=[0], hours=0.05, ablation_questions=0,
                    arms={"A": Arm(), "B": Arm(settings=str(b_file))})


def _b_file(tmp: Path, llm_table: str) -> Path:
    path = tmp / "b.toml"
    path.write_text(f"[mind]\nretrieve_k = 8\n[llm]\nconcurrency = 3\n{llm_table}", encoding="utf-8")
    return path


def test_an_arm_file_gives_its_cascade_keys_and_names_itself_when_they_are_bad(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = _b_file(tmp_path, f'small_steps = ["{ROUTED}"]\nsmall_embedded_model = "0.5b"\n')
    assert arm_cascade(Arm(settings=str(good))) == {"small_steps": [ROUTED], "small_embedded_model": "0.5b"}
    assert arm_cascade(Arm()) == {}
    spec = _spec(tmp_path, good)
    assert backend_overrides(spec) == {"small_steps": [ROUTED], "small_embedded_model": "0.5b"}
    assert arm_small_steps(spec, "A") == [] and arm_small_steps(spec, "B") == [ROUTED]
    monkeypatch.setenv("TOWN_SMALL_STEPS", "react_decide")  # configured for every arm; B names its own
    assert backend_overrides(spec)["small_steps"] == ["react_decide", ROUTED]
    assert arm_small_steps(spec, "A") == ["react_decide"] and arm_small_steps(spec, "B") == [ROUTED]
    bad = _b_file(tmp_path, 'small_steps = ["plan_dialy"]\n')
    with pytest.raises(UserError) as err:
        arm_cascade(Arm(settings=str(bad)))
    assert "\n" not in str(err.value) and f"{bad} [llm]: small_steps" in str(err.value) and "plan_dialy" in str(err.value)
    monkeypatch.delenv("TOWN_SMALL_STEPS")
    plain = _b_file(tmp_path, "")
    assert backend_overrides(_spec(tmp_path, plain)) == {} and arm_small_steps(_spec(tmp_path, plain), "B") is None


async def test_the_shared_backend_is_opened_with_the_arms_small_model(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAIServer(model="main-model") as main, FakeOpenAIServer(model="small-model") as small:
        monkeypatch.setenv("TOWN_BASE_URLS", main.url)
        spec = _spec(tmp_path, _b_file(tmp_path, f'small_steps = ["{ROUTED}"]\nsmall_base_urls = ["{small.url}"]\n'))
        backend, judge = await _open_backends(tmp_path / "out", None, None, backend_overrides(spec))
        try:
            assert judge is backend and backend.model_name == "main-model"
            assert backend.small is not None and backend.small.steps == {ROUTED}
            assert backend.small.chat.model_name == "small-model"
        finally:
            await backend.aclose()



def test_only_the_arm_with_the_cascade_asks_the_small_model(tmp_path: Path, monkeypatch, root_logging):
    monkeypatch.chdir(tmp_path)
    with FakeOpenAIServer(model="main-model") as main, FakeOpenAIServer(model="small-model") as small:
        monkeypatch.setenv("OPENAI_BASE_URL", main.url)
        monkeypatch.setenv("TOWN_MODEL", "main-model")
        b_file = _b_file(tmp_path, f'small_steps = ["{ROUTED}"]\nsmall_base_urls = ["{small.url}"]\n'
                         'small_model = "small-model"\n')
        res = CliRunner().invoke(cli, ["eval", str(cafe_scenario(tmp_path)), "--seeds", "1", "--hours", "0.05",
                                       "--out", str(tmp_path / "out"), "--compare-settings", str(b_file),
                                       "--ablation-questions", "0"])
    assert res.exit_code == 0, res.output
    by_arm = {}
    for arm in ("A", "B"):
        lines = (tmp_path / "out" / arm / "seed-0" / "events.jsonl").read_text().splitlines()
        by_arm[arm] = [e["data"] for e in map(json.loads, lines) if e["type"] == "llm_call"]
    assert any(c["step"] == ROUTED for c in by_arm["A"]) and any(c["step"] == ROUTED for c in by_arm["B"])
    assert {c["model"] for c in by_arm["A"]} == {"main-model"}
    assert {c["model"] for c in by_arm["B"] if c["step"] == ROUTED} == {"small-model"}
    assert {c["model"] for c in by_arm["B"] if c["step"] != ROUTED} == {"main-model"}
