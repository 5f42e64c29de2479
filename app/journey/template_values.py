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
from typing import Any, Iterator, Mapping, NoReturn

from jinja2 import Undefined, pass_context
from jinja2.exceptions import TemplateRuntimeError, UndefinedError
from jinja2.filters import do_join, make_attrgetter
from jinja2.runtime import Context
from markupsafe import Markup

from .template_filters import format_datetime_value, format_number

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

    def __init__(self, values: list[Any], path: str) -> None:
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
        return value.report() if isinstance(value, MissingValue) else ""
    if attribute is not None:
        value = map(make_attrgetter(context.environment, attribute), value)
    shown = [v if isinstance(v, str) else display_text(v, context)
             for v in value if not is_blank(v) and not isinstance(v, Undefined)]
    return do_join(context.eval_ctx, shown, d)


def _record_text(value: Mapping[Any, Any], context: Context | None) -> str:
    for key in RECORD_NAMES:
        shown = value.get(key)
        if not is_blank(shown):
            return display_text(shown, context)
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
    if isinstance(value, (list, tuple, set, frozenset)):
        shown = (display_text(v, context) for v in value
                 if not is_blank(v) and not isinstance(v, Undefined))
        return ", ".join(t for t in shown if t)
    return str(value)


@pass_context
def finalize(context: Context, value: Any) -> Any:
    """The environment's `finalize`: every `{{ … }}` output passes through here before escaping."""
    if value.__class__ is str:
        return value
    return display_text(value, context)
