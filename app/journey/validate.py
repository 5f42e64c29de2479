"""Validation: everything that would stop a journey from running as its author meant.

Live validation runs this after every edit, so it stays linear in the size of the
journey (see graph.py for the graph rules, checks.py for field checks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from email.utils import parseaddr
from datetime import datetime, timezone
from typing import Callable

from .model import Journey, Node
from .node_kinds import BRANCH_STATUSES, CHANNEL_LABELS, WA_TEXT, WHATSAPP_WINDOW_HOURS
from .checks import audit, check
from .graph import JourneyGraph
from .tracking_checks import check_tracking
from .schema import (MAX_ID, MAX_NAME, MAX_POSITION, UNIT_MINUTES, Config, date_problem, is_finite_number,
                     parse_datetime)
from .settings import SETTINGS_SCHEMA, UNKNOWN_CONSENT_KEYS, allows_unknown, settings_label
from .event_properties import declared, has_no_event, record_fields, trigger_event_type
from .variables import loop_field_reads
from .templates import (CONTACT_FIELDS, JOURNEY_FIELDS, MESSAGE_VARIABLES, ROOTS, VariableCatalog,
                        inspect_template, trigger_event_properties)

ERROR, WARNING = "error", "warning"
SAFE_LOOP_MINUTES = 60


@dataclass(frozen=True)
class Problem:
    severity: str          # "error" blocks activation; "warning" is worth a look
    node_id: str | None    # None for journey-level problems
    field: str             # JSON pointer within the node ("/config/subject") or journey ("/settings/goal")
    message: str
    hint: str = ""


@dataclass
class _Run:
    journey: Journey
    catalog: VariableCatalog
    now: datetime
    active: bool
    trigger: Node | None = None
    problems: list[Problem] = field(default_factory=list)

    def add(self, severity: str, node: Node | None, pointer: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(severity, node.id if node else None, pointer, message, hint))


def validate(journey: Journey, *, catalog: VariableCatalog | None = None, now: datetime | None = None,
             active: bool = False, business_zone: str | None = None, public_url: str | None = None) -> list[Problem]:
    """All problems, errors first. `active`: judge it as a journey about to run. `business_zone`: the
    business's time zone from the database ("" = not set, which earns a warning unless the journey
    sets its own; None = unknown, e.g. a file checked without a database). `public_url`: the
    configured public URL ("" = none: steps relying on opens and clicks earn a warning, as they do
    when the journey's tracking is off; None = unknown, no such warning)."""
    run = _Run(journey, catalog or VariableCatalog(), now or datetime.now(timezone.utc), active)
    graph = JourneyGraph(journey)
    run.trigger = _check_trigger(run)
    _check_edges(run)
    if run.trigger is not None:
        _check_reachable(run, graph, run.trigger.id)
        _check_status_refs(run, graph, run.trigger.id)
    _check_cycles(run, graph)
    _check_names(run)
    for node in journey.nodes.values():
        _check_config(run, node)
    for issue in check(SETTINGS_SCHEMA, journey.settings, run.now):
        run.add(ERROR, None, "/settings" + issue.pointer, issue.message, issue.hint)
    if business_zone == "" and not journey.settings.get("timezone"):
        run.add(WARNING, None, "/settings/timezone", "No business time zone is set: contacts without a time "
                "zone of their own get quiet hours, times of day and days in UTC",
                "Set it once in Settings → Time zone (or `journeys settings timezone Europe/Berlin`), "
                "or choose a time zone in this journey's settings.")
    _check_consent(run)
    if public_url is not None:
        check_tracking(journey, public_url, lambda node, pointer, message, hint:
                       run.add(WARNING, node, pointer, message, hint))
    run.problems.sort(key=lambda p: p.severity != ERROR)
    return run.problems


_TEXT_CHANNELS = {"sms": "SMS", "whatsapp": "WhatsApp"}


def _check_consent(run: _Run) -> None:
    """A warning on each text step that would reach contacts who never agreed to texts."""
    for node in run.journey.nodes.values():
        channel = node.config.get("channel") if node.kind == "send_template" else None
        if channel in _TEXT_CHANNELS and allows_unknown(run.journey.settings, channel):
            name = _TEXT_CHANNELS[channel]
            label = settings_label("consent", UNKNOWN_CONSENT_KEYS[channel])
            run.add(WARNING, node, "/config/channel",
                    f"{name} goes to contacts without recorded {name} consent (the journey allows it)",
                    f"Marketing texts need prior consent: turn off '{label}' in the journey's Consent settings "
                    "unless you hold that consent outside the app.")


def _check_names(run: _Run) -> None:
    """Ids, names and canvas positions within what the store and the canvas keep: ids of 36
    characters (runs.node_id), names of 200 (journeys.name; a step's name alike), coordinates
    finite and within MAX_POSITION of the origin."""
    journey = run.journey
    if len(journey.id) > MAX_ID:
        run.add(ERROR, None, "/id", f"The journey's id is longer than {MAX_ID} characters ({len(journey.id):,})",
                "Give it a uuid such as 3f2b…, or remove the id to get a new one.")
    if len(journey.name) > MAX_NAME:
        run.add(ERROR, None, "/name", f"The journey's name is longer than {MAX_NAME} characters "
                f"({len(journey.name):,})", f"Shorten it to {MAX_NAME} characters or fewer.")
    for node in journey.nodes.values():
        if len(node.id) > MAX_ID:
            run.add(ERROR, node, "/id", f"The step's id is longer than {MAX_ID} characters ({len(node.id):,})",
                    "Runs refer to steps by id: use a uuid (36 characters).")
        if len(node.name) > MAX_NAME:
            run.add(ERROR, node, "/name", f"The step's name is longer than {MAX_NAME} characters ({len(node.name):,})",
                    f"Shorten it to {MAX_NAME} characters or fewer.")
        _check_point(run, node, "/position", node.position)
    for i, edge in enumerate(journey.edges.values()):
        if len(edge.id) > MAX_ID:
            run.add(ERROR, None, f"/edges/{i}/id", f"The id of a connection is longer than {MAX_ID} characters",
                    "Use a uuid (36 characters).")
    for i, note in enumerate(journey.notes.values()):
        if len(note.id) > MAX_ID:
            run.add(ERROR, None, f"/notes/{i}/id", f"The id of a sticky note is longer than {MAX_ID} characters",
                    "Use a uuid (36 characters).")
        _check_point(run, None, f"/notes/{i}/position", note.position)
        _check_point(run, None, f"/notes/{i}/size", note.size)


def _check_point(run: _Run, node: Node | None, pointer: str, pair: tuple[float, float]) -> None:
    if all(is_finite_number(v) and abs(v) <= MAX_POSITION for v in pair):
        return
    what = "position" if pointer.endswith("position") else "size"
    run.add(ERROR, node, pointer, f"The {what} {_point(pair)} is outside the canvas: coordinates must be finite "
            f"and between -{MAX_POSITION:,.0f} and {MAX_POSITION:,.0f}", "Move it back near the other steps.")


def _point(pair: tuple[float, float]) -> str:
    return "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in pair) + "]"


