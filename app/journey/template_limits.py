"""Resource limits of message templates: how big a value may grow and how long a render may run.

Templates are user input, and a few characters can ask for gigabytes (`'a' * 10**9`,
`'x' | center(999999999)`) or never end (`range(100000)` nested twice, exponential
recursive macros). The sandbox (app/journey/templates.py) routes every operator, call,
filter, attribute read, loop turn and buffer join through the checks here:

- *Size*: a text may hold MAX_TEXT characters (a message field's limit: Gmail clips an
  HTML email at 102 KB), any other value MAX_VALUE units (see `measure`). Operations whose
  result size is known beforehand (`*`, `**`, widths, `replace`, `join`…) are refused
  *before* they run; every other result is measured after.
- *Work*: a render has a `RenderBudget`: a number of steps (loop turns, calls, filters,
  operators; deterministic, so tests use it) and a wall-clock budget (200 ms), checked
  cooperatively at every step, so a CPU-only loop that prints nothing ends too.
- *Allocation*: the characters all steps of one render produce, together, are bounded, so a
  loop that builds (and drops) large values cannot churn through gigabytes.

Every refusal raises `TemplateLimitError` (a Jinja `TemplateError`): the engine logs it as
that message's template error; validation reports it as a problem.
"""
from __future__ import annotations

import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any, Iterable, Iterator

from jinja2.exceptions import SecurityError
from jinja2.utils import _PassArg

MAX_TEXT = 100_000           # characters a text (and a rendered message field) may hold
MAX_VALUE = 1_000_000        # `measure` units any other value (a list, a record) may hold
MAX_INT_BITS = 4_096         # about 1,233 digits: below Python's 4,300-digit printing limit
MAX_EXPONENT = 64            # 2**64 has 20 digits: any price or count a message needs
MAX_STEPS = 1_000_000        # loop turns, calls, filters and operators in one render
MAX_SECONDS = 0.2            # wall-clock time one render (or one compilation) may take
MAX_ALLOCATED = 20_000_000   # characters (units) all the steps of one render may produce together
MAX_NESTING = 60             # levels of the parsed template (a real one uses about 10)
_CLOCK_EVERY = 64            # steps between two looks at the clock

_HUGE_FORMAT = re.compile(r"%(\([^)]*\))?[-+ #0]*(\*|\d{6,})|%(\([^)]*\))?[-+ #0]*\d*\.(\*|\d{6,})")
_HUGE_BRACES = re.compile(r"\{[^{}]*:[^{}]*(\d{6,}|\{)")


class TemplateLimitError(SecurityError):
    """A template asked for more than a message may use (size, time or work)."""


@dataclass(frozen=True)
class Limits:
    """The budget of one render; tests pass small ones to stay fast and deterministic."""

    steps: int = MAX_STEPS
    seconds: float = MAX_SECONDS
    allocated: int = MAX_ALLOCATED


class RenderBudget:
    """What is left of one render's steps, time and allocation. Once spent it stays spent, so a
    refusal swallowed by some code on the way (a filter catching errors) is raised again at the
    next step."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = limits.steps
        self.allocated = limits.allocated
        self.deadline = time.monotonic() + limits.seconds
        self._clock = _CLOCK_EVERY
        self.spent: str | None = None       # why the budget ran out (said again at every later step)

    def _stop(self, reason: str) -> None:
        self.spent = self.spent or reason
        self.steps = -1
        raise TemplateLimitError(self.spent)

    def step(self, weight: int = 1) -> None:
        self.steps -= weight
        if self.steps < 0:
            self._stop(f"the template runs too long: more than {self.limits.steps:,} steps "
                       "(loop turns, calls, filters); loop over less")
        self._clock -= weight
        if self._clock <= 0:
            self._clock = _CLOCK_EVERY
            if time.monotonic() > self.deadline:
                self._stop(f"the template runs too long: it took longer than {self.limits.seconds * 1000:.0f} ms")

    def allocate(self, size: int) -> None:
        self.allocated -= size
        if self.allocated < 0:
            self._stop(f"the template builds too much text: more than {self.limits.allocated:,} characters in all")


CURRENT_BUDGET: ContextVar[RenderBudget | None] = ContextVar("render_budget", default=None)


@contextmanager
def budget(limits: Limits | None = None) -> Iterator[RenderBudget]:
    """Runs the block under a render budget (the one already running, if any: a render inside a
    render shares its budget)."""
    current = CURRENT_BUDGET.get()
    if current is not None:
        yield current
        return
    fresh = RenderBudget(limits or Limits())
    token = CURRENT_BUDGET.set(fresh)
    try:
        yield fresh
    finally:
        CURRENT_BUDGET.reset(token)


def step(weight: int = 1) -> None:
    """One step of the current render (nothing outside a render)."""
    current = CURRENT_BUDGET.get()
    if current is not None:
        current.step(weight)


def measure(value: Any, limit: int = MAX_VALUE) -> int:
    """The size of `value` in units: a text's length, an integer's digits, and for a container
    one per item plus its items' sizes (shared items count each time they appear, as they would
    print: a list doubled 64 times is huge though it holds 64 distinct lists). Counting saturates
    just past `limit`, and each distinct container is counted once, so it is quick.

    Raises RecursionError when the stack runs out while counting: values that reach a template are
    at most MAX_DEPTH (100) deep, so it is the template calling itself (a recursive loop or macro)
    that used the stack up, and the render says so rather than blaming the value's size."""
    return _measure(value, limit + 1, {})


