"""`journeys service install|uninstall|status` (filled in below)."""
from __future__ import annotations

import argparse
from typing import Any


def add_install_commands(sub: Any, db_parent: argparse.ArgumentParser) -> None:
    pass
