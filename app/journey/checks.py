"""Usability checks on well-typed configs: required values, ranges, names.

Live validation runs these over every node after each edit, so each schema is
compiled once into a flat plan of only the fields that have something to check;
walking the declarations generically per node was the slowest part of validating
a 10,000-node journey.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from .event_names import event_name_problem, name_hint
from .schema import (CHOICE, DATETIME, DURATION, EVENT, GROUP, INT, LIST, MULTILINE, NODE_REF, NUMBER, TAGS,
                     TEMPLATE, TEXT, TIMEZONE, UNIT_MINUTES, WEEKDAYS, Config, Field, date_problem,
                     is_finite_number, longest_amount, parse_datetime, MAX_EVENT)


@dataclass(frozen=True)
class FieldIssue:
    pointer: str          # JSON pointer relative to the config
    message: str
    hint: str = ""
    severity: str = "error"   # "error" blocks activation; "warning" is worth a look


def _number(value: float) -> str:
    """1825, 0.01, 999,999,999,999.99: as a person writes the bound."""
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def _required(f: Field, value: Any, path: str, now: datetime) -> FieldIssue | None:
    if f.required and (value is None or value == "" or value == []):
        return FieldIssue(path, f"{f.label} is empty", f"Fill in {f.label.lower()}.")
    return None


def _range_text(f: Field) -> str:
    unit = f" {f.suffix}" if f.suffix else ""
    if f.minimum is not None and f.maximum is not None:
        return f"between {_number(f.minimum)} and {_number(f.maximum)}{unit}"
    if f.minimum is not None:
        return f"at least {_number(f.minimum)}{unit}"
    return f"at most {_number(f.maximum or 0)}{unit}"


def _in_range(f: Field, value: Any, path: str, now: datetime) -> FieldIssue | None:
    if not is_finite_number(value):     # loading refuses these; a value set in code may still be one
        return FieldIssue(path, f"{f.label} must be a finite number {_range_text(f)}", "Enter a number.")
    if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
        return FieldIssue(path, f"{f.label} must be {_range_text(f)}", f"Enter a number {_range_text(f)}.")
    return None


def _length(f: Field, value: Any, path: str, now: datetime) -> FieldIssue | None:
    limit = f.text_limit()
    if limit is not None and isinstance(value, str) and len(value) > limit:
        return FieldIssue(path, f"{f.label} is longer than {limit:,} characters ({len(value):,})",
                          f"Shorten it to {limit:,} characters or fewer.")
    return None


def _name(f: Field, value: Any, path: str, now: datetime) -> FieldIssue | None:
    # The imports' own rule (app/journey/event_names.py): a name no import stores never fires.
    problem = event_name_problem(value) if value and len(value) <= MAX_EVENT else None
    if problem:
        return FieldIssue(path, f"{f.label} {value!r} {problem}", name_hint(value))
    return None


def _tags(f: Field, value: Any, path: str, now: datetime) -> FieldIssue | None:
    if any(not t.strip() for t in value):
        return FieldIssue(path, f"{f.label} contains an empty tag", "Remove the empty tag.")
    return _tag_lengths(f, value, path, now)


def _tag_lengths(f: Field, value: Any, path: str, now: datetime) -> FieldIssue | None:
    limit = f.text_limit()
    for i, tag in enumerate(value):
        if limit is not None and len(tag) > limit:
            return FieldIssue(f"{path}/{i}", f"{f.label}: the tag {tag[:20]!r}… is longer than {limit} characters "
                              f"({len(tag)})", f"Shorten the tag to {limit} characters or fewer.")
    return None


def _duration(f: Field, value: Any, path: str, now: datetime) -> FieldIssue | None:
    """The whole length of a duration within the field's maximum, whatever its unit."""
    if f.maximum is None or not isinstance(value, dict) or value.get("unit") not in UNIT_MINUTES:
        return None
    amount, unit = value.get("amount"), value["unit"]
    if is_finite_number(amount) and amount * UNIT_MINUTES[unit] <= f.maximum:
        return None
    days = int(f.maximum) // UNIT_MINUTES["days"]
    span = f"{days // 365} years" if days % 365 == 0 else f"{days:,} days"
    longest = longest_amount(f, unit)
    return FieldIssue(f"{path}/amount", f"{f.label} must be at most {span}: {longest:,} {unit}",
                      f"Enter {longest:,} {unit} or fewer.")


