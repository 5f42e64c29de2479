"""The log file: where full tracebacks go (a failed step, a dead-lettered event, a failed job).

The user sees one line (in the run log, the import report, the status bar); the
traceback behind it is written here, for whoever has to fix the cause. One
rotating file in the user's data folder (next to the default database), or
where $JOURNEYS_LOG_FILE says (tests point it into their tmp folder). Set up once
by each entry point (the `journeys` command, the app); the engine only logs.
"""
from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs

ENV_VAR = "JOURNEYS_LOG_FILE"
LOG_FILENAME = "journeys.log"
_MAX_BYTES = 1_000_000      # then rotated: journeys.log.1 … .3, so the folder stays small
_BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_path() -> Path:
    """$JOURNEYS_LOG_FILE, else journeys.log in the app's data folder (e.g. ~/.local/share/JourneyStudio)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("JourneyStudio", appauthor=False)) / LOG_FILENAME


def setup_logging(path: Path | None = None) -> Path | None:
    """Sends the app's warnings and errors (loggers under `app`) to the rotating log file; returns its
    path, or None when it cannot be written (logging must never stop the app). Calling it again
    for the same file adds nothing."""
    target = (path or log_path()).resolve()
    logger = logging.getLogger("app")
    for handler in logger.handlers:
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == target:
            return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = RotatingFileHandler(target, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8",
                                      delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    return target
