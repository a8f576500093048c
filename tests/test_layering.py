"""The import rules of DESIGN.md ("Which way imports run"), read from the code itself.

`cohorts` is the base and reaches analytics only through its one door (`analytics.services`);
`scoring` builds on `cohorts`; the `analytics` engine reads both; `dashboards` and `exports`
read the engine's stored results and the others' selectors; `sheets` writes through the others'
services (and reads the export formats it imports). The pure packages import no Django and
nothing of the project outside themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APPS = ("cohorts", "scoring", "analytics", "dashboards", "exports", "sheets", "iim_scoring")
# What each app may import of the other apps (a module, and everything below it).
ALLOWED = {
    "cohorts": {"iim_scoring", "analytics.services"},
    "scoring": {"cohorts", "iim_scoring", "analytics.services"},
    "analytics": {"cohorts", "scoring", "iim_scoring"},
    "dashboards": {"analytics", "cohorts", "scoring", "iim_scoring"},
    "exports": {"analytics", "cohorts", "scoring", "iim_scoring"},
    "sheets": {
        "cohorts",
        "scoring",
        "iim_scoring",
        "analytics.services",
        "exports.codebook",
        "exports.grades",
    },
    # The project package wires the apps together (URLs, the operations page).
    "iim_scoring": set(APPS),
}
PURE = ("analytics/stats", "cohorts/imaging/dicom")


def _imports(path: Path) -> list[str]:
    """Absolute module names imported anywhere in the file (relative imports stay inside)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _within(module: str, allowed: set[str]) -> bool:
    return any(module == rule or module.startswith(f"{rule}.") for rule in allowed)


def _sources(folder: str) -> list[Path]:
    return [p for p in (REPO / folder).rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_only_what_the_design_allows(app):
    wrong = []
    for path in _sources(app):
        for module in _imports(path):
            top = module.split(".")[0]
            if top in APPS and top != app and not _within(module, ALLOWED[app]):
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("folder", PURE)
def test_pure_packages_import_no_django_and_nothing_of_the_project(folder):
    own = folder.replace("/", ".")
    wrong = []
    for path in _sources(folder):
        for module in _imports(path):
            top = module.split(".")[0]
            outside = top in APPS and not _within(module, {own})
            if top == "django" or outside:
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, "\n".join(wrong)
