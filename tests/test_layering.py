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
