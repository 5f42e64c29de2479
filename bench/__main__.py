"""`make bench`: prints the figures of every benchmark module in this folder.

Each module exposes `run() -> list[str]`; targets live here, not in timed tests.
Run one with `python -m bench validation`.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(names: list[str]) -> int:
    folder = Path(__file__).parent
    modules = names or sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_"))
    for name in modules:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        for line in importlib.import_module(f"bench.{name}").run():
            print(f"   {line}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
