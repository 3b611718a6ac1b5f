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


def apply_sets(items: list[str]) -> None:
    """Apply ``--set TABLE.KEY=VALUE`` items (``engine.vision_radius=6``, ``mind.retrieval.recency=0.5``,
    ``llm.retries=1``) over the environment and the file, each checked by its table's own model at once; a bad
    key or value is a one-line SettingsError naming the ``--set`` item."""
    import agents

    tables = {
        "engine": (config.ENV_PREFIX, config.engine_settings, config.EngineSettings.model_fields),
        "llm": (PREFIX, agents.agent_settings, agents.AgentSettings.model_fields),
        "mind": ("TOWN_MIND_", agents.cognition_settings, agents.CognitionSettings.model_fields),
    }
    for item in items:
        dotted, sep, value = item.partition("=")
        table, _, key = dotted.strip().partition(".")
        if not sep or table not in tables or not key:
            raise config.SettingsError(f"--set {item}: expected TABLE.KEY=VALUE, TABLE one of {', '.join(tables)}")
        prefix, load, fields = tables[table]
        if key.split(".")[0] not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {table}.{close[0]}?" if close else ""
            raise config.SettingsError(f"--set {item}: [{table}] has no key {key!r}{hint}")
        var = prefix + key.upper().replace(".", "__")
        os.environ[var] = value.strip()  # the variable is how the value reaches the model: name the flag instead
        try:
            load()
        except (config.SettingsError, agents.SettingsError) as exc:
            msg = str(exc)
            named = f"environment variable {var}"
            raise config.SettingsError(msg.replace(named, f"--set {item}") if named in msg
                                       else f"--set {item}: {msg}") from None
