"""What a `town eval` folder measures: its arms (template folder and/or settings file) and its spec, kept apart
from the runner so that the arm readers (cascade.py) and the runner both import it without a loop."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from town.app.session import UserError

#: the folders whose content decides what a run does (README, docs and tests do not)
CODE_DIRS = ("town", "agents", "prompt_templates", "maps")
ROOT = Path(__file__).resolve().parents[3]


class Arm(BaseModel):
    """One side of an A/B: a template folder and/or a settings file (``[mind]`` table; ``[llm]``'s cascade keys,
    eval/cascade.py; ``[engine]`` table)."""

    model_config = ConfigDict(extra="forbid")
    prompts: str | None = None
    settings: str | None = None

    def table(self, name: str) -> Any:
        """The settings file's ``[name]`` value as written (None: no file, or no such table); a file that cannot be
        read or parsed is one line naming it."""
        if self.settings is None:
            return None
        path = Path(self.settings)
        try:
            return tomllib.loads(path.read_text(encoding="utf-8")).get(name)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"{path}: {exc}") from exc


class EvalSpec(BaseModel):
    """What an eval folder measures; a rerun with a different spec is refused, not mixed in."""

    model_config = ConfigDict(extra="forbid")
    scenario: str
    seeds: list[int] = Field(min_length=1)
    hours: float = Field(gt=0)
    arms: dict[str, Arm]
    ablation_questions: int = Field(10, ge=0)
    ablation_runs: int = Field(1, ge=0)
    questions: str | None = None
    judge: dict[str, Any] = Field(default_factory=dict)
    # the code that ran it (code_version); None in folders written before it was recorded
    code: dict[str, Any] | None = None


def code_version(root: Path = ROOT) -> dict[str, Any] | None:
    """The git tree ids of :data:`CODE_DIRS` at HEAD and whether they have uncommitted changes; None outside git.

    Tree ids, not the commit, so a commit that only touches the README or the tests keeps an eval resumable."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        trees = {d: git("rev-parse", f"HEAD:{d}") for d in CODE_DIRS if (root / d).is_dir()}
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", *trees))
        commit = git("rev-parse", "--short", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "trees": trees, "dirty": dirty}
