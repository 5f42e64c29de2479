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

from dataclasses import dataclass
from difflib import get_close_matches
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.runtime import LoopContext, Macro, Namespace
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup, soft_str

from .event_properties import declared, trigger_event_type
from .schema import Config
from .template_compile import BoundedCodeGenerator, compile_template, nesting_error, parse_template, template_line
from .template_filters import FILTERS
from .template_limits import (MAX_SECONDS, MAX_TEXT, TemplateLimitError, bounded_concat, budget, check_binop,
                              check_braces, check_lipsum, check_method, limited_filter, loop_items, measure,
                              refuse_if_large, step)
from .template_values import (Items, MissingValue, default, finalize, is_blank, join, missing_aware, missing_name,
                              template_data, through_missing, to_string)

# The names a template can start from. `contact` holds the fields below plus custom
# attributes; `event` holds the trigger event's properties; `journey` its name.
ROOTS = ("contact", "event", "journey")
CONTACT_FIELDS = frozenset({
    "id", "email", "phone", "first_name", "last_name", "timezone", "tags",
    "lifetime_spend", "order_count", "last_order_at",
})
JOURNEY_FIELDS = frozenset({"name", "description"})
# Names of the message itself (not of a record): `unsubscribe_url` is the link that unsubscribes this
# contact from this message's channel (app/delivery/unsubscribe.py), an HTTPS link when a public URL
# is set, else a mailto: link to the unsubscribe address ("" when neither is set).
MESSAGE_VARIABLES = ("unsubscribe_url",)


# Filters that turn a value into markup: refused, so contact and event data can never become HTML.
REFUSED_FILTERS = {
    "safe": "values are always escaped in the HTML body; write your own markup in the template, outside {{ }}",
    "urlize": "it would turn text from the data into live links; write the link in the template: "
              "<a href=\"{{ event.url }}\">…</a>",
    "xmlattr": "attributes made from data could add event handlers; write the attribute in the template",
    "tojson": "messages do not carry JSON; print the fields you need",
    "pprint": "it prints Python's own notation ([{'title': …}]); print the fields you need, or join a list",
}


