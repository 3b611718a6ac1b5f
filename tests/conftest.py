"""Shared test setup: headless pygame, no telemetry, no hub downloads."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests never read the developer's endpoint settings: each test that wants one sets it.
# Nor any other TOWN_ setting (a stray one would be refused by every run's preflight), except where the models
# live and the real-model test's tick count.
for _var in [v for v in os.environ if v.startswith("TOWN_") and v not in ("TOWN_CACHE_DIR", "TOWN_TEST_TICKS")]:
    os.environ.pop(_var, None)
for _var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
    os.environ.pop(_var, None)


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_environment():
    """CLI commands run in-process write settings into os.environ (``--base-url``, ``--model``): undo that after
    every test, so no test sees another's endpoint, whatever the order."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def root_logging():
    """`town run` installs its log handlers on the root logger; put the test runner's back afterwards."""
    import logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    for h in root.handlers:
        if h not in saved[0]:
            h.close()
    root.handlers[:], root.level = saved
