"""What a template value is when it is printed, and when it counts as missing.

The rules (docs/journey-format.md, "Templates"):

- A value is *missing* when it is absent, `null`, or a blank string, at any depth:
  `event.cart.total` with no `cart` (or `"cart": null`) is missing, not an error.
- Printing a missing value (`{{ … }}`, or through a filter that prints it) is
  reported to the render pass, which hands it to the step's policy (fallback /
  skip / fail). *Testing* one (`{% if event.coupon %}`, `is defined`,
  `| default`, `| length`) reports nothing.
- Printing never shows a Python repr: lists are joined with ", ", a record
  shows its `title`/`name`/`label`, booleans read "yes"/"no", decimals use the
  contact's locale. A record with none of those names is a template error.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from collections.abc import Iterable
from typing import Any, Callable, Iterator, Mapping, NoReturn

from jinja2 import Undefined, pass_context
from jinja2.exceptions import TemplateRuntimeError, UndefinedError
from jinja2.filters import do_join, make_attrgetter
from jinja2.runtime import Context
from jinja2.utils import _PassArg
from markupsafe import Markup, soft_str

from .template_filters import format_datetime_value, format_number
from .template_limits import MAX_TEXT, TemplateLimitError, check_join, step

NULL_NAME = "(null value)"      # how a printed `null` without a name is reported
RECORD_NAMES = ("title", "name", "label")   # what a record prints as


@dataclass
class RenderPass:
    """One render's state: the text standing in for a missing value, and the names found missing."""

    fallback: str = ""
    missing: list[str] = field(default_factory=list)


CURRENT_PASS: ContextVar[RenderPass | None] = ContextVar("render_pass", default=None)


def note_missing(name: str) -> str:
    """Reports `name` as missing to the current render pass; returns the text printed in its place."""
    current = CURRENT_PASS.get()
    if current is None:
        return ""
    current.missing.append(name)
    return current.fallback


def is_blank(value: Any) -> bool:
    """True for the values that count as missing: None and blank strings (numbers, False, [] are values)."""
    return value is None or (value.__class__ is str and (not value or value.isspace()))


class MissingValue(Undefined):
    """A missing value: chains (`.x`, `[i]`, calls and arithmetic give missing again), compares
    false, iterates as empty, and reports itself only when printed or iterated.

    A sandbox refusal (`unsafe_undefined`, raised with SecurityError) is not a missing value: any
    use of it raises, so it ends up as a template error rather than a silent blank.
    """

    __slots__ = ()

    def _strict(self) -> bool:
        return self._undefined_exception is not UndefinedError

    def _child(self, key: Any) -> "MissingValue":
        if self._strict():
            self._fail_with_undefined_error()
        base = self._undefined_name or "?"
        name = f"{base}.{key}" if isinstance(key, str) else f"{base}[{key!r}]"
        return MissingValue(name=name)

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return self._child(name)

    def __getitem__(self, key: Any) -> "MissingValue":  # type: ignore[override]
        return self._child(key)

    def _same(self, *args: Any, **kwargs: Any) -> "MissingValue":
        if self._strict():
            self._fail_with_undefined_error()
        return self

    def _false(self, *args: Any) -> bool:
        if self._strict():
            self._fail_with_undefined_error()
        return False

    # Arithmetic on a missing value is missing (printed: the policy applies); ordering is false.
    __add__ = __radd__ = __sub__ = __rsub__ = _same  # type: ignore[assignment]
    __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _same  # type: ignore[assignment]
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = _same  # type: ignore[assignment]
    __pos__ = __neg__ = __abs__ = __round__ = __call__ = _same  # type: ignore[assignment]
    __lt__ = __le__ = __gt__ = __ge__ = _false  # type: ignore[assignment]

    def report(self) -> str:
        """Notes this value as missing and returns its stand-in text (raises for a sandbox refusal)."""
        if self._strict():
            self._fail_with_undefined_error()
        return note_missing(self._undefined_name or "?")

    def __str__(self) -> str:
        return self.report()

    def __html__(self) -> str:
        return str(Markup.escape(self.report()))

    def __iter__(self) -> Iterator[Any]:
        self.report()
        return iter(())

    def __repr__(self) -> str:
        return f"MissingValue({self._undefined_name!r})"

    def then(self, step: Callable[[Any], Any]) -> "MissingValue":
        """This value, still missing, with a filter to apply to the fallback text if it is printed."""
        if self._strict():
            self._fail_with_undefined_error()
        before = self._then if isinstance(self, FilteredMissing) else ()
        return FilteredMissing(self._undefined_name, (*before, step))