def _check_trigger(run: _Run) -> Node | None:
    triggers = run.journey.triggers()
    if not triggers:
        run.add(ERROR, None, "/nodes", "The journey has no trigger",
                "Add a Trigger step: it decides who enters the journey and when.")
        return None
    for extra in triggers[1:]:
        run.add(ERROR, extra, "", "A journey has exactly one trigger; this is an extra one",
                "Delete this trigger or move it into a journey of its own.")
    return triggers[0]


def _check_edges(run: _Run) -> None:
    seen: dict[tuple[str, str], str] = {}
    nodes = run.journey.nodes
    for edge in run.journey.edges.values():
        source = nodes[edge.source]
        if edge.source == edge.target:
            run.add(ERROR, source, "", "The step leads into itself", "Connect it to another step.")
        if not nodes[edge.target].spec.has_input:
            run.add(ERROR, source, "", "Nothing can lead into a trigger", "Remove the connection into the trigger.")
        key = (edge.source, edge.outcome)
        if key in seen:
            run.add(ERROR, source, "", f"Outcome '{source.spec.outcome_label(edge.outcome)}' leads to two steps",
                    "An outcome leads to one step: remove one of the connections.")
        seen[key] = edge.target
    for node in nodes.values():
        for outcome in node.spec.outcomes:
            if (node.id, outcome.name) not in seen and outcome.name not in node.ends:
                label = "" if len(node.spec.outcomes) == 1 else f"Outcome '{outcome.label}': "
                run.add(WARNING, node, "", f"{label}nothing comes after this step",
                        "Connect it to the next step, or mark it as the end of the journey.")


def _check_reachable(run: _Run, graph: JourneyGraph, trigger: str) -> None:
    reachable = graph.reachable_from(trigger)
    for node_id, node in run.journey.nodes.items():
        if node_id not in reachable and node.kind != "trigger":
            run.add(ERROR, node, "", "No path from the trigger reaches this step",
                    "Connect it below the trigger, or delete it.")


def _is_safe_wait(node: Node) -> bool:
    """A wait that holds contacts long enough that a loop through it cannot spin."""
    if node.kind != "wait":
        return False
    mode = node.config["mode"]
    if mode == "duration":
        delay = node.config["delay"]
        return delay["amount"] * UNIT_MINUTES[delay["unit"]] >= SAFE_LOOP_MINUTES
    return mode == "time_of_day"  # waits for the next occurrence: at most once a day


