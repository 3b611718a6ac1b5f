"""Templates are shared data: they render in Jinja2's immutable sandbox, `prompts check` rejects what the sandbox
forbids (file and line, exit 2), and a run folder's recorded prompts folder is never followed silently.

Before: templates rendered in a plain Environment, so ``{{ lipsum.__globals__["os"].popen("id").read() }}`` ran a
shell command, and ``resume``/``interview`` used whatever prompts folder run.json named.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agents.testing
from agents.prompts import PromptError, PromptLibrary, check_prompts, registered_steps
from town.app.session import RunConfig, Session, run_session
from town.app.cli import app as cli
from town.world.resources import data_dir

FRONT = "---\nschema: DailyPlan\ntemperature: 0.7\nmax_tokens: 220\n---\n"


def _override(tmp_path: Path, name: str, body: str) -> Path:
    d = tmp_path / "shared_prompts"
    d.mkdir(exist_ok=True)
    (d / name).write_text(body, encoding="utf-8")
    return d


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ('{{ lipsum.__globals__["os"].popen("id").read() }}', "__globals__"),
        ("{{ ''.__class__.__mro__ }}", "__class__"),
        ("{{ persona|attr('__class__') }}", "__class__"),
        ("{{ persona['__dict__'] }}", "__dict__"),
        ("{% set xs = [] %}{{ xs.append(1) }}", "append"),
    ],
)
def test_check_rejects_what_the_sandbox_forbids_with_file_and_line(tmp_path, line, what):
    body = FRONT + '{% include "_system.j2" %}\n=== user ===\nhello\n' + line + "\n"
    d = _override(tmp_path, "plan_daily.j2", body)
    problems = [p for p in check_prompts(d) if "not allowed" in p]
    assert any(what in p for p in problems), problems
    assert problems[0].startswith(f"{d / 'plan_daily.j2'}:9: ")  # front matter is 5 lines, the bad line is 9th
    with pytest.raises(PromptError, match="not allowed"):
        PromptLibrary.load(d)


def test_prompts_check_cli_exits_2_with_one_line_per_problem(tmp_path):
    d = _override(tmp_path, "_system.j2", "You are someone. {{ ''.__class__ }}\n")
    res = CliRunner().invoke(cli, ["prompts", "check", "--prompts", str(d)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines == [f"{d / '_system.j2'}:1: not allowed in a template: access to '__class__'"]


def test_a_computed_name_is_still_stopped_by_the_sandbox_at_render(tmp_path):
    body = FRONT + '{{ now[("_" ~ "_class__")] }}\n=== user ===\nhello\n'
    lib = PromptLibrary.load(_override(tmp_path, "plan_daily.j2", body))  # nothing visible to the static check
    variables = {v: "x" for v in registered_steps()["plan_daily"]}
    with pytest.raises(PromptError, match="not allowed"):
        lib.get("plan_daily").render(persona="p", now="Monday", **variables)


def _recording_llm(seen: list[str]) -> agents.testing.ScriptedLLM:
    answer = agents.testing.schema_example_script()

    def script(step, messages, response_format):
        seen.extend(m["content"] for m in messages)
        return answer(step, messages, response_format)

    return agents.testing.ScriptedLLM(script, seed=3)


def test_resume_does_not_follow_a_recorded_prompts_folder_unless_named(tmp_path, caplog):
    system = (data_dir("prompt_templates") / "_system.j2").read_text(encoding="utf-8")
    d = _override(tmp_path, "_system.j2", "MARKER-FROM-SHARED-FOLDER\n" + system)
    run_dir = tmp_path / "run"

    async def go(prompts_dir, resume, seen):
        cfg = RunConfig(scenario="valentines", hours=1, seed=3, run_dir=run_dir, prompts_dir=prompts_dir)
        session = await Session.open(run_dir, resume=resume, cfg=cfg, prompts_dir=None if not resume else prompts_dir,
                                     llm=_recording_llm(seen))
        await run_session(session, 1)
        return session.runtime.prompts.sources["_system"].path

    first: list[str] = []
    assert asyncio.run(go(d, False, first)) == d / "_system.j2"  # the run's own owner chose it
    assert any("MARKER-FROM-SHARED-FOLDER" in m for m in first)
    resumed: list[str] = []
    with caplog.at_level("WARNING", logger="town.app.session"):
        assert asyncio.run(go(None, True, resumed)) == data_dir("prompt_templates") / "_system.j2"
    assert not any("MARKER-FROM-SHARED-FOLDER" in m for m in resumed)
    assert any(str(d) in r.getMessage() and "default templates" in r.getMessage() for r in caplog.records)
    assert asyncio.run(go(d, True, [])) == d / "_system.j2"  # named on the command line: used