def _measure(value: Any, cap: int, seen: dict[int, int]) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        known = seen.get(id(value))
        if known is not None:
            return known
        seen[id(value)] = cap            # a container inside itself counts as too large
        total = 0
        # A dict's keys and values, never its (key, value) pairs: those are new objects each time.
        items: Iterable[Any] = (x for pair in value.items() for x in pair) if isinstance(value, dict) else value
        for item in items:
            total = min(cap, total + 1 + _measure(item, cap, seen))
            if total >= cap:
                break
        seen[id(value)] = total
        return total
    return 1


def refuse_if_large(value: Any, what: str = "the result") -> Any:
    """`value`, charged to the render's allocation; refused when larger than a message may hold."""
    size = measure(value)
    limit = MAX_TEXT if isinstance(value, str) else MAX_VALUE
    if size > limit:
        raise TemplateLimitError(f"{what} would be too long for a message (more than {limit:,} "
                                 f"{'characters' if isinstance(value, str) else 'items and characters'})")
    current = CURRENT_BUDGET.get()
    if current is not None and size > 64:
        current.allocate(size)
        current.step(1 + size // 4096)
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuses, before it runs, an operator whose result would be too large."""
    if operator == "**" and _number(left) and _number(right):
        if abs(left) > 1 and right > MAX_EXPONENT:
            raise TemplateLimitError(f"{left} ** {right} is too large a number for a message")
        if isinstance(left, int) and isinstance(right, int) and right > 0 and left.bit_length() * right > MAX_INT_BITS:
            raise TemplateLimitError(f"{left} ** {right} is too large a number for a message")
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool) and \
                left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError("the product is too large a number for a message")
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and _number(times):
                limit = MAX_TEXT if isinstance(seq, str) else MAX_VALUE
                if times > limit or measure(seq) * max(times, 0) > limit:
                    raise TemplateLimitError(f"repeating a value {times} times makes too long a text for a message")
    elif operator == "%" and isinstance(left, str):
        check_format(left, right)
    elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        if measure(left) + measure(right) > (MAX_TEXT if isinstance(left, str) else MAX_VALUE):
            raise TemplateLimitError("joining these values makes too long a text for a message")


def check_format(pattern: str, values: Any) -> None:
    """`pattern % values` / `pattern | format(values)`: refuses huge widths and values too large to print."""
    if _HUGE_FORMAT.search(pattern):
        raise TemplateLimitError("a width or precision of 100000 or more makes too long a text for a message")
    if measure(values, MAX_TEXT) > MAX_TEXT:
        raise TemplateLimitError("the values are too long to print in a message")


def check_braces(pattern: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`'{:>9}'.format(x)`: refuses a width of 100000 or more and values too large to print."""
    if _HUGE_BRACES.search(pattern):
        raise TemplateLimitError("a width or precision of 100000 or more makes too long a text for a message")
    if measure((args, kwargs), MAX_TEXT) > MAX_TEXT:
        raise TemplateLimitError("the values are too long to print in a message")


def check_method(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Before a method of a text runs (`s.center(n)`, `s.replace(a, b)`, `sep.join(items)`):
    refuses one whose result would be too large. Returns the (possibly materialised) arguments."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str):
        return args
    if name in ("translate", "maketrans", "expandtabs"):
        raise TemplateLimitError(f"the text method '{name}' is not available in messages")
    for value in (*args, *kwargs.values()):
        if _number(value) and abs(value) >= MAX_TEXT:
            raise TemplateLimitError(f"{value} is too large a size for a message")
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        check_replace(owner, args[0], args[1])
    if name == "join" and args:
        items = list(_stepped(args[0]))
        check_join(items, owner)
        return (items, *args[1:])
    return args


def check_replace(text: str, old: str, new: str) -> None:
    count = text.count(old) if old else len(text) + 1
    if len(text) + count * max(len(new) - len(old), 0) > MAX_TEXT:
        raise TemplateLimitError("the replacement makes too long a text for a message")


def check_join(items: list[Any], separator: str) -> None:
    total = len(separator) * max(len(items) - 1, 0)
    for item in items:
        total += measure(item, MAX_TEXT)
        if total > MAX_TEXT:
            raise TemplateLimitError("the joined text is too long for a message")


def _stepped(values: Iterable[Any]) -> Iterator[Any]:
    for value in values:
        step()
        yield value


def loop_items(values: Any) -> Iterator[Any]:
    """What a `{% for %}` loop iterates: `values`, one step per turn."""
    current = CURRENT_BUDGET.get()
    if current is None:
        yield from values
        return
    for value in values:
        current.step()
        yield value


def bounded_concat(parts: Iterable[str]) -> str:
    """The environment's `concat` (joins a block's, a macro's or `{% set %}`'s output): refuses
    a text longer than MAX_TEXT before building it."""
    collected: list[str] = []
    total = 0
    for part in parts:
        total += len(part)
        if total > MAX_TEXT:
            raise TemplateLimitError(f"the text is longer than {MAX_TEXT:,} characters")
        collected.append(part)
    return refuse_if_large("".join(collected))


def check_indent(text: Any, width: Any) -> None:
    if isinstance(text, str) and isinstance(width, int):
        if len(text) + (text.count("\n") + 1) * abs(width) > MAX_TEXT:
            raise TemplateLimitError("the indented text is too long for a message")
    elif isinstance(text, str) and isinstance(width, str):
        if len(text) + (text.count("\n") + 1) * len(width) > MAX_TEXT:
            raise TemplateLimitError("the indented text is too long for a message")


def check_wordwrap(text: Any, width: Any, wrapstring: Any) -> None:
    if isinstance(text, str) and isinstance(width, int) and width > 0:
        breaks = len(text) // width + 1
        if len(text) + breaks * len(wrapstring if isinstance(wrapstring, str) else "\n") > MAX_TEXT:
            raise TemplateLimitError("the wrapped text is too long for a message")


def check_lipsum(n: Any = 5, html: Any = True, min: Any = 20, max: Any = 100) -> None:  # noqa: A002
    words = [v for v in (n, min, max) if _number(v)]
    if any(v > 10_000 or v < 0 for v in words) or (_number(n) and _number(max) and n * max > 10_000):
        raise TemplateLimitError("lipsum: at most 10,000 words of filler text")


# Filters whose whole-number arguments are lengths or counts (`center(10**9)` builds a gigabyte).
_SIZED_FILTERS = frozenset({"center", "indent", "batch", "slice", "truncate", "wordwrap", "format"})
# Filters that make text of their value: a value too large to print is refused before they run
# (`upper` of a list nested by doubling would print its Python form, gigabytes of it).
_PRINTING_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "truncate", "replace", "center",
                               "indent", "wordwrap", "striptags", "escape", "e", "forceescape", "string",
                               "urlencode", "wordcount", "format", "reverse"})