def _check_cycles(run: _Run, graph: JourneyGraph) -> None:
    nodes = run.journey.nodes
    for cycle in graph.cycles_avoiding(lambda node_id: _is_safe_wait(nodes[node_id])):
        names = " → ".join(nodes[n].title for n in cycle)
        run.add(ERROR, nodes[cycle[0]], "", f"These steps loop without a wait of at least an hour: {names}",
                "Put a Wait of one hour or more in the loop, or remove the connection that closes it.")


def _check_status_refs(run: _Run, graph: JourneyGraph, trigger: str) -> None:
    status_nodes = [n for n in run.journey.nodes.values() if n.kind == "message_status" and n.config["step"]]
    if not status_nodes:
        return
    dominates = graph.dominance(trigger)
    for node in status_nodes:
        ref = run.journey.nodes.get(node.config["step"])
        pointer = "/config/step"
        if ref is None:
            run.add(ERROR, node, pointer, "The message step it checks no longer exists",
                    "Choose a send step before this one.")
        elif ref.kind != "send_template":
            run.add(ERROR, node, pointer, f"'{ref.title}' is not a send step", "Choose a send step before this one.")
        elif not dominates(ref.id, node.id):
            run.add(ERROR, node, pointer, f"'{ref.title}' does not come before this step on every path",
                    "Choose a send step that every contact passes before reaching this one.")
        elif node.config["status"] not in BRANCH_STATUSES.get(ref.config["channel"], frozenset()):
            channel = CHANNEL_LABELS.get(ref.config["channel"], ref.config["channel"])
            run.add(WARNING, node, "/config/status", f"{channel} messages report no '{node.config['status']}' "
                    "status: every contact would take 'No'",
                    "Check for delivered or replied instead, or point this step at an email.")


def _check_config(run: _Run, node: Node) -> None:
    spec = node.spec
    issues, templates = audit(spec.schema, node.config, run.now)
    for issue in issues + spec.check(node.config):
        run.add(issue.severity, node, "/config" + issue.pointer, issue.message, issue.hint)
    for pointer, f, source in templates:
        _check_template(run, node, "/config" + pointer, f.label, source)
    _check_dates(run, node)
    _check_needed_to_run(run, node)
    if node.kind == "send_template" and node.config["channel"] == "email":
        _check_sender(run, node)
    if node.kind == "send_template" and node.config["channel"] == "whatsapp":
        _check_whatsapp_window(run, node)


# Dates that must lie ahead: kind -> (config key, when the date applies).
_FUTURE_DATES: dict[str, tuple[str, Callable[[Config], bool]]] = {
    "wait": ("until", lambda c: c["mode"] == "until_date"),
    "send_template": ("send_at", lambda c: c["timing"] == "scheduled"),
    "trigger": ("send_at", lambda c: c["mode"] == "manual" and c["send"] == "scheduled"),
}


def _check_dates(run: _Run, node: Node) -> None:
    rule = _FUTURE_DATES.get(node.kind)
    if rule is None:
        return
    key, applies = rule
    text = node.config[key]
    if not text or not applies(node.config):
        return
    try:
        when = parse_datetime(text)
        if date_problem(when, run.now) or when > run.now:    # out of range: reported by the field checks
            return
    except ValueError:
        return
    severity = ERROR if run.active else WARNING
    run.add(severity, node, f"/config/{key}", f"The date {text} is already in the past",
            "Choose a date in the future, or contacts would pass this step at once.")


# Fields a draft may leave empty but a running journey needs: kind -> (config key, when it applies,
# message, hint). A warning while drafting, an error when the journey is about to run.
_NEEDED_TO_RUN: dict[str, tuple[tuple[str, Callable[[Config], bool], str, str], ...]] = {
    "send_template": (
        ("sender", lambda c: c["channel"] == "email", "The email has no sender (From)",
         "Say who it comes from, e.g. Corner Shop <hello@cornershop.example>: an email cannot go out without one."),
    ),
}


def _check_needed_to_run(run: _Run, node: Node) -> None:
    for key, applies, message, hint in _NEEDED_TO_RUN.get(node.kind, ()):
        if applies(node.config) and not str(node.config.get(key) or "").strip():
            run.add(ERROR if run.active else WARNING, node, f"/config/{key}", message, hint)


def _check_sender(run: _Run, node: Node) -> None:
    """A From that names no address is refused by every mail server (RFC 5322 section 3.6.2)."""
    text = str(node.config.get("sender") or "").strip()
    if not text:
        return
    _name, address = parseaddr(text)
    local, _at, domain = address.rpartition("@")
    if not local or "." not in domain or any(c.isspace() for c in address):
        run.add(ERROR, node, "/config/sender", f"The sender '{text}' is not an email address",
                "Write it as an address, e.g. hello@cornershop.example or Corner Shop <hello@cornershop.example>.")


