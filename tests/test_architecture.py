"""The import rules between layers (docs/architecture.md), read from the source: no module is imported.

Wings (one per audience: API, recipient pages, console, webhooks, operator commands) import no other wing;
services import no wing and nothing of Flask; the decision rule and the token code import only pure modules.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "prefs"
WINGS = ("prefs.api", "prefs.pages", "prefs.console", "prefs.webhooks", "prefs.cli")
WEB = ("flask", "flask_login", "flask_wtf", "werkzeug")
# Pure: plain Python and plain libraries, no Flask, no database, and from prefs only each other.
PURE = (
    "prefs.addresses",
    "prefs.channels",
    "prefs.decision",
    "prefs.errors",
    "prefs.suppression",
    "prefs.tokens",
    "prefs.outbound",  # where webhooks may go and the HTTP client that goes there: no app, no database
    "prefs.outbound.netguard",
    "prefs.outbound.http",
    "prefs.metrics",  # what the service counts: prometheus_client only
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module `module` names in an import, at any depth of its code (function bodies and
    TYPE_CHECKING blocks included), relative imports resolved; `from x import y` counts x and x.y."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def prefs_imports(module: str) -> set[str]:
    """The prefs modules `module` imports (names that are not modules, such as `from .x import func`, dropped)."""
    return {name for name in imports_of(module) if name in MODULES}


def within(name: str, packages: tuple[str, ...] | str) -> bool:
    packages = (packages,) if isinstance(packages, str) else packages
    return any(name == package or name.startswith(package + ".") for package in packages)


def wing_of(name: str) -> str | None:
    return next((wing for wing in WINGS if within(name, wing)), None)


def test_the_rules_see_every_layer():
    """A renamed package must not make a rule vacuous."""
    for package in (*WINGS, "prefs.services", *PURE):
        assert any(within(name, package) for name in MODULES), package


@pytest.mark.parametrize("module", [name for name in MODULES if wing_of(name)])
def test_no_wing_imports_another_wing(module):
    own = wing_of(module)
    crossing = sorted(name for name in prefs_imports(module) if wing_of(name) not in (None, own))
    assert not crossing, f"{module} imports another wing: {crossing}"


def flask_bound(module: str) -> bool:
    """The module imports flask itself (the app, the request), not merely an extension object."""
    return any(within(name, "flask") for name in imports_of(module))


@pytest.mark.parametrize("module", [name for name in MODULES if within(name, "prefs.services")])
def test_services_import_no_wing_and_no_flask(module):
    direct = sorted(name for name in imports_of(module) if within(name, WEB))
    assert not direct, f"{module} imports {direct}"
    wings = sorted(name for name in prefs_imports(module) if wing_of(name))
    assert not wings, f"{module} imports a wing: {wings}"
    # Through other prefs modules too: what a service imports must not reach the app or the request.
    seen, path_to = {module}, {module: [module]}
    queue = [module]
    while queue:
        current = queue.pop()
        for name in sorted(prefs_imports(current) - seen):
            seen.add(name)
            path_to[name] = [*path_to[current], name]
            assert not flask_bound(name) and not wing_of(name), f"{module} reaches Flask: {' -> '.join(path_to[name])}"
            queue.append(name)


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_only_pure_modules(module):
    """The decision rule and the token code (and what they stand on) run without an app or a database."""
    outside = sorted(name for name in prefs_imports(module) if name != "prefs" and name not in PURE)
    assert not outside, f"{module} imports {outside}, which is not pure"
    impure = sorted(name for name in imports_of(module) if within(name, (*WEB, "sqlalchemy", "flask_sqlalchemy")))
    assert not impure, f"{module} imports {impure}"
