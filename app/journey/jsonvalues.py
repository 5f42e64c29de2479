"""JSON text in, plain values out, with every value a journey, an event or the store can hold.

Python's `json` accepts more than JSON (RFC 8259) and more than the store keeps: NaN and Infinity,
1e400 (read as infinity), integers of any length (over 4,300 digits it raises ValueError), nesting
until the interpreter's recursion limit (RecursionError), "\\ud800" escapes that decode to a lone
surrogate (not text: it cannot be written as UTF-8, so PostgreSQL refuses it) and "\\u0000" (NUL,
which PostgreSQL's text and JSONB refuse while SQLite keeps it). `parse` reads text and `first_fault`
checks values already parsed; both report the JSON pointer of the first fault, so a reader answers
in one line and the same way on both databases.
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any, TypeAlias

MAX_DEPTH = 64          # levels of objects and lists; a journey needs about 8
# The largest integer that still converts to a float (engine arithmetic and comparisons use floats).
_FLOAT_MAX = sys.float_info.max
_MAX_INT_DIGITS = 309   # more digits than any finite float has before the point


class JsonFault(ValueError):
    """Text or a value that is not JSON data we keep. `pointer`: where ("" for the text as a whole)."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"at {pointer}: {message}" if pointer else message)
        self.pointer, self.message = pointer, message


class _TooLong(float):
    """Stands in for an integer literal with more digits than a float can hold (read as infinity),
    so the check below can say what it was and where, instead of json raising mid-file."""

    digits: int

    def __new__(cls, text: str) -> "_TooLong":
        value = super().__new__(cls, "-inf" if text.startswith("-") else "inf")
        value.digits = len(text.lstrip("-"))
        return value


class _Constant(float):
    """NaN, Infinity or -Infinity as written: json accepts them, JSON does not."""

    word: str

    def __new__(cls, word: str) -> "_Constant":
        value = super().__new__(cls, {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[word])
        value.word = word
        return value


def _int(text: str) -> int | float:
    return int(text) if len(text.lstrip("-")) <= _MAX_INT_DIGITS else _TooLong(text)


def _float(text: str) -> float | int:
    """A float as both databases give it back: -0.0 becomes 0.0, and a whole number written with an
    exponent (1e20) becomes an int, as PostgreSQL's JSONB returns it (SQLite would keep 1e+20)."""
    value = float(text) + 0.0
    if abs(value) >= 1e16 and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def decode(text: str) -> Any:
    """`json.loads` that never calls int() on a huge literal (it comes back as a non-finite float that
    `first_fault` names), turns -0.0 into 0.0, and reads NaN/Infinity as marked floats. Raises what
    json raises: JSONDecodeError, RecursionError (nesting of about 1,000 levels), ValueError."""
    # strict=False: a tab or other control character written raw inside a string (spreadsheets and shop
    # exports do) is read as written; RFC 8259 asks writers to escape them, nothing is lost by reading.
    return json.loads(text, strict=False, parse_int=_int, parse_float=_float, parse_constant=_Constant)


def parse(text: str, *, check: bool = True) -> Any:
    """Parses JSON text (a leading byte-order mark is ignored) and, with `check`, checks the values
    with `first_fault` (without, NaN, 1e400 and long integers come back as non-finite floats that
    `first_fault` names later).

    Raises JsonFault with a one-line message: not JSON (with line and column), nested deeper
    than MAX_DEPTH, or a value we do not keep (with its JSON pointer).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = decode(text)
    except json.JSONDecodeError as exc:
        raise JsonFault("", f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise JsonFault("", f"is nested too deeply (more than {MAX_DEPTH} levels of objects and lists)") from None
    except ValueError as exc:    # json's own limits, e.g. a number it cannot convert
        raise JsonFault("", f"is not valid JSON ({exc})") from None
    fault = first_fault(data) if check else None
    if fault is not None:
        raise fault
    return data


def _segment(key: str | int) -> str:
    """A JSON pointer segment (RFC 6901), with what cannot be printed escaped."""
    return one_line(str(key).replace("~", "~0").replace("/", "~1"))


def one_line(text: str) -> str:
    """`text` with line breaks and other characters that cannot be printed escaped ("\\n", "\\ud800"),
    so a message about a value stays one printable line whatever the value holds."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _pointer(path: list[str | int], *, longest: int = 12) -> str:
    """The pointer of `path`; past `longest` segments (deep nesting) the rest is shown as "/…"."""
    shown = "".join("/" + _segment(p) for p in path[:longest])
    return shown + "/…" if len(path) > longest else shown


def text_fault(text: str) -> str | None:
    """Why `text` cannot be stored as text (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which is not text the store can keep"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(text[exc.start])
            return (f"contains a lone surrogate (\\u{code:04x}), which is not a character "
                    "(an escape with its pair missing); remove it or write the character itself")
    return None


def _number_fault(value: float | int) -> str | None:
    if isinstance(value, _Constant):
        return f"{value.word} is not a number JSON allows; write a number"
    if isinstance(value, _TooLong):
        return f"a number with {value.digits} digits is too large; numbers must be finite"
    if isinstance(value, float) and not math.isfinite(value):
        return "the number is too large (not finite); numbers must be finite"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX:
        return "the number is too large; numbers must be finite"
    return None


_Link: TypeAlias = "tuple[_Link, str | int] | None"    # a value's key and its parent's link; None: the top


def first_fault(data: Any, *, max_depth: int = MAX_DEPTH) -> JsonFault | None:
    """The first value in `data` (parsed JSON: dict, list, str, int, float, bool, None) that is not
    kept: a NUL or lone surrogate in a string or key, a number that is not finite or has no float
    (NaN, Infinity, 1e400, an integer of 400 digits), nesting deeper than `max_depth`, or a value of
    another Python type. None when all is well. Iterative, so depth never exhausts the stack; the
    path of a value is kept as a link to its parent's and spelled out only for a fault."""
    stack: list[tuple[Any, int, _Link]] = [(data, 0, None)]
    while stack:
        value, depth, link = stack.pop()
        if isinstance(value, str):
            reason = text_fault(value)
        elif value is None or value is True or value is False:
            reason = None
        elif isinstance(value, (int, float)):
            reason = _number_fault(value)
        elif isinstance(value, dict):
            if depth >= max_depth:
                return _too_deep(link, max_depth)
            for key in value:
                if isinstance(key, str):
                    key_reason = text_fault(key)
                    if key_reason:
                        return JsonFault(_pointer(_path((link, key))), f"the name {key_reason}")
            # Pushed last to first, so faults are found in the order the document has them.
            stack.extend((item, depth + 1, (link, key)) for key, item in reversed(value.items()))
            reason = None
        elif isinstance(value, list):
            if depth >= max_depth:
                return _too_deep(link, max_depth)
            stack.extend((value[i], depth + 1, (link, i)) for i in range(len(value) - 1, -1, -1))
            reason = None
        else:
            reason = f"{type(value).__name__} is not a JSON value"
        if reason:
            return JsonFault(_pointer(_path(link)), reason)
    return None


def _path(link: _Link) -> list[str | int]:
    path: list[str | int] = []
    while link is not None:
        link, key = link
        path.append(key)
    return path[::-1]


def _too_deep(link: _Link, max_depth: int) -> JsonFault:
    return JsonFault(_pointer(_path(link)), f"is nested too deeply (more than {max_depth} levels of objects and lists)")