class BoundedNamespace(Namespace):
    """`namespace()`: the one place a value outlives a loop turn, so the one place a value doubled turn
    after turn (`{% set ns.l = [ns.l, ns.l] %}`) is measured and refused before it grows huge."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, refuse_if_large(value, f"the value of '{name}'"))


class BudgetedTemplate(Template):
    """A compiled template whose `render` runs under a render budget, whoever calls it."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        with budget():
            return super().render(*args, **kwargs)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    check_lipsum(n, html, min, max)
    return generate_lorem_ipsum(n, html, min, max)


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with these changes.

    - On a mapping, `.name` reads the key only, so `event.items` is the cart's items (not
      `dict.items`) and a mapping without that key gives a missing value (not a method).
    - A null or blank value read by `.name` or `[key]` is missing (`MissingValue`), at any depth.
    - Resources are bounded (app/journey/template_limits.py): every operator, call, filter,
      attribute read and loop turn is a step of the render budget, and values that would grow
      past a message's size are refused, before they are built where that can be known.
    - Attributes of classes (`dict.update`) are refused: called on the data, they would change
      what the next field or message sees.
    """

    # Every operator runs through `call_binop`, which bounds it; Jinja also stops folding intercepted
    # operators while compiling, so `{{ 9**(9**9) }}` no longer hangs validation or the engine.
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    code_generator_class = BoundedCodeGenerator
    template_class = BudgetedTemplate
    concat = staticmethod(bounded_concat)
    loop_items = staticmethod(loop_items)

    def parse(self, source: str, name: str | None = None, filename: str | None = None) -> nodes.Template:
        try:        # 5,000 parentheses overflow Jinja's recursive parser: a syntax error, not a crash
            return super().parse(source, name, filename)
        except RecursionError:
            raise nesting_error(None) from None

    def compile(self, source: Any, name: str | None = None, filename: str | None = None,
                raw: bool = False, defer_init: bool = False) -> Any:
        try:        # Python's compiler refuses deep nesting with SyntaxError (or recurses too deep)
            return super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]
        except (RecursionError, SyntaxError) as exc:
            if isinstance(exc, TemplateSyntaxError):
                raise
            raise nesting_error(None) from None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """`a ** b`, `a * b`, `a % b`, `a + b`…, refused (a template error) when the result would be huge."""
        step()
        check_binop(operator, left, right)
        return refuse_if_large(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A call from the template (a method, a macro, `loop(...)`, a global): one step, its
        arguments checked for a result that would be too large, its result measured."""
        step()
        if isinstance(__obj, LoopContext) and args:      # `loop(children)` of a recursive loop
            args = (loop_items(args[0]), *args[1:])
        if isinstance(__obj, (Macro, LoopContext)):      # recursion may double its arguments at each call
            refuse_if_large((args, kwargs), "the arguments")
        args = check_method(__obj, args, kwargs)
        return refuse_if_large(super().call(__context, __obj, *args, **kwargs))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, type):       # `dict.update(event, …)` would change the data in place
            return False
        return super().is_safe_attribute(obj, attr, value)

    def join_texts(self, values: tuple[Any, ...], markup: bool) -> str:
        """`a ~ b`: joins the texts of `values`, refusing a result over the limit before building it."""
        parts: list[str] = []
        total = 0
        for value in values:
            if not isinstance(value, str) and measure(value, MAX_TEXT) > MAX_TEXT:
                raise TemplateLimitError("the value is too long to print in a message")
            text = value if isinstance(value, str) else soft_str(value)
            total += len(text)
            if total > MAX_TEXT:
                raise TemplateLimitError(f"the text is longer than {MAX_TEXT:,} characters")
            parts.append(text)
        if markup and any(hasattr(p, "__html__") for p in parts):
            return refuse_if_large(Markup("").join(parts))
        return refuse_if_large("".join(parts))

    def wrap_str_format(self, value: Any) -> Any:
        """`'{:>9}'.format(x)` as the sandbox runs it, refusing a width or precision of MAX_TEXT or more."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = getattr(value, "__self__", "")

        def checked(*args: Any, **kwargs: Any) -> Any:
            if isinstance(text, str):
                check_braces(text, args, kwargs)
            return wrapped(*args, **kwargs)
        return checked

    def _absent(self, obj: Any, name: Any) -> Any:
        # `contact.__class__` is a probe, not a missing field: refuse it like the sandbox does elsewhere.
        if isinstance(name, str) and name.startswith("_"):
            return self.unsafe_undefined(obj, name)
        return self.undefined(obj=obj, name=missing_name(obj, name))

    def getattr(self, obj: Any, attribute: str) -> Any:
        step()
        if isinstance(obj, (dict, Mapping)):
            try:
                value = obj[attribute]
            except (KeyError, TypeError):
                return self._absent(obj, attribute)
        else:
            value = super().getattr(obj, attribute)
        return self.undefined(obj=obj, name=missing_name(obj, attribute)) if is_blank(value) else value

    def getitem(self, obj: Any, argument: Any) -> Any:
        step()
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
    """The event type a journey's messages read as `event` (app/journey/event_properties.py: the
    trigger's event, or the order of a spend trigger) and the properties its events are known to
    carry: declared for that type, seen in the store, or named in the trigger's own conditions.
    None when the trigger gives its messages no event (time-based, manual, no trigger)."""
    event_type = trigger_event_type(trigger)
    if trigger is None or event_type is None:
        return None
    names = {p.name for p in declared(event_type) or ()}
    if trigger.get("mode") == "event":
        names |= {row["field"].split(".")[0] for row in trigger["conditions"] if row["source"] == "event"}
    seen = (catalog.event_properties or {}).get(event_type, frozenset())
    return event_type, frozenset(seen | names)


def variable_names(trigger: Config | None, catalog: VariableCatalog | None) -> list[str]:
    """Every variable a message of this journey can use, for suggestions while typing: first the
    properties of the trigger's event (declared, so a fresh install offers them too, and seen in the
    store; a record's fields spelt out: `event.product.name`), then the contact's fields, the
    journey's and `unsubscribe_url`."""
    catalog = catalog or VariableCatalog()
    names: list[str] = []
    event = trigger_event_properties(trigger, catalog)
    if event:       # first: what this journey's trigger brings is what its messages are about
        records = {p.name: p for p in declared(event[0]) or () if p.fields and not p.is_list}
        for name in sorted(event[1]):
            names.append(f"event.{name}")
            if name in records:
                names += [f"event.{name}.{f.name}" for f in records[name].fields]
    contact = sorted(CONTACT_FIELDS | (catalog.contact_attributes or frozenset()))
    names += [f"contact.{n}" for n in contact] + [f"journey.{n}" for n in sorted(JOURNEY_FIELDS)]
    return names + list(MESSAGE_VARIABLES)


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
        env.filters[name] = limited_filter(name, through_missing(name, apply))
    env.globals["lipsum"] = _lipsum
    env.globals["namespace"] = BoundedNamespace
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
    """What `source` reads and what is wrong with it. Never raises, and finishes within the render
    budget: besides parsing, it compiles the template and renders it once with no data, under the
    engine's limits, so a template that is too large or runs too long whatever the data is reported
    here (`{{ 9**(9**9) }}`, `{% for i in range(100000) %}…`), not when the journey runs."""
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
        tree = parse_template(_ENV, source)
    except TemplateSyntaxError as exc:
        return TemplateInfo(error=exc.message or "syntax error", error_line=exc.lineno)
    problems = tuple(template_problems(tree))
    if not problems:
        try:
            problems = tuple(_trial_render(source))
        except TemplateSyntaxError as exc:      # nested too deeply for Python's compiler
            return TemplateInfo(error=exc.message or "syntax error", error_line=exc.lineno)
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


LIMIT_HINT = (f"A message field may hold {MAX_TEXT:,} characters and take {MAX_SECONDS * 1000:.0f} ms to render; "
              "make the numbers, widths and loops in this template smaller.")


def _trial_render(source: str) -> list[TemplateProblem]:
    """Compiles `source` and renders it once with empty contact, event and journey, under the
    render budget: a limit it hits is a problem (other errors depend on the data: not judged here).
    Raises TemplateSyntaxError when it nests too deeply to compile."""
    template: Template | None = None
    try:
        template = compile_template(_ENV, parse_template(_ENV, source))
        data: dict[str, Any] = {root: template_data({}, root) for root in ROOTS}
        data.update((name, "") for name in MESSAGE_VARIABLES)
        size = 0
        with budget():
            for part in template.root_render_func(template.new_context(data)):
                size += len(part)
                if size > MAX_TEXT:
                    raise TemplateLimitError(f"the text is longer than {MAX_TEXT:,} characters")
    except TemplateSyntaxError:
        raise
    except TemplateLimitError as exc:
        return [TemplateProblem(str(exc), template_line(template, exc.__traceback__) or 1, LIMIT_HINT)]
    except RecursionError:
        return [TemplateProblem("the template calls itself too deeply (a macro or a recursive loop)", 1,
                                "Make sure every recursive macro or loop stops after a few levels.")]
    except Exception:  # noqa: BLE001 - with no data many templates fail: the engine judges those per message
        return []
    return []


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
