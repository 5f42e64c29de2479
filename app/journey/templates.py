"""Message templates: the Jinja2 sandbox they run in and what variables they may use.

Templates are user input, so they are always parsed in an `ImmutableSandboxedEnvironment`.
Parsing is cached by source text: live validation re-checks a journey after every
edit, and re-parsing unchanged templates each time would dominate its cost.

Two environments, identical but for escaping: the HTML body's escapes every
printed value (contact data never becomes markup), the subject, plain-text body
and SMS/WhatsApp text are not HTML and are not escaped. Filters that would turn
data into markup (`safe`, `urlize`, `xmlattr`, `tojson`) are not available, and
`{% autoescape %}` is refused: a shop's own markup is written in the template.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from functools import lru_cache, wraps
from typing import Any, Mapping

from jinja2 import TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import do_format
from jinja2.utils import _PassArg
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .schema import Config
from .template_filters import FILTERS
from .template_values import (Items, MissingValue, default, finalize, is_blank, join, missing_aware, missing_name,
                              through_missing, to_string)

# The names a template can start from. `contact` holds the fields below plus custom
# attributes; `event` holds the trigger event's properties; `journey` its name.
ROOTS = ("contact", "event", "journey")
CONTACT_FIELDS = frozenset({
    "id", "email", "phone", "first_name", "last_name", "timezone", "tags",
    "lifetime_spend", "order_count", "last_order_at",
})
JOURNEY_FIELDS = frozenset({"name", "description"})


# Filters that turn a value into markup: refused, so contact and event data can never become HTML.
REFUSED_FILTERS = {
    "safe": "values are always escaped in the HTML body; write your own markup in the template, outside {{ }}",
    "urlize": "it would turn text from the data into live links; write the link in the template: "
              "<a href=\"{{ event.url }}\">…</a>",
    "xmlattr": "attributes made from data could add event handlers; write the attribute in the template",
    "tojson": "messages do not carry JSON; print the fields you need",
    "pprint": "it prints Python's own notation ([{'title': …}]); print the fields you need, or join a list",
}


MAX_EXPONENT = 64           # 2**64 has 20 digits: any price or count a message needs
MAX_REPEAT = 100_000        # characters (or items) `'=' * n`, `center(n)`, `'%5s' % x`… may make
_HUGE_FORMAT = re.compile(r"%[-+ #0]*(\*|\d{6,})|%[-+ #0]*\d*\.(\*|\d{6,})")
_HUGE_BRACES = re.compile(r"\{[^{}]*:[^{}]*(\d{6,}|\{)")
# Filters whose whole-number arguments are lengths or counts (`center(10**9)` builds a gigabyte).
_SIZED_FILTERS = frozenset({"center", "indent", "batch", "slice", "truncate", "wordwrap", "format"})


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with two changes.

    - On a mapping, `.name` reads the key only, so `event.items` is the cart's items (not
      `dict.items`) and a mapping without that key gives a missing value (not a method).
    - A null or blank value read by `.name` or `[key]` is missing (`MissingValue`), at any depth.
    """

    # `**` and `*` run through `call_binop`, which bounds them; Jinja also stops folding intercepted
    # operators while compiling, so `{{ 9**(9**9) }}` no longer hangs validation or the engine.
    intercepted_binops = frozenset({"**", "*", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """`a ** b` and `a * b`, refused (a template error) when the result would be huge."""
        if operator == "**" and _number(left) and _number(right) and abs(left) > 1 and right > MAX_EXPONENT:
            raise SecurityError(f"{left} ** {right} is too large a number for a message")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and _number(times) and len(seq) * times > MAX_REPEAT:
                    raise SecurityError(f"repeating a value {times} times makes too long a text for a message")
        if operator == "%" and isinstance(left, str) and _HUGE_FORMAT.search(left):
            raise SecurityError("a width or precision of 100000 or more makes too long a text for a message")
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        """`'{:>9}'.format(x)` as the sandbox runs it, refusing a width or precision of MAX_REPEAT or more."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = getattr(value, "__self__", "")

        def checked(*args: Any, **kwargs: Any) -> Any:
            if isinstance(text, str) and _HUGE_BRACES.search(text):
                raise SecurityError("a width or precision of 100000 or more makes too long a text for a message")
            return wrapped(*args, **kwargs)
        return checked

    def _absent(self, obj: Any, name: Any) -> Any:
        # `contact.__class__` is a probe, not a missing field: refuse it like the sandbox does elsewhere.
        if isinstance(name, str) and name.startswith("_"):
            return self.unsafe_undefined(obj, name)
        return self.undefined(obj=obj, name=missing_name(obj, name))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, (dict, Mapping)):
            try:
                value = obj[attribute]
            except (KeyError, TypeError):
                return self._absent(obj, attribute)
        else:
            value = super().getattr(obj, attribute)
        return self.undefined(obj=obj, name=missing_name(obj, attribute)) if is_blank(value) else value

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, (dict, Mapping)):
            try:
                value = obj[argument]
            except (KeyError, TypeError):
                return self._absent(obj, argument)
        else:
            value = super().getitem(obj, argument)
            if isinstance(value, MissingValue) and isinstance(obj, Items) and not isinstance(argument, str):
                # Past the end of a list (`event.items[0]` of an empty cart): named by its path.
                return self.undefined(obj=obj, name=missing_name(obj, argument))
        return self.undefined(obj=obj, name=missing_name(obj, argument)) if is_blank(value) else value


@dataclass(frozen=True)
class VariableCatalog:
    """Names seen in the store. None means "not known here": such names are not checked."""

    contact_attributes: frozenset[str] | None = None
    event_properties: Mapping[str, frozenset[str]] | None = None


def trigger_event_properties(trigger: Config | None, catalog: VariableCatalog) -> tuple[str, frozenset[str]] | None:
    """For an event trigger: its event type and the properties its events are known to
    carry (seen in the store, or named in the trigger's own conditions)."""
    if trigger is None or trigger.get("mode") != "event":
        return None
    declared = {row["field"].split(".")[0] for row in trigger["conditions"] if row["source"] == "event"}
    seen = (catalog.event_properties or {}).get(trigger["event"], frozenset())
    return trigger["event"], frozenset(seen | declared)


def variable_names(trigger: Config | None, catalog: VariableCatalog | None) -> list[str]:
    """Every variable a message of this journey can use, for suggestions while typing."""
    catalog = catalog or VariableCatalog()
    contact = sorted(CONTACT_FIELDS | (catalog.contact_attributes or frozenset()))
    names = [f"contact.{n}" for n in contact] + [f"journey.{n}" for n in sorted(JOURNEY_FIELDS)]
    event = trigger_event_properties(trigger, catalog)
    if event:
        names += [f"event.{n}" for n in sorted(event[1])]
    return names


def _bounded(apply: Any) -> Any:
    """The filter `apply`, refusing (a template error) a whole-number argument of MAX_REPEAT or more."""
    skip = 2 if _PassArg.from_obj(apply) else 1          # the context (if asked for) and the value itself

    @wraps(apply)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (() if apply is do_format else (*args[skip:], *kwargs.values())):   # format: values, not sizes
            if _number(value) and abs(value) >= MAX_REPEAT:
                raise SecurityError(f"{value} is too large a size for a message")
        if apply is do_format and args and isinstance(args[0], str) and _HUGE_FORMAT.search(args[0]):
            raise SecurityError("a width or precision of 100000 or more makes too long a text for a message")
        return apply(*args, **kwargs)
    return bounded


def make_environment(html: bool = False) -> TemplateEnvironment:
    """The template environment validation, preview and the engine all use; `html=True` for the
    HTML body (every printed value escaped), False for subject, plain text, SMS and WhatsApp."""
    env = TemplateEnvironment(autoescape=html, trim_blocks=True, lstrip_blocks=True,
                              undefined=MissingValue, finalize=finalize)
    for name in REFUSED_FILTERS:
        env.filters.pop(name, None)
    env.filters["default"] = env.filters["d"] = default
    env.filters["join"] = join
    env.filters["string"] = to_string
    if not html:
        # Subject, plain text, SMS and WhatsApp are not HTML: `| e` copied from an HTML body must not put
        # `&amp;` into a text message.
        for name in ("e", "escape", "forceescape"):
            env.filters[name] = to_string
    for name in ("int", "float"):
        env.filters[name] = missing_aware(env.filters[name])
    env.filters.update(FILTERS)
    # `null` is missing, so `{% if event.coupon is none %}` must hold for it (and for an absent value).
    env.tests["none"] = lambda value: value is None or (isinstance(value, MissingValue) and not value._strict())
    for name, apply in list(env.filters.items()):
        env.filters[name] = through_missing(name, _bounded(apply) if name in _SIZED_FILTERS else apply)
    return env


_ENV = make_environment()
FILTER_NAMES = frozenset(_ENV.filters)
TEST_NAMES = frozenset(_ENV.tests)


@dataclass(frozen=True)
class TemplateProblem:
    """Something in a template that parses but cannot run: what, on which line, and what to do."""

    message: str
    line: int
    hint: str


@dataclass(frozen=True)
class TemplateInfo:
    """What parsing found: a syntax error, or the variables the template reads and its problems."""

    error: str | None = None
    error_line: int | None = None
    roots: frozenset[str] = frozenset()                 # top-level names read
    attributes: frozenset[tuple[str, str]] = frozenset()  # (root, first attribute) pairs
    problems: tuple[TemplateProblem, ...] = ()


def template_problems(tree: nodes.Template) -> list[TemplateProblem]:
    """Unknown or refused filters and tests, `{% autoescape %}`, and a whole root record printed
    (`{{ contact }}`): each would fail (or be unsafe) when the message is rendered."""
    found: list[TemplateProblem] = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        name, line = node.name, node.lineno
        if isinstance(node, nodes.Test):
            if name not in TEST_NAMES:
                found.append(TemplateProblem(f"unknown test '{name}'", line, "Known tests: " + ", ".join(
                    ("defined", "undefined", "number", "string", "divisibleby", "in"))))
        elif name in REFUSED_FILTERS:
            found.append(TemplateProblem(f"the filter '{name}' is not available", line,
                                         f"Not available because {REFUSED_FILTERS[name]}."))
        elif name not in FILTER_NAMES:
            close = get_close_matches(name, sorted(FILTER_NAMES), n=1)
            hint = f"Did you mean '{close[0]}'?" if close else "Shop filters: money, date, datetime, time, default."
            found.append(TemplateProblem(f"unknown filter '{name}'", line, hint))
    for modifier in tree.find_all((nodes.EvalContextModifier, nodes.ScopedEvalContextModifier)):
        found.append(TemplateProblem("{% autoescape %} is not available", modifier.lineno,
                                     "Values are escaped in the HTML body and nowhere else; "
                                     "remove the {% autoescape %} tags."))
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.Name) and child.name in ("contact", "event"):
                found.append(TemplateProblem(f"{{{{ {child.name} }}}} prints a whole record", child.lineno,
                                             f"Print one of its fields, e.g. {{{{ {child.name}."
                                             f"{'first_name' if child.name == 'contact' else 'total'} }}}}."))
    return found


@lru_cache(maxsize=8192)
def inspect_template(source: str) -> TemplateInfo:
    """What `source` reads and what is wrong with it (a syntax error, problems); never raises."""
    try:
        return _inspect(source)
    except RecursionError:      # Jinja's parser and its tree walks recurse once per level of nesting
        return TemplateInfo(error="the template is nested too deeply (parentheses, brackets or tags inside "
                                  "each other); simplify it", error_line=_deepest_line(source))


def _deepest_line(source: str) -> int:
    """The line (from 1) on which brackets in `source` nest deepest: where a too-deep template goes wrong."""
    depth = deepest = 0
    line = found = 1
    for char in source:
        if char == "\n":
            line += 1
        elif char in "([{":
            depth += 1
            if depth > deepest:
                deepest, found = depth, line
        elif char in ")]}":
            depth -= 1
    return found


def _inspect(source: str) -> TemplateInfo:
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return TemplateInfo(error=exc.message or "syntax error", error_line=exc.lineno)
    problems = tuple(template_problems(tree))
    try:
        roots = frozenset(meta.find_undeclared_variables(tree))
    except TemplateError:       # Jinja's analysis stops at an unknown filter or test: already a problem above
        stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx != "load"} | {"loop"}
        roots = frozenset(n.name for n in tree.find_all(nodes.Name) if n.ctx == "load" and n.name not in stored)
    attributes: set[tuple[str, str]] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        root_attr = _root_attribute(node)
        if root_attr and root_attr[0] in roots:
            attributes.add(root_attr)
    return TemplateInfo(roots=roots, attributes=frozenset(attributes), problems=problems)


def _root_attribute(node: nodes.Node) -> tuple[str, str] | None:
    """For `contact.address.city` gives ("contact", "address"): the first step from a root."""
    inner = node.node  # type: ignore[attr-defined]
    if not isinstance(inner, nodes.Name):
        return None
    if isinstance(node, nodes.Getattr):
        return inner.name, node.attr
    arg = node.arg  # type: ignore[attr-defined]
    if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
        return inner.name, arg.value
    return None
