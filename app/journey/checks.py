"""Usability checks on well-typed configs: required values, ranges, names.

Live validation runs these over every node after each edit, so each schema is
compiled once into a flat plan of only the fields that have something to check;
walking the declarations generically per node was the slowest part of validating
a 10,000-node journey.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .schema import (DATETIME, DURATION, EVENT, GROUP, INT, LIST, MULTILINE, NODE_REF, NUMBER, TAGS, TEMPLATE,
                     TEXT, TIMEZONE, WEEKDAYS, Config, Field)

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class FieldIssue:
    pointer: str          # JSON pointer relative to the config
    message: str
    hint: str = ""


def _required(f: Field, value: Any, path: str) -> FieldIssue | None:
    if f.required and (value is None or value == "" or value == []):
        return FieldIssue(path, f"{f.label} is empty", f"Fill in {f.label.lower()}.")
    return None


def _in_range(f: Field, value: Any, path: str) -> FieldIssue | None:
    if f.minimum is not None and value < f.minimum:
        return FieldIssue(path, f"{f.label} must be at least {f.minimum:g}", f"Enter {f.minimum:g} or more.")
    if f.maximum is not None and value > f.maximum:
        return FieldIssue(path, f"{f.label} must be at most {f.maximum:g}", f"Enter {f.maximum:g} or less.")
    return None


def _name(f: Field, value: Any, path: str) -> FieldIssue | None:
    if value and not _NAME_RE.match(value):
        return FieldIssue(path, f"{f.label} {value!r} is not a valid name",
                          "Use letters, digits, '_', '-' or '.', starting with a letter.")
    return None


def _tags(f: Field, value: Any, path: str) -> FieldIssue | None:
    if any(not t.strip() for t in value):
        return FieldIssue(path, f"{f.label} contains an empty tag", "Remove the empty tag.")
    return None


_Rule = Callable[[Field, Any, str], FieldIssue | None]
_RULES: dict[str, tuple[_Rule, ...]] = {
    TEXT: (_required,), MULTILINE: (_required,), TEMPLATE: (_required,),
    EVENT: (_required, _name), NODE_REF: (_required,), TIMEZONE: (_required,),
    DATETIME: (_required,), WEEKDAYS: (_required,), LIST: (_required,),
    TAGS: (_required, _tags), INT: (_in_range,), NUMBER: (_in_range,),
}


@dataclass(frozen=True)
class _Step:
    field: Field
    visible: tuple[tuple[str, tuple[Any, ...]], ...]
    rules: tuple[_Rule, ...]
    sub: tuple["_Step", ...] | None     # plan of a group or of each list item
    is_template: bool


_PLANS: dict[int, tuple[_Step, ...]] = {}


def _plan(schema: tuple[Field, ...]) -> tuple[_Step, ...]:
    plan = _PLANS.get(id(schema))
    if plan is None:
        plan = _PLANS[id(schema)] = tuple(_compile(schema))
    return plan


def _compile(schema: tuple[Field, ...]) -> list[_Step]:
    steps = []
    for f in schema:
        rules = tuple(r for r in _RULES.get(f.type, ()) if r is not _required or f.required)
        if f.type == INT or f.type == NUMBER:
            rules = rules if (f.minimum is not None or f.maximum is not None) else ()
        sub = tuple(_compile(f.fields)) if f.type in (GROUP, DURATION, LIST) else None
        if rules or sub or f.type == TEMPLATE:
            steps.append(_Step(f, tuple(f.visible_when.items()), rules, sub or None, f.type == TEMPLATE))
    return steps


def audit(schema: tuple[Field, ...], config: Config) -> tuple[list[FieldIssue], list[tuple[str, Field, str]]]:
    """The config's issues, and its non-empty templates as (pointer, field, source)."""
    issues: list[FieldIssue] = []
    templates: list[tuple[str, Field, str]] = []
    _run(_plan(schema), config, "", issues, templates)
    return issues, templates


def check(schema: tuple[Field, ...], config: Config) -> list[FieldIssue]:
    return audit(schema, config)[0]


def _run(plan: tuple[_Step, ...], config: Config, pointer: str, issues: list[FieldIssue],
         templates: list[tuple[str, Field, str]]) -> None:
    for step in plan:
        if step.visible and not all(config.get(k) in allowed for k, allowed in step.visible):
            continue
        f = step.field
        value = config.get(f.name)
        path = f"{pointer}/{f.name}"
        for rule in step.rules:
            issue = rule(f, value, path)
            if issue:
                issues.append(issue)
                break
        if step.is_template and value:
            templates.append((path, f, value))
        if step.sub:
            if f.type == LIST:
                for i, item in enumerate(value or ()):
                    _run(step.sub, item, f"{path}/{i}", issues, templates)
            elif isinstance(value, dict):
                _run(step.sub, value, path, issues, templates)
