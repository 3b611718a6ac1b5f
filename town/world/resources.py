"""Where the data folders (``maps``, ``prompt_templates``) are: installed package data, else the repository."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def data_dir(package: str) -> Path:
    """The folder of the top-level data package ``package`` (e.g. ``"maps"``)."""
    try:
        path = Path(str(importlib.resources.files(package)))
        if path.is_dir():
            return path
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / package
