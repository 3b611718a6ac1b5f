"""Interview harness: ask every agent the questions of Smallville's five categories, save answers for rating.

Questions come from a YAML file that maps each category to a list of question templates::

    self-knowledge:
      - "Give an introduction of yourself, {name}."
    memory:
      - "Who is {other}?"

``{name}`` is the interviewed agent; a template with ``{other}`` is asked once per other agent
(or per at most ``max_others`` of them). Answers come from :meth:`town.world.protocol.Mind.answer`
(in character, nothing stored) and are written as JSONL or CSV with the columns
``agent, category, question, answer, rating``; ``rating`` is left empty for a human rater.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import string
from pathlib import Path
from typing import Any

import yaml

from town.world.protocol import Mind
from town.world.resources import data_dir

log = logging.getLogger("town.app.interviews")

CATEGORIES = ("self-knowledge", "memory", "plans", "reactions", "reflections")
PLACEHOLDERS = frozenset({"name", "other"})
COLUMNS = ("agent", "category", "question", "answer", "rating")


class QuestionFileError(ValueError):
    """A question file that cannot be used; the message names the file and the category."""


def default_questions_path() -> Path:
    """The bundled Smallville question set, ``maps/interviews/smallville.yaml``."""
    return data_dir("maps") / "interviews" / "smallville.yaml"


def _placeholders(template: str) -> set[str]:
    """Field names used by a ``str.format`` template; raises ``ValueError`` on bad braces."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def load_questions(path: Path) -> dict[str, list[str]]:
    """Read and check a question file: category -> question templates, in file order.

    Categories must be among :data:`CATEGORIES`; each needs a non-empty list of non-empty
    strings whose only placeholders are ``{name}`` and ``{other}``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"question file {path} not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise QuestionFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not doc:
        raise QuestionFileError(f"{path}: expected a mapping of category -> list of questions, one of {', '.join(CATEGORIES)}")
    out: dict[str, list[str]] = {}
    for category, items in doc.items():
        if category not in CATEGORIES:
            raise QuestionFileError(f"{path}: unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
        if not isinstance(items, list) or not items:
            raise QuestionFileError(f"{path}: category {category!r} must be a non-empty list of questions")
        for i, q in enumerate(items):
            where = f"{path}: category {category!r}, question {i + 1}"
            if not isinstance(q, str) or not q.strip():
                raise QuestionFileError(f"{where}: expected a non-empty string, got {q!r}")
            try:
                fields = _placeholders(q)
            except ValueError as exc:
                raise QuestionFileError(f"{where}: bad braces in {q!r}: {exc}") from exc
            unknown = fields - PLACEHOLDERS
            if unknown:
                raise QuestionFileError(
                    f"{where}: unknown placeholder(s) {', '.join(sorted(unknown))} in {q!r}; only {{name}} and {{other}}"
                )
        out[category] = [q.strip() for q in items]
    return out


def expand_questions(
    questions: dict[str, list[str]], agent: str, agents: list[str], max_others: int | None = None
) -> list[tuple[str, str]]:
    """The ``(category, question)`` pairs to ask ``agent``, placeholders filled in.

    Templates with ``{other}`` are asked about each other agent, in name order starting after
    ``agent`` (so with ``max_others`` different agents are asked about different people). With no
    other agent, such a template is skipped (and logged).
    """
    if max_others is not None and max_others < 1:
        raise ValueError(f"max_others must be at least 1, got {max_others}")
    ordered = sorted(agents)
    i = ordered.index(agent)
    others = ordered[i + 1:] + ordered[:i]
    if max_others is not None:
        others = others[:max_others]
    out: list[tuple[str, str]] = []
    for category, templates in questions.items():
        for t in templates:
            if "other" in _placeholders(t):
                if not others:
                    log.warning("skipping %r for %s: no other agent to ask about", t, agent)
                for other in others:
                    out.append((category, t.format(name=agent, other=other)))
            else:
                out.append((category, t.format(name=agent)))
    return out


async def _interview(name: str, mind: Mind, asks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Ask one agent its questions in order."""
    rows = []
    for category, question in asks:
        answer = await mind.answer(question)
        if not isinstance(answer, str):
            raise TypeError(f"{name}: Mind.answer() returned {type(answer).__name__}, expected str")
        rows.append({"agent": name, "category": category, "question": question, "answer": answer, "rating": ""})
    return rows


def save_answers(rows: list[dict[str, Any]], out_path: Path) -> None:
    """Write rows as JSONL (``.jsonl``) or CSV (``.csv``) with the :data:`COLUMNS`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix == ".csv":
        with open(out_path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        with open(out_path, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({k: row[k] for k in COLUMNS}, ensure_ascii=False) + "\n")


async def run_interviews(
    minds: dict[str, Mind], questions_path: Path, out_path: Path, *, max_others: int | None = None
) -> list[dict[str, Any]]:
    """Ask every agent every question (agents concurrently, one question at a time each).

    Returns the rows (agent, category, question, answer, rating="") in agent-name order, then file
    order, and saves them to ``out_path`` (``.jsonl`` or ``.csv``).
    """
    out_path = Path(out_path)
    if out_path.suffix not in (".jsonl", ".csv"):
        raise ValueError(f"answers file {out_path} must end in .jsonl or .csv")
    if not minds:
        raise ValueError("no agents to interview")
    questions = load_questions(Path(questions_path))
    names = sorted(minds)
    per_agent = await asyncio.gather(
        *(_interview(n, minds[n], expand_questions(questions, n, names, max_others)) for n in names)
    )
    rows = [row for agent_rows in per_agent for row in agent_rows]
    save_answers(rows, out_path)
    log.info("saved %d answers from %d agents to %s", len(rows), len(names), out_path)
    return rows
