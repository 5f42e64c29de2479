"""Where the app's bundled files live."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
EXAMPLES = RESOURCES / "examples"
SAMPLE_CONTACTS = RESOURCES / "sample_contacts.csv"
