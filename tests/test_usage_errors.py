"""`python -m town` with a misspelt option or a bad value: one line naming the option, exit 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _town(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "60"}  # narrow: a rich box would wrap; a soft-wrapped line stays one line
    return subprocess.run([sys.executable, "-m", "town", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("args", "needle"), [
    (("run", "--hours", "abc", "--out", "r"), "'--hours'"),
    (("run", "--bogus", "--out", "r"), "--bogus"),
    (("run", "--model", "7b", "--out", "r"), "--model: '7b' is not one of '1.5b', '0.5b'"),
    (("report",), "Missing argument"),
])
def test_a_usage_error_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, args: tuple[str, ...], needle: str):
    res = _town(*args, cwd=tmp_path)
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert res.returncode == 2, res.stdout + res.stderr
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], lines
    if "--model" not in args:  # typer's own usage errors also say where the options are listed
        assert "--help" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no run folder, no town.log


def test_bare_town_still_prints_the_help(tmp_path: Path):
    res = _town(cwd=tmp_path)
    assert res.returncode == 2 and "Usage:" in res.stdout + res.stderr and "Traceback" not in res.stderr
