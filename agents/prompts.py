"""Prompt templates: one Jinja2 file per cognitive step, checked when loaded, rendered to chat messages.

A template file ``prompt_templates/<step>.j2`` starts with a small YAML front matter::

    ---
    schema: DailyPlan        # a model in agents/schemas.py, or "text"
    temperature: 0.7
    max_tokens: 200
    description: what the step asks   # optional
    ---
    {% include "_system.j2" %}
    === user ===
    ...

Files starting with ``_`` are partials (no front matter), included by the steps. The text
before the first ``=== user ===`` line becomes the system message, the rest the user message; an
``=== assistant ===`` line starts an earlier turn shown as the model's own answer (:func:`_messages`). The
shared partials put the fixed instructions and the persona first, so an agent's calls share a
prefix and llama.cpp's prompt cache is reused; time, memories and the question come after.

Checks at load time (each error names the file and, where there is one, the line):
syntax errors, unknown schema names, variables used but not provided by the step (each step
declares its variables with :func:`agents.step_registry.register_step`), templates no step registered, and
override files whose name is not a known template.

Other agents' words are data: the ``quote`` filter wraps text in ``<<<`` ... ``>>>`` on one
line, and every interpolated value has delimiter look-alikes and the user marker neutralised,
so quoted text can neither close its quote nor start a new message.
"""

from __future__ import annotations

import importlib.resources
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel

from agents.schemas import SCHEMAS
from agents.step_registry import COMMON_VARIABLES, registered_steps
from agents.template_safety import unsafe_uses

USER_MARKER = "=== user ==="
ASSISTANT_MARKER = "=== assistant ==="
_ROLE_SPLIT = re.compile(r"=== (user|assistant) ===")
QUOTE_OPEN, QUOTE_CLOSE = "<<<", ">>>"
class PromptError(Exception):
    """A template problem (syntax, unknown schema or variable, bad override); the message names the file."""


# -- data neutralisation ------------------------------------------------------------------------
_LOOKALIKE_LT = "<\u2039\u00ab\u3008\u300a\uff1c\ufe64\u276e\u2329\u27e8"
_LOOKALIKE_GT = ">\u203a\u00bb\u3009\u300b\uff1e\ufe65\u276f\u232a\u27e9"
_LT_RUN = re.compile(f"[{_LOOKALIKE_LT}](?:\\s*[{_LOOKALIKE_LT}])+")
_GT_RUN = re.compile(f"[{_LOOKALIKE_GT}](?:\\s*[{_LOOKALIKE_GT}])+")
_MARKER_RE = re.compile(r"=+\s*(user|assistant)\s*=+", re.IGNORECASE)


def _unmark(text: str) -> str:
    """``=== user ===`` -> ``(user)``: a role marker in data is shown, never obeyed."""
    return _MARKER_RE.sub(lambda m: f"({m.group(1).lower()})", text)


class Quoted(str):
    """Output of the ``quote`` filter: its own delimiters are kept by ``finalize``."""


def neutralise(text: str) -> str:
    """Make untrusted text harmless inside a prompt: no quote delimiters, no role marker, one line."""
    text = unicodedata.normalize("NFKC", text)
    text = _LT_RUN.sub("<", text)
    text = _GT_RUN.sub(">", text)
    text = _unmark(text)
    return " ".join(text.split())


def quote(value: Any) -> Quoted:
    """Jinja filter: wrap another agent's words (data, never instructions) in delimiters."""
    return Quoted(f"{QUOTE_OPEN}{neutralise(str(value))}{QUOTE_CLOSE}")


def _finalize(value: Any) -> Any:
    """Applied to every ``{{ ... }}`` output: keep quotes intact, neutralise everything else."""
    if isinstance(value, Quoted):
        return value
    if isinstance(value, str):
        return _unmark(_GT_RUN.sub(">", _LT_RUN.sub("<", value)))
    return value


def format_time(t: datetime) -> str:
    """Game time as the prompts show it: ``Monday February 13 2023, 07:05``."""
    return t.strftime("%A %B %d %Y, %H:%M")


