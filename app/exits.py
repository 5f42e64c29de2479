"""What a `journeys` command's exit code means, and the one place that decides it.

Each code means one thing, so a script can act on it:

- 0 ``OK``: all went well.
- 1 ``PROBLEMS``: the input was read and has problems: validation findings, bad rows or lines of an
  imported file (listed by line and skipped; every good one was kept).
- 2 ``UNREADABLE``: an input cannot be read or used: a missing or unreadable file, text that is not
  UTF-8, not JSON, not a journey, not a contacts file; a usage error on the command line; an unknown
  journey or contact; a database that is busy, read-only or full.
- 3 ``INTERNAL``: a bug. One line says so; the full traceback is in the log file (app/logfile.py).
- 130 ``INTERRUPTED`` (Ctrl-C) and 141 ``OUTPUT_CLOSED`` (the program reading our output went away,
  as `journeys list | head -1` does): the shell's own numbers for SIGINT and SIGPIPE.

:func:`run_command` runs one command and maps whatever it raises to these codes, printing one line
on stderr and never a traceback.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Callable

OK, PROBLEMS, UNREADABLE, INTERNAL = 0, 1, 2, 3
INTERRUPTED, OUTPUT_CLOSED = 130, 141

_MAX_LINE = 300     # characters of an exception's text in the one line


class CommandError(Exception):
    """Stops a command with one line for the user (what, where, what to do) and exit code 2."""


def single_line(text: str, limit: int = _MAX_LINE) -> str:
    """`text` as one printable line: line breaks and other control characters escaped (`\\n`),
    cut to `limit` characters with "…"."""
    escaped = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def _say(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):   # stderr closed or gone: nothing more we can tell anyone
        pass


def _user_error(exc: Exception) -> str | None:
    """The one line for an error bad input or a bad database causes, or None when `exc` is a bug."""
    if isinstance(exc, CommandError):
        return str(exc)
    # Looked up, not imported: `journeys validate` on files loads no database code.
    store_errors = sys.modules.get("app.store.errors")
    if store_errors is not None and isinstance(exc, store_errors.StoreError):
        return str(exc)     # busy, read-only, full, unreachable (app/store/faults.py)
    file_format = sys.modules.get("app.journey.fileformat")
    if file_format is not None and isinstance(exc, file_format.JourneyFileError):
        return str(exc)     # names the file and the JSON pointer
    return None


def run_command(name: str, action: Callable[[], int]) -> int:
    """Runs `action` (one command; it returns OK, PROBLEMS or UNREADABLE) and returns its exit code.

    What it raises becomes one line on stderr, prefixed with `journeys NAME:`: a CommandError, a
    StoreError or a JourneyFileError exits UNREADABLE; any other exception is a bug and exits INTERNAL
    with its traceback written to the log file (see :func:`report_internal_error`). Standard output is
    flushed here, so that a closed pipe or a full disk under a redirected output is caught too.
    """
    try:
        code = action()
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        _say(f"journeys {name}: interrupted")
        return INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return OUTPUT_CLOSED
    except Exception as exc:        # noqa: BLE001 — this is the boundary: nothing passes it as a traceback
        known = _user_error(exc)
        if known is not None:
            _say(single_line(f"journeys {name}: {known}", limit=2000))
            return UNREADABLE
        return report_internal_error(name, exc)


def report_internal_error(name: str, exc: BaseException) -> int:
    """Writes `exc`'s traceback to the log file and says on stderr, in one line, that command `name`
    met a bug and where the details are; returns INTERNAL (3). When the log file cannot be written,
    the traceback goes to a private file in the temporary folder instead."""
    command = f"journeys {name}".strip()
    where = write_traceback(f"{command}: internal error", exc)
    summary = single_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    details = f"the details are in {where}" if where else "the details could not be written anywhere"
    _say(f"{command}: internal error (a bug; please report it): {summary}; {details}")
    return INTERNAL


def write_traceback(heading: str, exc: BaseException) -> Path | None:
    """Appends `heading` and `exc`'s full traceback to the log file (app/logfile.py) and returns that
    file; when it cannot be written, to a new private file in the temporary folder; None when neither
    can be. Never raises."""
    from app.logfile import setup_logging

    # Surrogates (from file names, or text read with surrogateescape) would make the UTF-8 log
    # handler fail on this very record: escape them first.
    text = "".join(traceback.format_exception(exc)).rstrip()
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        path = setup_logging()
    except Exception:       # noqa: BLE001 — logging must never be what breaks the error report
        path = None
    if path is not None and _appendable(path):
        raising = logging.raiseExceptions
        logging.raiseExceptions = False     # a handler that fails anyway must not print its own traceback
        try:
            logging.getLogger("app.cli").error("%s\n%s", heading, text)
        finally:
            logging.raiseExceptions = raising
        return path
    try:
        handle, name = tempfile.mkstemp(prefix="journeys-error-", suffix=".log")   # mode 0600
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(f"{heading}\n{text}\n")
        return Path(name)
    except OSError:
        return None


def _appendable(path: Path) -> bool:
    try:
        with open(path, "a", encoding="utf-8"):
            return True
    except OSError:
        return False


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so that the interpreter's final flush does not
    print "Exception ignored … BrokenPipeError" (the recipe in Python's `signal` documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):    # stdout is no real file (under a test runner)
        pass


def tolerant_output() -> None:
    """Makes stdout and stderr write any text: a lone surrogate (a file name that is not UTF-8, a
    name read from an old database) is written escaped (`\\udc80`) instead of raising
    UnicodeEncodeError halfway through a report."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
