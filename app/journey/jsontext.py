"""JSON text as users hand it over (journey files, clipboard fragments, event lines), read safely.

`json.loads` recurses once per nesting level: text nested a thousand `[`/`{` deep raises
RecursionError, which is no JSONDecodeError, and so escaped every reader's "not valid JSON" branch
as a traceback. Anything nested only a little less deep parses but then breaks whatever walks it
recursively (copying, checking for NUL characters, writing it back). No journey, fragment or event
needs more than a few levels, so text nested deeper than MAX_DEPTH is refused here like any other
bad JSON: as a json.JSONDecodeError naming the line and column where it gets too deep.
"""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100     # levels of [ ] and { }; journeys use about 6, events a handful


def _too_deep(msg: str, text: str) -> json.JSONDecodeError:
    return json.JSONDecodeError(msg, text, _deep_position(text))


def parse_json(text: str, **options: Any) -> Any:
    """The JSON value in `text` (RFC 8259). Raises json.JSONDecodeError (a ValueError, with `lineno`
    and `colno`) for text that is not JSON or nests arrays and objects deeper than MAX_DEPTH; `options`
    go to `json.loads` (e.g. `parse_float`, whose own ValueError passes through).

    Control characters written raw inside strings (a tab, \x0b, \x0c, \x1c-\x1e pasted from a
    spreadsheet) are read as written rather than refused: RFC 8259 asks writers to escape them, but
    spreadsheets and shop exports do not, and nothing is lost by keeping them (a NUL is refused by
    the readers that store text).
    """
    message = f"arrays and objects nest deeper than {MAX_DEPTH} levels"
    try:
        data = json.loads(text.removeprefix("\ufeff"), strict=False, **options)   # a BOM is no content
    except RecursionError:
        raise _too_deep(message, text) from None
    if _depth_exceeds(data, MAX_DEPTH):
        raise _too_deep(message, text)
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether `data` nests more than `limit` containers (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return False


def _deep_position(text: str) -> int:
    """Where in `text` (an index) the nesting first goes past MAX_DEPTH, ignoring brackets in strings."""
    depth, in_string, escaped = 0, False, False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return index
        elif char in "]}":
            depth -= 1
    return 0