def _check_whatsapp_window(run: _Run, node: Node) -> None:
    """Free WhatsApp text is delivered only inside the 24-hour customer-service window (Meta: error
    131047; Twilio: 63016): the engine skips it for other contacts (`outside_whatsapp_window`)."""
    if node.config.get("wa_mode") == WA_TEXT:
        run.add(WARNING, node, "/config/wa_mode", f"Free WhatsApp text reaches only contacts who wrote to you within "
                f"the last {WHATSAPP_WINDOW_HOURS} hours; everyone else skips this step (outside_whatsapp_window)",
                "To reach every contact, send an approved template instead: choose 'Approved template' and name it.")


def _check_template(run: _Run, node: Node, pointer: str, label: str, source: str) -> None:
    source_text = source
    info = inspect_template(source)
    if info.error:
        run.add(ERROR, node, pointer, f"{label}: template error on line {info.error_line}: {info.error}",
                "Check the {{ }} and {% %} brackets around variables and tags.")
        return
    for problem in info.problems:
        run.add(ERROR, node, pointer, f"{label}: {problem.message} (line {problem.line})", problem.hint)
    for root in sorted(info.roots - set(ROOTS) - set(MESSAGE_VARIABLES)):
        run.add(ERROR, node, pointer, f"{label}: unknown variable '{root}'",
                f"Variables start with contact., event. or journey., e.g. {{{{ contact.{root} }}}}; "
                "{{ unsubscribe_url }} is the message's unsubscribe link.")
    trigger = run.trigger.config if run.trigger else None
    for root, name in sorted(info.attributes):
        if root == "event" and has_no_event(trigger):
            # A time-based or manual start has no event: every `event.…` prints as missing.
            run.add(WARNING, node, pointer, f"{label}: 'event.{name}' is always missing: this journey starts "
                    f"{has_no_event(trigger)}, without an event",
                    "Use the contact's values (contact.first_name, contact.lifetime_spend…) instead.")
            continue
        known, source, certain = _known(run, root)
        if known is None or name in known:
            continue
        message = f"{label}: '{root}.{name}' is not among the {source}"
        run.add(ERROR if certain else WARNING, node, pointer, message, _suggest(root, name, known))
    _check_loop_fields(run, node, pointer, label, source_text)


def _check_loop_fields(run: _Run, node: Node, pointer: str, label: str, source: str) -> None:
    """`{{ item.nmae }}` in `{% for item in event.items %}`: a field the trigger's event does not declare
    for its items is a warning (the store learns top-level names only, so the shop may send more)."""
    if "for" not in source:
        return
    fields = record_fields(trigger_event_type(run.trigger.config if run.trigger else None))
    for read in loop_field_reads(source):
        known = fields.get(read.iterable)
        if known is None or read.name in {f.name for f in known}:
            continue
        names = frozenset(f.name for f in known)
        run.add(WARNING, node, pointer, f"{label}: '{read.variable}.{read.name}' is not among the fields of "
                f"{read.iterable} (line {read.line})", _suggest(read.variable, read.name, names))


def _known(run: _Run, root: str) -> tuple[frozenset[str] | None, str, bool]:
    """The names valid after `root.`, where they come from, and whether that list is
    complete enough to call anything else an error (rather than "not seen yet")."""
    if root == "journey":
        return JOURNEY_FIELDS, "journey's fields", True
    if root == "contact":
        custom = run.catalog.contact_attributes
        if custom is None:
            return None, "", False
        return CONTACT_FIELDS | custom, "contact fields and attributes seen so far", bool(custom)
    if root != "event":         # not a root at all: reported as an unknown variable already
        return None, "", False
    properties = run.catalog.event_properties
    found = trigger_event_properties(run.trigger.config if run.trigger else None, run.catalog)
    if found is None:
        return None, "", False
    event, names = found
    if properties is not None and event in properties:
        return names, f"properties of the {event} events seen so far", True
    if declared(event) is not None:     # none seen yet: what such an event carries (a warning, not an error)
        return names, f"properties a{'n' if event[0] in 'aeiou' else ''} {event} event carries", False
    return None, "", False      # a custom event never seen: nothing to judge by


def _suggest(root: str, name: str, known: frozenset[str]) -> str:
    close = get_close_matches(name, sorted(known), n=1)
    if close:
        return f"Did you mean {root}.{close[0]}?"
    return f"Known names: {', '.join(sorted(known)[:8])}" + ("…" if len(known) > 8 else "")

