"""The registered result kinds, in step order, and the names they answer to.

A kind registers once, when its module is imported (``analytics.results`` imports the built-in
ones). Registration checks what the rest of the system relies on: one name per kind, no name or
alias used twice, and every dependency registered before it — so registration order is a valid step
order, and the batch runs the kinds in it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from analytics.results.base import ResultSpec

S = TypeVar("S", bound=ResultSpec[Any, Any])

_SPECS: dict[str, ResultSpec[Any, Any]] = {}
_ALIASES: dict[str, str] = {}


class UnknownKind(KeyError):
    """A name that is neither a registered kind nor one of their aliases."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown result kind"


def register(spec: S) -> S:
    """Add a kind; returns it (``SPEC = register(MyKind())``)."""
    name = spec.name
    if not name or not name.isidentifier() or name != name.lower():
        raise ValueError(f"A kind's name is a lower-case identifier (it is a URL segment and a step): {name!r}")
    taken = set(_SPECS) | set(_ALIASES)
    clashes = sorted({name, *spec.aliases} & taken)
    if clashes:
        raise ValueError(f"Kind {name!r}: the name(s) {', '.join(clashes)} are already registered")
    missing = [d for d in spec.depends_on if d not in _SPECS]
    if missing:
        raise ValueError(f"Kind {name!r} depends on {', '.join(missing)}, which must be registered before it")
    _SPECS[name] = spec
    for alias in spec.aliases:
        _ALIASES[alias] = name
    return spec


def unregister(name: str) -> None:
    """Remove a kind (tests that register a toy kind); kinds depending on it must go first."""
    dependants = [s.name for s in _SPECS.values() if name in s.depends_on]
    if dependants:
        raise ValueError(f"{', '.join(dependants)} depend(s) on {name!r}")
    spec = _SPECS.pop(name)
    for alias in spec.aliases:
        _ALIASES.pop(alias, None)


def specs() -> tuple[ResultSpec[Any, Any], ...]:
    """Every registered kind, in step order."""
    return tuple(_SPECS.values())


def names() -> tuple[str, ...]:
    return tuple(_SPECS)


def canonical_name(name: str) -> str:
    """The kind's name for ``name`` or one of its aliases; raises :class:`UnknownKind`."""
    if name in _SPECS:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    raise UnknownKind(f"Unknown result kind {name!r}. Kinds: {', '.join(_SPECS)}.")


def aliases() -> dict[str, str]:
    """``{earlier name: kind}`` of every alias."""
    return dict(_ALIASES)


def spec_for(name: str) -> ResultSpec[Any, Any]:
    """The kind named ``name`` (or an alias of it); raises :class:`UnknownKind`."""
    return _SPECS[canonical_name(name)]


def spec_for_tool(tool_name: str) -> ResultSpec[Any, Any] | None:
    for spec in _SPECS.values():
        if spec.tool is not None and (tool_name == spec.tool_name or tool_name in spec.tool.aliases):
            return spec
    return None


def kind_choices() -> list[tuple[str, str]]:
    """``(name, title)`` of every kind: the choices of ``PortfolioResult.kind``."""
    return [(spec.name, spec.title) for spec in _SPECS.values()]