def _date(f: Field, value: Any, path: str, now: datetime) -> FieldIssue | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        problem = date_problem(parse_datetime(value), now)
    except ValueError:                  # loading refuses these; a value set in code may still be one
        problem = "is not an ISO-8601 date and time with an offset"
    if problem is None:
        return None
    return FieldIssue(path, f"{f.label} {value} {problem}", "Choose a date within that range.")


_Rule = Callable[[Field, Any, str, datetime], FieldIssue | None]
_RULES: dict[str, tuple[_Rule, ...]] = {
    TEXT: (_required, _length), MULTILINE: (_required, _length), TEMPLATE: (_required, _length),
    EVENT: (_required, _length, _name), NODE_REF: (_required, _length), TIMEZONE: (_required, _length),
    DATETIME: (_required, _date), WEEKDAYS: (_required,), LIST: (_required,),
    TAGS: (_required, _tags), INT: (_in_range,), NUMBER: (_in_range,), DURATION: (_duration,),
    CHOICE: (), GROUP: (),
}


# A field hidden by its siblings (a trigger's threshold in event mode, a disabled cap's hours) is
# not used, but its value still enters the store and comes back the day it is shown: its bounds
# hold whatever the mode; only the rules about meaning (empty, name, date window) wait until shown.
_BOUNDS: frozenset[_Rule] = frozenset({_length, _in_range, _duration, _tag_lengths})


def _hidden_rules(f: Field) -> tuple[_Rule, ...]:
    rules = tuple(r for r in _RULES.get(f.type, ()) if r in _BOUNDS)
    return (_tag_lengths,) if f.type == TAGS else rules


@dataclass(frozen=True)
class _Step:
    field: Field
    visible: tuple[tuple[str, tuple[Any, ...]], ...]
    hidden: tuple[tuple[str, tuple[Any, ...]], ...]     # Field.hidden_when
    rules: tuple[_Rule, ...]
    hidden_rules: tuple[_Rule, ...]     # the bounds, checked while the field is hidden
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
        sub = tuple(_compile(f.fields)) if f.type in (GROUP, DURATION, LIST) else None
        if rules or sub or f.type == TEMPLATE:
            steps.append(_Step(f, tuple(f.visible_when.items()), tuple(f.hidden_when.items()), rules,
                               _hidden_rules(f), sub or None, f.type == TEMPLATE))
    return steps


def audit(schema: tuple[Field, ...], config: Config, now: datetime | None = None
          ) -> tuple[list[FieldIssue], list[tuple[str, Field, str]]]:
    """The config's issues, and its non-empty templates as (pointer, field, source). `now` (aware,
    default the current time) anchors the window dates must lie in."""
    issues: list[FieldIssue] = []
    templates: list[tuple[str, Field, str]] = []
    _run(_plan(schema), config, "", issues, templates, now or datetime.now(timezone.utc))
    return issues, templates


def check(schema: tuple[Field, ...], config: Config, now: datetime | None = None) -> list[FieldIssue]:
    return audit(schema, config, now)[0]


def _run(plan: tuple[_Step, ...], config: Config, pointer: str, issues: list[FieldIssue],
         templates: list[tuple[str, Field, str]] | None, now: datetime) -> None:
    """`templates` None: this part of the config is hidden, so only bounds are checked."""
    for step in plan:
        shown = templates is not None and (
            not step.visible or all(config.get(k) in allowed for k, allowed in step.visible)) and (
            not step.hidden or not all(config.get(k) in values for k, values in step.hidden))
        f = step.field
        value = config.get(f.name)
        path = f"{pointer}/{f.name}"
        for rule in (step.rules if shown else step.hidden_rules):
            if value is None and not shown:
                break
            issue = rule(f, value, path, now)
            if issue:
                issues.append(issue)
                break
        inner = templates if shown else None
        if step.is_template and value and inner is not None:
            inner.append((path, f, value))
        if step.sub:
            if f.type == LIST and isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        _run(step.sub, item, f"{path}/{i}", issues, inner, now)
            elif isinstance(value, dict):
                _run(step.sub, value, path, issues, inner, now)
