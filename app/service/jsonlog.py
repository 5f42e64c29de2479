"""The background service's log: JSON lines, rotated.

One object per line — `{"time": "2026-11-30T14:02:00.123Z", "level": "INFO", "logger": "app.service",
"message": "…", "pid": 123}` plus any `extra={"fields": {...}}` given, and `"error"` with the
traceback when there is one — so `jq`, a log shipper or a test reads it without parsing prose.
Written to `journeys-service.jsonl` next to the app's log file (app/logfile.py: the user data folder,
or `$JOURNEYS_SERVICE_LOG`, or `journeys serve --log-file`), rotated at 5 MB with 5 old files kept.
Lines are split on "\\n" only and the JSON escapes every control character, so a message holding a
line break stays one line.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from app.logfile import log_path

ENV_VAR = "JOURNEYS_SERVICE_LOG"
FILENAME = "journeys-service.jsonl"
MAX_BYTES = 5_000_000
BACKUPS = 5
LOGGERS = ("app", "uvicorn", "apscheduler")      # what the service writes: its own, the server's, the scheduler's


class JsonLinesFormatter(logging.Formatter):
    """A log record as one JSON object on one line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def service_log_path(path: str | Path | None = None) -> Path:
    """`path`, else $JOURNEYS_SERVICE_LOG, else journeys-service.jsonl beside the app's log file."""
    if path:
        return Path(path).expanduser()
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return Path(configured).expanduser()
    return log_path().parent / FILENAME


def setup_service_logging(path: Path, level: int = logging.INFO) -> RotatingFileHandler:
    """Sends the service's records (loggers `app`, `uvicorn`, `apscheduler`) at `level` and above to the
    rotating JSON-lines file `path` (its folder created 0700). Raises OSError when it cannot be
    written (the caller says so and stops: a service without a log is blind)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(JsonLinesFormatter())
    handler.setLevel(level)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)     # a line per job run would drown the rest
    return handler
