"""Imports point downwards only (DESIGN.md, "Layers"): app/journey imports neither Qt nor SQLAlchemy,
app/store and app/engine import no Qt. Each layer is imported whole, every module of it, in a fresh
interpreter, and what got loaded is checked."""
from __future__ import annotations

import subprocess
import sys

import pytest

QT = ("PySide6", "shiboken6")
DATABASE = ("sqlalchemy", "alembic", "psycopg", "sqlite3")

LAYERS = [
    # package, extra modules that belong to it, top-level packages it must not load
    ("app.journey", (), QT + DATABASE),
    ("app.store", (), QT),
    ("app.engine", ("app.engine_cli",), QT),
    ("app.service", ("app.cli_service", "app.cli_service_install"), QT),
    ("app.connectors", ("app.cli_connect",), QT),      # pull connectors: no Qt (issue 13)
    ("app.intake", ("app.cli_receiver",), QT),         # the HTTP receiver: no Qt (issue 13)
]


def loaded_by(package: str, extra: tuple[str, ...]) -> list[str]:
    code = ("import sys, pkgutil, importlib\n"
            f"package = importlib.import_module({package!r})\n"
            "for m in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
            "    if '.migrations.versions.' not in m.name and not m.name.endswith('.migrations.env'):\n"
            "        importlib.import_module(m.name)\n"
            f"for name in {list(extra)!r}: importlib.import_module(name)\n"
            "print('\\n'.join(sorted({n.split('.')[0] for n in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("package, extra, forbidden", LAYERS, ids=[p for p, *_ in LAYERS])
def test_each_layer_imports_nothing_from_above(package, extra, forbidden):
    loaded = loaded_by(package, extra)
    assert package.split(".")[0] in loaded                         # it did import
    assert sorted(set(loaded) & set(forbidden)) == []


def test_the_check_sees_a_forbidden_import():
    """The probe itself works: the canvas does load Qt."""
    assert "PySide6" in loaded_by("app.canvas", ())


# -- every import statement, wherever it sits --------------------------------------------------------
# Importing a layer only loads what runs at import time: an import inside a function (a lazy import)
# escapes the check above until that function runs. So every file is also read, and every import
# statement in it — at the top, in a function, behind `if TYPE_CHECKING`, or a literal
# importlib.import_module("…") / __import__("…") — is checked against the layer's rule.

import ast  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

UI = ("app.ui", "app.canvas")

STATIC_LAYERS = [
    # directory or file, modules (with everything below them) it must not import
    ("app/journey", QT + DATABASE + UI + ("app.store", "app.engine", "app.cli", "app.engine_cli")),
    ("app/store", QT + UI + ("app.engine", "app.cli", "app.engine_cli")),
    ("app/engine", QT + UI + ("app.cli", "app.engine_cli")),
    ("app/engine_cli.py", QT + UI),
    ("app/service", QT + UI + ("app.cli", "app.engine_cli")),       # the background service: no window
    ("app/cli_service.py", QT + UI),
    ("app/cli_service_install.py", QT + UI),
    ("app/intake", QT + UI + ("app.cli", "app.engine_cli")),        # the receiver: no window
    ("app/cli_receiver.py", QT + UI),
    ("app/connectors", QT + UI + ("app.cli", "app.engine_cli")),    # pull connectors: no window
    ("app/cli_connect.py", QT + UI),
    ("app/canvas", ("app.ui", "app.cli", "app.engine_cli")),      # the canvas sits below the windows
]


def imported_names(source: str, filename: str = "<source>", package: str = "") -> list[tuple[int, str]]:
    """(line, full module name) of every import the source makes, wherever it is written; relative
    imports are resolved against `package` (the dotted package the file belongs to)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1] if package else []
                base = ".".join([*parts, *([base] if base else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def _hits(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def forbidden_imports(path: str, forbidden: tuple[str, ...]) -> list[str]:
    target = ROOT / path
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    found = []
    for f in files:
        module = ".".join(f.relative_to(ROOT).with_suffix("").parts)
        package = module if f.name == "__init__.py" else module.rpartition(".")[0]
        package = package.removesuffix(".__init__")
        found += [f"{f.relative_to(ROOT)}:{line}: imports {name}"
                  for line, name in imported_names(f.read_text(encoding="utf-8"), str(f), package)
                  if _hits(name, forbidden)]
    return found


@pytest.mark.parametrize("path, forbidden", STATIC_LAYERS, ids=[p for p, _ in STATIC_LAYERS])
def test_no_file_of_a_layer_imports_from_above_even_inside_a_function(path, forbidden):
    assert forbidden_imports(path, forbidden) == []


@pytest.mark.parametrize("source", [
    "import PySide6",
    "import PySide6.QtCore as core",
    "from PySide6 import QtCore",
    "from PySide6.QtWidgets import QWidget",
    "def later():\n    from PySide6.QtCore import QObject\n    return QObject",
    "class C:\n    def m(self):\n        import shiboken6",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from PySide6.QtGui import QColor",
    "import importlib\nqt = importlib.import_module('PySide6.QtCore')",
    "qt = __import__('PySide6')",
    "try:\n    import os, PySide6.QtCore\nexcept ImportError:\n    pass",
    "def f():\n    from app.canvas.style import theme",
    "def f():\n    from ..ui import wheel",
])
def test_the_static_check_sees_every_way_of_importing_from_above(source):
    assert any(_hits(n, QT + UI) for _, n in imported_names(source, package="app.engine"))


@pytest.mark.parametrize("source", ["def f():\n    import sqlalchemy.engine as e", "from ..store import db",
                                    "from app.engine import engine", "import sqlite3"])
def test_the_static_check_sees_a_lazy_database_import_in_the_journey_layer(source):
    forbidden = dict(STATIC_LAYERS)["app/journey"]
    assert any(_hits(n, forbidden) for _, n in imported_names(source, package="app.journey"))


def test_the_static_check_passes_imports_that_point_down():
    names = imported_names("from ..journey import model\nfrom . import runs\nimport json", package="app.engine")
    assert not any(_hits(n, dict(STATIC_LAYERS)["app/engine"]) for _, n in names)
