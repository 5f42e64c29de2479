"""What the template editor suggests after `{{`: the variables of a journey's messages, and inside a
`{% for item in event.items %}` loop the loop variable's fields (`item.name`, `item.price`…).

No Qt here: app/ui/template_edit.py asks `VariableSuggestions.at(text before the cursor)`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from jinja2 import TemplateSyntaxError, nodes

from .event_properties import property_descriptions, record_fields, trigger_event_type
from .templates import make_environment

CONTACT_DESCRIPTIONS = {
    "contact.first_name": "the contact's first name", "contact.last_name": "the contact's last name",
    "contact.email": "the contact's email address", "contact.phone": "the contact's phone number",
    "contact.timezone": "the contact's time zone", "contact.tags": "the contact's tags, a list",
    "contact.lifetime_spend": "all the contact's orders together, a number (| money)",
    "contact.order_count": "how many orders the contact placed", "contact.last_order_at": "when they last ordered",
    "contact.id": "the contact's id in your shop", "journey.name": "this journey's name",
    "journey.description": "this journey's description",
    "unsubscribe_url": "this message's unsubscribe link",
}
_ENVIRONMENT = make_environment()     # for parsing only (validation's loop-field check)
LOOP_FIELDS = {"loop.index": "1 for the first turn of the loop, 2 for the next…",
               "loop.first": "true in the first turn", "loop.last": "true in the last turn"}

# `{% for item in event.items %}`, `{%- for i, item in event.items | default([]) -%}`, `{% endfor %}`.
_LOOP_TAG = re.compile(r"\{%-?\s*(?:for\s+(?:\w+\s*,\s*)?(\w+)\s+in\s+([\w.]+)[^%]*|(endfor)\b[^%]*)-?%\}")


@dataclass(frozen=True)
class VariableSuggestions:
    """The names offered after `{{` (`names`, in order) and, per list of records, the fields of one
    record (`items`: "event.items" → ("name", "price", …)); `descriptions` for tooltips."""

    names: tuple[str, ...] = ()
    items: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def at(self, before: str) -> list[tuple[str, str]]:
        """(name, what it holds) of the suggestions at a cursor with `before` the text before it: the
        fields of the variable of each loop still open there (innermost first, e.g. `item.name`,
        `item.price`, then `loop.index`…), then `names`."""
        loops = open_loops(before)
        found: dict[str, str] = {}
        for variable, iterable in reversed(loops):
            for name in self.items.get(iterable, ()):
                found.setdefault(f"{variable}.{name}", self.descriptions.get(f"{iterable}[].{name}", ""))
        if loops:
            found.update((name, LOOP_FIELDS[name]) for name in LOOP_FIELDS)
        for name in self.names:
            found.setdefault(name, self.descriptions.get(name, ""))
        return list(found.items())


def open_loops(before: str) -> list[tuple[str, str]]:
    """(loop variable, iterable) of every `{% for %}` still open at the end of `before`, outermost first."""
    stack: list[tuple[str, str]] = []
    for match in _LOOP_TAG.finditer(before):
        if match.group(3):
            if stack:
                stack.pop()
        else:
            stack.append((match.group(1), match.group(2)))
    return stack


def suggestions(names: list[str], trigger: Mapping[str, Any] | None) -> VariableSuggestions:
    """`names` (app/journey/templates.variable_names) with the loop fields and descriptions of the
    events `trigger` starts from."""
    event_type = trigger_event_type(trigger)
    items = {path: tuple(f.name for f in fields) for path, fields in record_fields(event_type).items()}
    descriptions = dict(CONTACT_DESCRIPTIONS)
    descriptions.update(property_descriptions(event_type))
    for path, fields in record_fields(event_type).items():
        descriptions.update((f"{path}[].{f.name}", f.description) for f in fields)
    return VariableSuggestions(tuple(names), items, descriptions)


@dataclass(frozen=True)
class LoopFieldRead:
    """`{{ item.nmae }}` inside `{% for item in event.items %}`: the list (`event.items`), the loop
    variable (`item`), the field read (`nmae`) and its line (from 1)."""

    iterable: str
    variable: str
    name: str
    line: int


@lru_cache(maxsize=4096)
def loop_field_reads(source: str) -> tuple[LoopFieldRead, ...]:
    """The fields read from the variable of each `{% for x in event.… %}` loop of `source` (`x.name`,
    `x['name']`); () when it does not parse (validation reports that elsewhere)."""
    try:
        tree = _ENVIRONMENT.parse(source)
    except (TemplateSyntaxError, RecursionError):
        return ()
    found: list[LoopFieldRead] = []
    for loop in tree.find_all(nodes.For):
        iterable = loop.iter
        while isinstance(iterable, nodes.Filter) and iterable.node is not None:      # event.items | default([])
            iterable = iterable.node
        if not (isinstance(loop.target, nodes.Name) and isinstance(iterable, nodes.Getattr)
                and isinstance(iterable.node, nodes.Name) and iterable.node.name == "event"):
            continue
        path, variable = f"event.{iterable.attr}", loop.target.name
        for body in loop.body:
            for read in body.find_all((nodes.Getattr, nodes.Getitem)):
                if not (isinstance(read, (nodes.Getattr, nodes.Getitem)) and isinstance(read.node, nodes.Name)
                        and read.node.name == variable):
                    continue
                if isinstance(read, nodes.Getattr):
                    found.append(LoopFieldRead(path, variable, read.attr, read.lineno))
                elif isinstance(read.arg, nodes.Const) and isinstance(read.arg.value, str):
                    found.append(LoopFieldRead(path, variable, read.arg.value, read.lineno))
    return tuple(found)

