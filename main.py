"""Starts Journey Studio (the desktop app)."""
from app.ui.launch import main

if __name__ == "__main__":
    raise SystemExit(main())