class FilteredMissing(MissingValue):
    """A missing value that went through filters (`{{ event.coupon | upper }}`): still missing, so a
    later `| default(...)` replaces it and nothing is reported unless it is printed; printed, the
    fallback text goes through the same filters, as the value would have ("friend" | title → "Friend").
    A filter that cannot take the fallback text (`| money` on "n/a") leaves it as it is."""

    __slots__ = ("_then",)

    def __init__(self, name: str | None, steps: tuple[Callable[[Any], Any], ...]) -> None:
        super().__init__(name=name)
        self._then = steps

    def _filtered(self) -> Any:
        text = self.report()
        result: Any = text
        try:
            for apply in self._then:
                result = apply(result)
        except Exception:  # noqa: BLE001 - any filter may refuse text; the fallback then prints as written
            return text
        if isinstance(result, bool) or not isinstance(result, (str, int, float)):
            return text
        return result

    def __str__(self) -> str:
        return str(self._filtered())

    def __html__(self) -> str:
        result = self._filtered()
        return str(result) if isinstance(result, Markup) else str(Markup.escape(result))


def fail(message: str) -> NoReturn:
    raise TemplateRuntimeError(message)


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """`| default(x)` / `| d(x)`: `x` when the value is missing (absent, null or blank), at any depth.
    With `boolean=True` any false value (0, empty list, False) is replaced too, as in Jinja."""
    if isinstance(value, Undefined) or is_blank(value) or (boolean and not value):
        return default_value
    return value


def missing_aware(convert: Any) -> Any:
    """Wraps a Jinja filter so a missing value passes through it still missing (`| int`, `| float`)."""
    def wrapped(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, Undefined) or value is None:
            return value
        return convert(value, *args, **kwargs)
    wrapped.__name__ = getattr(convert, "__name__", "filter")
    wrapped.__doc__ = convert.__doc__
    return wrapped


# Filters that test a value rather than print it: a missing value goes in as Jinja gives it (`default`
# replaces it, `length` is 0) and reports nothing.
TESTING_FILTERS = frozenset({"default", "d", "length", "count"})
# Text filters: the fallback text of a missing value goes through them when printed, as the value would
# have. Through any other filter (numbers, dates, lists) a missing value prints the fallback as written.
TEXT_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "truncate", "replace", "center",
                          "indent", "wordwrap", "striptags", "escape", "e", "forceescape", "string", "urlencode"})