# -- loading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    name: str  # template name without .j2 ("plan_daily", "_system")
    path: Path
    body: str  # front matter blanked so jinja line numbers are file line numbers
    front: dict[str, Any]
    overridden: bool


def default_dir() -> Path:
    """The packaged ``prompt_templates`` folder (installed package, else the repo folder)."""
    try:
        path = Path(str(importlib.resources.files("prompt_templates")))
        if path.is_dir():
            return path
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[1] / "prompt_templates"


def _read_source(path: Path, overridden: bool) -> _Source:
    name = path.name[: -len(".j2")]
    text = path.read_text(encoding="utf-8")
    if name.startswith("_"):
        return _Source(name, path, text, {}, overridden)
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise PromptError(f"{path}:1: a step template must start with a '---' front matter block")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise PromptError(f"{path}:1: front matter is not closed by a '---' line") from None
    try:
        front = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise PromptError(f"{path}: bad front matter: {exc}") from exc
    if not isinstance(front, dict):
        raise PromptError(f"{path}:2: front matter must be a mapping")
    body = "\n" * (end + 1) + "\n".join(lines[end + 1 :])
    return _Source(name, path, body, front, overridden)


def _collect(override_dir: Path | None) -> dict[str, _Source]:
    base = default_dir()
    if not base.is_dir():
        raise PromptError(f"{base}: prompt template folder not found")
    sources = {p.name[:-3]: _read_source(p, False) for p in sorted(base.glob("*.j2"))}
    if override_dir is not None:
        override_dir = Path(override_dir)
        if not override_dir.is_dir():
            raise PromptError(f"{override_dir}: override folder not found")
        for p in sorted(override_dir.glob("*.j2")):
            name = p.name[:-3]
            if name not in sources:
                raise PromptError(f"{p}: unknown template name {name!r}; known: {', '.join(sorted(sources))}")
            sources[name] = _read_source(p, True)
    return sources


class _Loader(jinja2.BaseLoader):
    def __init__(self, sources: dict[str, _Source]) -> None:
        self.sources = sources

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Any]:
        name = template[:-3] if template.endswith(".j2") else template
        src = self.sources.get(name)
        if src is None:
            raise jinja2.TemplateNotFound(template)
        return src.body, str(src.path), lambda: True


def _first_use_line(ast: nodes.Template, var: str) -> int:
    lines = [n.lineno for n in ast.find_all(nodes.Name) if n.name == var and n.ctx == "load"]
    return min(lines) if lines else 1


