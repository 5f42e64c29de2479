"""Message templates: the Jinja2 sandbox they run in and what variables they may use.

Templates are user input, so they are always parsed in a `SandboxedEnvironment`.
Parsing is cached by source text: live validation re-checks a journey after every
edit, and re-parsing unchanged templates each time would dominate its cost.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from .schema import Config

# The names a template can start from. `contact` holds the fields below plus custom
# attributes; `event` holds the trigger event's properties; `journey` its name.
ROOTS = ("contact", "event", "journey")
CONTACT_FIELDS = frozenset({
    "id", "email", "phone", "first_name", "last_name", "timezone", "tags",
    "lifetime_spend", "order_count", "last_order_at",
})
JOURNEY_FIELDS = frozenset({"name", "description"})


class TemplateEnvironment(SandboxedEnvironment):
    """The sandbox, with one change: on a mapping, a key wins over a method of the same
    name, so `event.items` is the cart's items, not `dict.items`."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)


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


def make_environment() -> TemplateEnvironment:
    """The one template environment: validation, preview and the engine all use it."""
    return TemplateEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)


_ENV = make_environment()


@dataclass(frozen=True)
class TemplateInfo:
    """What parsing found: a syntax error, or the variables the template reads."""

    error: str | None = None
    error_line: int | None = None
    roots: frozenset[str] = frozenset()                 # top-level names read
    attributes: frozenset[tuple[str, str]] = frozenset()  # (root, first attribute) pairs


@lru_cache(maxsize=8192)
def inspect_template(source: str) -> TemplateInfo:
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return TemplateInfo(error=exc.message or "syntax error", error_line=exc.lineno)
    roots = frozenset(meta.find_undeclared_variables(tree))
    attributes: set[tuple[str, str]] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        root_attr = _root_attribute(node)
        if root_attr and root_attr[0] in roots:
            attributes.add(root_attr)
    return TemplateInfo(roots=roots, attributes=frozenset(attributes))


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