def through_missing(name: str, apply: Any) -> Any:
    """Wraps the filter `apply` so that (1) a missing value passes through it still missing, to be
    reported only if it is printed (`{{ event.coupon | upper | default('none') }}` gives "none"), and
    (2) a list or iterator it returns (`list`, `map`, `sort`, `reverse`, `dictsort`…) becomes `Items`,
    which prints as text, never as Python (`[{'title': …}]`, `<generator object …>`).

    The wrapper keeps the filter's `pass_context`-style marker, so Jinja still hands it what it asks for.
    """
    passes = _PassArg.from_obj(apply)
    keep_missing = name not in TESTING_FILTERS
    on_text = name in TEXT_FILTERS

    def finish(value: Any, result: Any) -> Any:
        if isinstance(result, Items) or isinstance(result, str) or not isinstance(result, (list, tuple, Iterator)):
            return result
        return Items(_counted(result), getattr(value, "path", None))

    if passes is None:
        def wrapped(value: Any, *args: Any, **kwargs: Any) -> Any:
            if keep_missing and isinstance(value, MissingValue):
                return value.then(lambda text: apply(text, *args, **kwargs)) if on_text else value
            return finish(value, apply(value, *args, **kwargs))
    else:
        def wrapped(first: Any, value: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            if keep_missing and isinstance(value, MissingValue):
                return value.then(lambda text: apply(first, text, *args, **kwargs)) if on_text else value
            return finish(value, apply(first, value, *args, **kwargs))
        wrapped.jinja_pass_arg = passes  # type: ignore[attr-defined]
    wrapped.__name__ = getattr(apply, "__name__", name)
    wrapped.__doc__ = apply.__doc__
    return wrapped


def _counted(values: Iterable[Any]) -> list[Any]:
    """`list(values)`, one render-budget step per item: a lazy filter (`map`, `slice`, `select`) does
    its work here, and a huge one must end like a loop."""
    found = []
    for value in values:
        step()
        found.append(value)
    return found


def to_string(value: Any) -> Any:
    """`| string`: text as Jinja gives it, but a list or record as it prints (`Mug, Tea`), never its repr."""
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return display_text(value, None)
    return soft_str(value)


class Record(dict):
    """A mapping from the data (contact, event), knowing where it sits (`event.cart`), so a missing
    field is reported by its whole path. `str()` gives its display text, never a dict repr, so
    `{{ 'x' ~ event.item }}` and `| string` print what `{{ }}` prints."""

    __slots__ = ("path",)

    def __init__(self, values: dict[Any, Any], path: str) -> None:
        super().__init__(values)
        self.path = path

    def __str__(self) -> str:
        return display_text(self, None)


class Items(list):
    """A list from the data: `str()` joins its items' display texts with ", "."""

    __slots__ = ("path",)

    def __init__(self, values: list[Any], path: str | None) -> None:
        super().__init__(values)
        self.path = path

    def __str__(self) -> str:
        return display_text(self, None)


def template_data(value: Any, path: str) -> Any:
    """`value` (JSON-like data found at `path`, e.g. "event") with its dicts as `Record` and lists as
    `Items`, recursively."""
    # Built once per message for its fields: only containers are rebuilt, scalars are shared.
    if isinstance(value, dict):
        return Record({k: template_data(v, f"{path}.{k}") if isinstance(v, (dict, list)) else v
                       for k, v in value.items()}, path)
    if isinstance(value, list):
        return Items([template_data(v, f"{path}[{i}]") if isinstance(v, (dict, list)) else v
                      for i, v in enumerate(value)], path)
    return value


def missing_name(obj: Any, key: Any) -> str:
    """How a missing `obj.key` / `obj[key]` is reported: its whole path when `obj` came from the data."""
    path = obj.path if isinstance(obj, (Record, Items)) else None
    if path is None:
        return key if isinstance(key, str) else f"[{key!r}]"
    return f"{path}.{key}" if isinstance(key, str) else f"{path}[{key!r}]"


@pass_context
def join(context: Context, value: Any, d: str = "", attribute: str | int | None = None) -> Any:
    """`| join(", ")` as in Jinja, but each item shows its display text (a record its title) and
    missing items (null, blank) are left out."""
    if isinstance(value, Undefined):
        return value if isinstance(value, MissingValue) else ""     # still missing: reported if printed
    if attribute is not None:
        value = map(make_attrgetter(context.environment, attribute), value)
    shown = [v if isinstance(v, str) else display_text(v, context)
             for v in value if not is_blank(v) and not isinstance(v, Undefined) and not _nameless(v)]
    check_join(shown, d if isinstance(d, str) else "")
    return do_join(context.eval_ctx, shown, d)


def _nameless(value: Any) -> bool:
    """A record that has a title/name/label field, but blank or null: printed, its name is missing."""
    return isinstance(value, Mapping) and any(k in value for k in RECORD_NAMES) and all(
        is_blank(value.get(k)) for k in RECORD_NAMES)


def _record_text(value: Mapping[Any, Any], context: Context | None) -> str:
    for key in RECORD_NAMES:
        shown = value.get(key)
        if not is_blank(shown):
            return display_text(shown, context)
    if _nameless(value):
        key = next(k for k in RECORD_NAMES if k in value)
        return note_missing(missing_name(value, key))
    keys = sorted(str(k) for k in value)
    listed = ", ".join(keys[:6]) + ("…" if len(keys) > 6 else "") or "none"
    fail(f"a record cannot be printed whole (its fields: {listed}); print one of its fields, "
         f"e.g. .{keys[0] if keys else 'name'}, or loop over a list of records")


def display_text(value: Any, context: Context | None) -> str:
    """The text a printed value shows (see the module docstring). Missing values are reported."""
    if isinstance(value, str):
        return value
    if value is None:
        return note_missing(NULL_NAME)
    if isinstance(value, Undefined):
        return str(value)
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        return format_number(value, context)
    if isinstance(value, (datetime, date)):
        return format_datetime_value(value, context)
    if isinstance(value, Mapping):
        return _record_text(value, context)
    if isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):     # lists, sets, dict views…
        # Like null items, a record whose title is blank is left out of a printed list.
        shown, total = [], 0
        for item in value:
            step()          # a list nested by doubling has few items but many paths: count them
            if is_blank(item) or isinstance(item, Undefined) or _nameless(item):
                continue
            text = display_text(item, context)
            total += len(text) + 2
            if total > MAX_TEXT:        # a list of long texts, or one nested by doubling: never built whole
                raise TemplateLimitError(f"the list is longer than {MAX_TEXT:,} characters when printed")
            if text:
                shown.append(text)
        return ", ".join(shown)
    return str(value)


@pass_context
def finalize(context: Context, value: Any) -> Any:
    """The environment's `finalize`: every `{{ … }}` output passes through here before escaping."""
    if value.__class__ is str:
        return value
    return display_text(value, context)
