"""Shared fixtures. Qt runs offscreen; every database is a real file under tmp_path."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