def limited_filter(name: str, apply: Any) -> Any:
    """The filter `apply` as one budget step: refusing (a template error), before it runs, arguments
    that would make too large a result (`center(10**9)`, `replace('', …)`, `indent` of many lines),
    and measuring its result after."""
    skip = 2 if _PassArg.from_obj(apply) else 1          # the context (if asked for) and the value itself

    @wraps(apply)
    def limited(*args: Any, **kwargs: Any) -> Any:
        step()
        value, rest = (args[skip - 1] if len(args) >= skip else None), args[skip:]
        if name in _SIZED_FILTERS and name != "format":     # format: values, not sizes
            for size in (*rest, *kwargs.values()):
                if _number(size) and abs(size) >= MAX_TEXT:
                    raise TemplateLimitError(f"{size} is too large a size for a message")
        if name in _PRINTING_FILTERS and not isinstance(value, str) and measure(value, MAX_TEXT) > MAX_TEXT:
            raise TemplateLimitError(f"the value given to '{name}' is too long to print in a message")
        _check_filter(name, value, rest, kwargs)
        return refuse_if_large(apply(*args, **kwargs), f"the result of '{name}'")
    return limited


def _check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name == "format" and isinstance(value, str):
        check_format(value, (args, kwargs))
    elif name == "indent":
        check_indent(value, args[0] if args else kwargs.get("width", 4))
    elif name == "wordwrap":
        check_wordwrap(value, args[0] if args else kwargs.get("width", 79),
                       args[2] if len(args) > 2 else kwargs.get("wrapstring"))
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        if isinstance(args[0], str) and isinstance(args[1], str):
            check_replace(value, args[0], args[1])
    elif name == "sum":
        start = args[1] if len(args) > 1 else kwargs.get("start", 0)
        if not _number(start):
            raise TemplateLimitError("sum adds numbers; join texts or lists instead")
