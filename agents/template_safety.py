"""What a shared prompt template may not do, found without rendering it (the sandbox also stops it at render).

Used by :mod:`agents.prompts` when templates load, so `town prompts check` and a run's start-up reject them.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes

#: methods that change a value in place (the immutable sandbox refuses them at render time)
_MUTATING = frozenset(
    "append extend insert pop remove clear sort reverse update setdefault popitem add discard difference_update"
    " intersection_update symmetric_difference_update".split()
)


def unsafe_uses(ast: nodes.Template) -> list[tuple[int, str]]:
    """``(line, what)`` for everything the sandbox would refuse that is visible without rendering.

    Templates are data people share: attribute access to ``_``-names (``''.__class__``,
    ``lipsum.__globals__``), the ``attr`` filter with such a name, and in-place mutation are rejected
    when loaded, so ``town prompts check`` reports them and a run refuses to start.
    """
    found: list[tuple[int, str]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call)):
        name: Any = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args and isinstance(node.args[0], nodes.Const):
            name = node.args[0].value
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr in _MUTATING:
            found.append((node.lineno, f"in-place change .{node.node.attr}()"))
            continue
        if isinstance(name, str) and (name.startswith("_") or name in ("mro", "format", "format_map")):
            found.append((node.lineno, f"access to {name!r}"))
    return found
