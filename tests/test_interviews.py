"""Interview harness with tiny fake minds: every agent is asked every question, answers saved for rating."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from town.app.interviews import (
    CATEGORIES,
    QuestionFileError,
    default_questions_path,
    expand_questions,
    load_questions,
    run_interviews,
)
from town.world.protocol import Action, Observation


class FakeMind:
    """Answers with its name and the question; records what it was asked."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.asked: list[str] = []

    async def decide(self, obs: Observation) -> Action:
        raise AssertionError("an interview must not advance the mind")

    def checkpoint(self) -> dict[str, Any]:
        return {"asked": list(self.asked)}

    def restore(self, state: dict[str, Any]) -> None:
        self.asked = list(state["asked"])

    async def answer(self, question: str) -> str:
        self.asked.append(question)
        return f"{self.name} answers: {question}"

    def add_thought(self, text: str, importance: int = 5) -> None:
        raise AssertionError("an interview must not store anything")


QUESTIONS = """\
self-knowledge:
  - "Introduce yourself, {name}."
memory:
  - "Who is {other}?"
plans:
  - "What will you do at 10 am tomorrow?"
reactions:
  - "Your breakfast is burning! What would you do?"
reflections:
  - "What do you think of {other}, {name}?"
  - "Who do you admire most?"
"""


def write(tmp_path: Path, text: str, name: str = "q.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture
def minds() -> dict[str, FakeMind]:
    return {n: FakeMind(n) for n in ("Bob", "Alice", "Carol")}


async def test_every_agent_asked_every_question_jsonl(tmp_path: Path, minds: dict[str, FakeMind]) -> None:
    out = tmp_path / "answers.jsonl"
    rows = await run_interviews(minds, write(tmp_path, QUESTIONS), out)
    # 4 plain questions + 2 {other} templates x 2 other agents = 8 per agent
    assert len(rows) == 3 * 8
    assert [r["agent"] for r in rows] == ["Alice"] * 8 + ["Bob"] * 8 + ["Carol"] * 8
    assert {r["category"] for r in rows} == set(CATEGORIES)
    alice = [r["question"] for r in rows if r["agent"] == "Alice"]
    assert alice == [
        "Introduce yourself, Alice.",
        "Who is Bob?",
        "Who is Carol?",
        "What will you do at 10 am tomorrow?",
        "Your breakfast is burning! What would you do?",
        "What do you think of Bob, Alice?",
        "What do you think of Carol, Alice?",
        "Who do you admire most?",
    ]
    for name, mind in minds.items():
        assert mind.asked == [r["question"] for r in rows if r["agent"] == name]
        assert "Who is " + name + "?" not in mind.asked
    saved = [json.loads(line) for line in out.read_text().splitlines()]
    assert saved == rows
    assert all(list(r) == ["agent", "category", "question", "answer", "rating"] and r["rating"] == "" for r in saved)
    assert saved[0]["answer"] == "Alice answers: Introduce yourself, Alice."


async def test_csv_output_and_max_others(tmp_path: Path, minds: dict[str, FakeMind]) -> None:
    out = tmp_path / "sub" / "answers.csv"
    rows = await run_interviews(minds, write(tmp_path, QUESTIONS), out, max_others=1)
    assert len(rows) == 3 * 6
    with open(out, newline="") as fh:
        saved = list(csv.DictReader(fh))
    assert saved == rows
    # each agent is asked about a different person
    assert [r["question"] for r in saved if r["category"] == "memory"] == ["Who is Bob?", "Who is Carol?", "Who is Alice?"]


async def test_single_agent_skips_other_templates(tmp_path: Path) -> None:
    rows = await run_interviews({"Solo": FakeMind("Solo")}, write(tmp_path, QUESTIONS), tmp_path / "a.jsonl")
    assert [r["category"] for r in rows] == ["self-knowledge", "plans", "reactions", "reflections"]


async def test_non_string_answer_raises(tmp_path: Path) -> None:
    class Broken(FakeMind):
        async def answer(self, question: str) -> str:
            return None  # type: ignore[return-value]

    with pytest.raises(TypeError, match="Ann: Mind.answer\\(\\) returned NoneType"):
        await run_interviews({"Ann": Broken("Ann")}, write(tmp_path, QUESTIONS), tmp_path / "a.jsonl")


async def test_bad_arguments(tmp_path: Path, minds: dict[str, FakeMind]) -> None:
    q = write(tmp_path, QUESTIONS)
    with pytest.raises(ValueError, match="must end in .jsonl or .csv"):
        await run_interviews(minds, q, tmp_path / "a.txt")
    with pytest.raises(ValueError, match="no agents"):
        await run_interviews({}, q, tmp_path / "a.jsonl")
    with pytest.raises(ValueError, match="max_others"):
        expand_questions(load_questions(q), "Alice", ["Alice", "Bob"], max_others=0)


def test_default_question_file_covers_the_five_categories() -> None:
    q = load_questions(default_questions_path())
    assert list(q) == list(CATEGORIES)
    assert all(len(v) >= 3 for v in q.values())


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("self-knowledge: [\n", r"q.yaml: not valid YAML"),
        ("- just a list\n", r"q.yaml: expected a mapping"),
        ("", r"q.yaml: expected a mapping"),
        ("gossip:\n  - 'Who?'\n", r"q.yaml: unknown category 'gossip'"),
        ("memory: []\n", r"q.yaml: category 'memory' must be a non-empty list"),
        ("plans: 'What next?'\n", r"q.yaml: category 'plans' must be a non-empty list"),
        ("plans:\n  - 'ok'\n  - 3\n", r"q.yaml: category 'plans', question 2: expected a non-empty string"),
        ("reactions:\n  - 'Hi {friend}'\n", r"q.yaml: category 'reactions', question 1: unknown placeholder\(s\) friend"),
        ("reflections:\n  - 'Hi {name'\n", r"q.yaml: category 'reflections', question 1: bad braces"),
    ],
)
def test_bad_question_files_name_file_and_category(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(QuestionFileError, match=match):
        load_questions(write(tmp_path, text))


def test_missing_question_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.yaml not found"):
        load_questions(tmp_path / "nope.yaml")