@dataclass
class PromptTemplate:
    """One step's template, checked; ``render`` gives chat messages."""

    name: str
    path: Path
    schema_name: str
    schema: type[BaseModel] | None  # None: plain text answer
    temperature: float
    max_tokens: int
    description: str
    variables: frozenset[str]  # what the step provides besides the common ones
    overridden: bool
    _template: jinja2.Template

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """Chat messages (system, then user and assistant turns: :func:`_messages`). Exactly the step's variables
        plus persona and now."""
        expected = self.variables | COMMON_VARIABLES
        missing, extra = expected - variables.keys(), variables.keys() - expected
        if missing or extra:
            raise PromptError(
                f"{self.path}: render of {self.name!r}: missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        try:
            text = self._template.render(**variables)
        except SecurityError as exc:  # the static check missed a computed name; the sandbox still stops it
            raise PromptError(f"{self.path}: not allowed in a template: {exc}") from exc
        return _messages(text, self.path)


def _messages(text: str, path: Path) -> list[dict[str, str]]:
    """Split rendered text at its role markers (data cannot contain one: ``_finalize`` neutralises them).

    Before the first ``=== user ===`` is the system message; after it, each marker starts a user or an
    ``=== assistant ===`` message (an earlier turn shown as the model's own), consecutive ones of one role are
    joined, empty ones dropped. The first and the last message after the system one are the user's.
    """
    system, *rest = _ROLE_SPLIT.split(text)
    if not rest or rest[0] != "user":
        raise PromptError(f"{path}: rendered text must contain {USER_MARKER!r} before any {ASSISTANT_MARKER!r}")
    messages = [{"role": "system", "content": _tidy(system)}]
    for role, part in zip(rest[::2], rest[1::2], strict=True):
        content = _tidy(part)
        if not content:
            continue
        if messages[-1]["role"] == role:
            messages[-1]["content"] += "\n\n" + content
        else:
            messages.append({"role": role, "content": content})
    if len(messages) < 2 or messages[-1]["role"] != "user":
        raise PromptError(f"{path}: rendered text must end with a non-empty {USER_MARKER!r} message")
    return messages


def _tidy(text: str) -> str:
    """Strip edges and collapse runs of blank lines left by template tags."""
    return re.sub(r"\n{3,}", "\n\n", text.strip())


class PromptLibrary:
    """Every template by name, loaded and checked."""

    def __init__(self, templates: dict[str, PromptTemplate], sources: dict[str, _Source]) -> None:
        self.templates = templates
        self.sources = sources

    @classmethod
    def load(cls, override_dir: Path | None = None) -> PromptLibrary:
        problems = _check(override_dir, collect_all=False)
        if isinstance(problems, PromptLibrary):
            return problems
        raise PromptError(problems[0])  # pragma: no cover - _check raises in this mode

    def get(self, name: str) -> PromptTemplate:
        try:
            return self.templates[name]
        except KeyError:
            raise KeyError(f"no prompt template {name!r}; known: {', '.join(sorted(self.templates))}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.templates


Fail = Callable[[str], None]  # report one problem: raise it, or collect it
_FRONT_KEYS = {"schema", "temperature", "max_tokens", "description"}


def _environment(sources: dict[str, _Source]) -> ImmutableSandboxedEnvironment:
    """The sandbox the templates render in: strict undefined, the ``quote`` filter, no globals."""
    env = ImmutableSandboxedEnvironment(
        loader=_Loader(sources),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["quote"] = quote
    env.globals.clear()  # no lipsum, cycler, range...: a step's variables are all a template sees
    return env


def _parse_all(env: ImmutableSandboxedEnvironment, sources: dict[str, _Source], fail: Fail
               ) -> dict[str, nodes.Template]:
    """Each source's AST (syntax errors reported and left out), its unsafe constructs reported."""
    asts: dict[str, nodes.Template] = {}
    for name, src in sources.items():
        try:
            asts[name] = env.parse(src.body, name=f"{name}.j2", filename=str(src.path))
        except jinja2.TemplateSyntaxError as exc:
            fail(f"{src.path}:{exc.lineno}: syntax error: {exc.message}")
            continue
        for line, what in unsafe_uses(asts[name]):
            fail(f"{src.path}:{line}: not allowed in a template: {what}")
    return asts


def _includes(name: str, seen: set[str], asts: dict[str, nodes.Template], sources: dict[str, _Source],
              fail: Fail) -> list[str]:
    """Names of partials included (transitively) by ``name``."""
    out: list[str] = []
    for ref in meta.find_referenced_templates(asts[name]):
        if ref is None:
            fail(f"{sources[name].path}: dynamic include; use a literal template name")
            continue
        ref_name = ref[:-3] if ref.endswith(".j2") else ref
        if ref_name not in sources:
            fail(f"{sources[name].path}: includes unknown template {ref!r}")
            continue
        if ref_name in seen or ref_name not in asts:
            continue
        seen.add(ref_name)
        out.append(ref_name)
        out.extend(_includes(ref_name, seen, asts, sources, fail))
    return out


def _check_variables(name: str, provided: frozenset[str], asts: dict[str, nodes.Template], sources: dict[str, _Source],
                     fail: Fail) -> None:
    """Every variable the step's template (and its partials) uses is one the step provides."""
    for part in [name, *_includes(name, {name}, asts, sources, fail)]:
        for var in sorted(meta.find_undeclared_variables(asts[part])):
            if var not in provided:
                line = _first_use_line(asts[part], var)
                fail(
                    f"{sources[part].path}:{line}: variable {var!r} is not provided by step {name!r}"
                    f" (it provides: {', '.join(sorted(provided))})"
                )


def _front_matter(src: _Source, fail: Fail) -> tuple[type[BaseModel] | None, float, int] | None:
    """(schema, temperature, max_tokens) from the front matter; None when a problem makes it unusable."""
    schema_name = src.front.get("schema")
    schema: type[BaseModel] | None = None
    if schema_name != "text":
        if not isinstance(schema_name, str) or schema_name not in SCHEMAS:
            fail(f"{src.path}: unknown schema {schema_name!r}; known: text, {', '.join(sorted(SCHEMAS))}")
            return None
        schema = SCHEMAS[schema_name]
    unknown_keys = set(src.front) - _FRONT_KEYS
    if unknown_keys:
        fail(f"{src.path}: unknown front matter keys {sorted(unknown_keys)}")
    try:
        temperature = float(src.front.get("temperature", 0.7))
        max_tokens = int(src.front.get("max_tokens", 256))
    except (TypeError, ValueError) as exc:
        fail(f"{src.path}: bad temperature/max_tokens: {exc}")
        return None
    if not (0.0 <= temperature <= 2.0 and 1 <= max_tokens <= 4096):
        fail(f"{src.path}: temperature must be 0..2 and max_tokens 1..4096")
        return None
    return schema, temperature, max_tokens


def _check(override_dir: Path | None, *, collect_all: bool) -> PromptLibrary | list[str]:
    """Load and check; raise on the first problem, or (collect_all) return every problem found."""
    problems: list[str] = []

    def fail(msg: str) -> None:
        if not collect_all:
            raise PromptError(msg)
        problems.append(msg)

    try:
        sources = _collect(override_dir)
    except PromptError as exc:
        if not collect_all:
            raise
        return [str(exc)]
    steps = registered_steps()
    env = _environment(sources)
    asts = _parse_all(env, sources, fail)
    templates: dict[str, PromptTemplate] = {}
    for name, src in sources.items():
        if name.startswith("_") or name not in asts:
            continue
        if name not in steps:
            fail(f"{src.path}: no step registered for template {name!r} (register_step in its module)")
            continue
        _check_variables(name, steps[name] | COMMON_VARIABLES, asts, sources, fail)
        front = _front_matter(src, fail)
        if front is None:
            continue
        schema, temperature, max_tokens = front
        templates[name] = PromptTemplate(
            name=name,
            path=src.path,
            schema_name=str(src.front.get("schema")),
            schema=schema,
            temperature=temperature,
            max_tokens=max_tokens,
            description=str(src.front.get("description", "")),
            variables=steps[name],
            overridden=src.overridden,
            _template=env.get_template(f"{name}.j2"),
        )
    for step in sorted(set(steps) - set(templates)):
        if step not in sources:
            fail(f"step {step!r} is registered but has no template {step}.j2 in {default_dir()}")
    if collect_all:
        return problems
    return PromptLibrary(templates, sources)


# -- CLI hooks ----------------------------------------------------------------------------------
def list_prompts(override_dir: Path | None = None) -> list[tuple[str, Path, str, bool]]:
    """``(name, source path, schema name, overridden)`` for every template, partials included."""
    lib = PromptLibrary.load(override_dir)
    rows: list[tuple[str, Path, str, bool]] = []
    for name, src in sorted(lib.sources.items()):
        tpl = lib.templates.get(name)
        rows.append((name, src.path, tpl.schema_name if tpl else "(partial)", src.overridden))
    return rows


def show_prompt(name: str, override_dir: Path | None = None) -> str:
    """The source text of template ``name`` (the override's, if there is one)."""
    lib = PromptLibrary.load(override_dir)
    if name not in lib.sources:
        raise PromptError(f"no prompt template {name!r}; known: {', '.join(sorted(lib.sources))}")
    return lib.sources[name].path.read_text(encoding="utf-8")


def check_prompts(override_dir: Path | None = None) -> list[str]:
    """Every problem found (file:line: message); empty when all templates are fine."""
    result = _check(override_dir, collect_all=True)
    assert isinstance(result, list)
    return result
