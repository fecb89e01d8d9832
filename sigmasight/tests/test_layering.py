"""Data flows one way (DESIGN §1): the import rules between the apps, checked on the source.

Every import in a module counts, including the ones inside functions (a lazy import is still a
dependency). Tests and migrations are left out: tests exercise the integrated API across apps.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "portfolios", "marketdata", "analytics", "reports", "agent", "web", "sigmasight")


def _modules(package: str) -> Iterator[Path]:
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if "tests" in parts or "migrations" in parts:
            continue
        yield path


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _violations(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in _modules(package):
        for line, module in _imports(path):
            if any(module == a or module.startswith(f"{a}.") for a in allowed):
                continue
            if any(module == f or module.startswith(f"{f}.") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("marketdata", ("analytics", "reports", "agent", "web")),
        ("portfolios", ("analytics", "reports", "agent", "web")),
        ("analytics", ("reports", "agent", "web")),
        ("reports", ("agent", "web")),
    ],
)
def test_an_app_never_imports_the_apps_downstream_of_it(package: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(package, forbidden) == []


def test_the_engines_import_no_django_and_no_app() -> None:
    forbidden = ("django", "rest_framework", "drf_spectacular", "channels", "django_q", *APPS)
    assert _violations("analytics/engines", forbidden, allowed=("analytics.engines",)) == []
    # and they are importable on their own: no settings needed
    assert not _violations("analytics/engines", ("analytics",), allowed=("analytics.engines",))


def test_the_rules_would_catch_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a lazy import inside a function is found."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from analytics.selectors import provenance\n    return provenance\n")
    assert list(_imports(module)) == [(2, "analytics.selectors")]
