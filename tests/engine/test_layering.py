"""The engine runs without Qt: importing all of it loads no PySide6."""
from __future__ import annotations

import subprocess
import sys


def test_the_engine_imports_no_qt():
    code = ("import sys, pkgutil, importlib, app.engine as e\n"
            "for m in pkgutil.iter_modules(e.__path__): importlib.import_module('app.engine.' + m.name)\n"
            "import app.engine_cli\n"
            "print(sorted(n for n in sys.modules if n.startswith('PySide6')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
