"""The ``TOWN_*`` environment check: a variable that no settings model reads is a misspelling, not a no-op.

The known names come from the settings models themselves (``[engine]``, ``[llm]``, ``[mind]``, with aliases) and
the process-level ones they declare, so a new knob is known here without a second list.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping

from town.world import config

PREFIX = "TOWN_"
#: the real-model integration test's tick count (tests/test_integration_real.py), read by no product code
TEST_ENV = ("TOWN_TEST_TICKS",)


def known_names() -> set[str]:
    """Every ``TOWN_*`` variable some part of town reads."""
    import agents

    return config.env_names() | agents.env_names() | set(TEST_ENV)


def check_environment(env: Mapping[str, str] | None = None) -> None:
    """Raise a one-line SettingsError for the first ``TOWN_*`` variable no settings model knows, naming the
    closest known name."""
    env = os.environ if env is None else env
    known = known_names()
    for var in sorted(v for v in env if v.startswith(PREFIX) and v not in known):
        close = difflib.get_close_matches(var, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else " (see the README's Settings section)"
        raise config.SettingsError(f"environment variable {var}: no setting has this name{hint}")
