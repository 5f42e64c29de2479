"""Hypothesis strategies for the fuzz tests of the input boundaries (issue 9): the shipped examples —
journey files, the sample contacts CSV, the sample events file — mutated the way unlucky users and
attackers change them: keys dropped, duplicated, renamed; values of the wrong type, huge, odd or
nested; characters inserted; files cut short, re-encoded, given odd line ends. Each strategy gives
the bytes of a file, as a user would hand it over."""
from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from app.paths import EXAMPLES, RESOURCES

JOURNEY_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.json"))]
CONTACTS_TEXT = (RESOURCES / "sample_contacts.csv").read_text(encoding="utf-8")
EVENTS_TEXT = (RESOURCES / "sample_events.jsonl").read_text(encoding="utf-8")

def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# Values that end up where another belongs. Big integers that Python refuses to print (over 4,300
# digits) cannot be put into a document; RAW_INSERTS writes them into the text instead.
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**31, 2**63, 2**64 + 1, -(2**63) - 1, 10**400, -(10**400), 1e308, -1e308, 5e-324,
    float("nan"), float("inf"), float("-inf"), -0.0, 0.5, "", " ", "\t", "0", "-1", "1e999", "NaN", "null",
    "x" * 5000, "\ud800", "a\udfffb", "\x00", "a\x00b", "\u2028", "\u0085", "\r\n", "\ufeff", "\u202e", "🙂" * 50,
    "٣", "journey/1", "journey/2", "journey/١", "2026-03-01T10:00:00Z", "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00", "2026-02-30T10:00:00Z", "yesterday", "{{ contact.first_name }}",
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "{% if a %}" * 300, "{{ 9**(9**9) }}", "{{ 'a' * 10**9 }}",
    "Europe/Nowhere", "UTC", "email", "sms", "all", [], {}, [[]], [None], [1, 2], [1, 2, 3], ["a", "b"],
    [1e308, -1e308], [10**400, 0], [float("nan"), 0], {"amount": 10**9, "unit": "days"},
    {"amount": -1, "unit": "hours"}, {"amount": 1.5, "unit": "fortnights"}, {"": None}, {"\ud800": 1},
    _nested(32), _nested(99), list(range(300)), {str(i): i for i in range(200)},
]
KEYS = ["format", "id", "name", "description", "settings", "nodes", "edges", "notes", "kind", "kind_version",
        "config", "position", "size", "ends", "title", "source", "target", "outcome", "text", "timezone",
        "subject", "body", "channel", "mode", "amount", "unit", "until", "event", "tags", "goal", "exit",
        "contact", "type", "at", "properties", "total", "order_id", "message_id", "", "\ud800", "x" * 300]
RAW_INSERTS = ["NaN", "-Infinity", "1e999", "9" * 4400, "-" + "9" * 401, "\\ud800", "\\u0000", "\x00", "\ufeff",
               '"', "\\", ",", ":", "]", "}", "[", "{", "[" * 2000, "{\"a\":" * 1500, "\r", "\n", "\u2028",
               "/*", "true", "\ud800"]


def odd_value(draw: st.DrawFn) -> Any:
    """One of ODD_VALUES, copied: a list or object put into a document may be mutated further."""
    return copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))


def _containers(value: Any, found: list[Any]) -> list[Any]:
    """Every list and object inside `value` (the document itself first)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)):
            found.append(item)
            stack.extend(item.values() if isinstance(item, dict) else item)
    return found


def mutate_data(draw: st.DrawFn, data: Any, rounds: int) -> Any:
    """`data` (a parsed document) after `rounds` structural mutations: a key dropped, renamed or added,
    a value replaced by an odd one or by another value of the document, a list item dropped or
    duplicated, a value wrapped in a list or an object, a type changed (text ↔ number, list ↔ object)."""
    for _ in range(rounds):
        target = draw(st.sampled_from(_containers(data, [])))
        if not target:
            if isinstance(target, dict):
                target[draw(st.sampled_from(KEYS))] = odd_value(draw)
            else:
                target.append(odd_value(draw))
            continue
        if isinstance(target, dict):
            key = draw(st.sampled_from(sorted(target)))
            op = draw(st.sampled_from(["replace", "replace", "drop", "rename", "add", "wrap", "retype", "swap"]))
            if op == "replace":
                target[key] = odd_value(draw)
            elif op == "drop":
                del target[key]
            elif op == "rename":
                target[draw(st.sampled_from(KEYS))] = target.pop(key)
            elif op == "add":
                target[draw(st.sampled_from(KEYS))] = odd_value(draw)
            elif op == "wrap":
                target[key] = draw(st.sampled_from([[target[key]], {"value": target[key]}]))
            elif op == "retype":
                target[key] = _retyped(target[key])
            else:
                other = draw(st.sampled_from(sorted(target)))
                target[key], target[other] = target[other], target[key]
        else:
            index = draw(st.integers(0, len(target) - 1))
            op = draw(st.sampled_from(["replace", "drop", "duplicate", "retype"]))
            if op == "replace":
                target[index] = odd_value(draw)
            elif op == "drop":
                del target[index]
            elif op == "duplicate":         # the same node or edge twice: ids used twice
                target.insert(index, copy.deepcopy(target[index]))
            else:
                target[index] = _retyped(target[index])
    return data


def _retyped(value: Any) -> Any:
    """The same value as another JSON type: what a hand-edit or another program writes."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return [value]
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return 0


def mutate_text(draw: st.DrawFn, text: str) -> str:
    """`text` with a few characters inserted, a stretch deleted, or cut short."""
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):    # mostly none: the structure is what matters
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "insert", "delete", "cut"]))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(RAW_INSERTS)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        else:
            text = text[:at]
    return text


def encode(draw: st.DrawFn, text: str) -> bytes:
    """The bytes a user's editor or spreadsheet might write for `text`: UTF-8 (lone surrogates kept
    as the invalid bytes they become), with a BOM, Windows-1252, UTF-16, or with stray bytes."""
    how = draw(st.sampled_from(["utf-8"] * 7 + ["bom", "cp1252", "utf-16", "stray"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if how == "cp1252":
        return text.encode("cp1252", "replace")
    if how == "utf-16":
        return text.encode("utf-16", "surrogatepass")
    raw = text.encode("utf-8", "surrogatepass")
    if how == "stray":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\x81\x8d", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + raw[at:]
    return raw


def _dumps(draw: st.DrawFn, data: Any) -> str:
    return json.dumps(data, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))


@st.composite
def journey_files(draw: st.DrawFn) -> bytes:
    """An example journey file after structural and textual mutations."""
    data = mutate_data(draw, json.loads(draw(st.sampled_from(JOURNEY_TEXTS))), draw(st.integers(1, 4)))
    shape = draw(st.sampled_from(["document", "document", "document", "in a list", "duplicate key"]))
    if shape == "in a list":
        data = [data]
    text = _dumps(draw, data)
    if shape == "duplicate key" and text.startswith("{"):   # JSON allows it; the last one counts
        text = '{"nodes": ' + _dumps(draw, odd_value(draw)) + ", " + text[1:]
    return encode(draw, mutate_text(draw, text))


def _csv_cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


CSV_CELLS = ["", " ", "all", "none", "email;sms;fax", "EMAIL", "e-mail; SMS", "x" * 5000, "\x00", '"', '""',
             '"a"b"', "a,b", "a;b", "\t", "\r", "\n", "\u2028", "=HYPERLINK(\"x\")", "'c001", "-1e999", "NaN",
             "9" * 5000, "Europe/Nowhere", "UTC", "+1 (555) 010-9999", "not-an-email", "@", "a@b", "ÿþ",
             "\ufeff", "🙂" * 100, ";;;", "t" * 101, "tag;" * 300, "c001", "c002", "\ud800", " id "]
CSV_HEADERS = ["id", "ID", " Id ", "", "email", "unsubscribed", "Unsubscribed", "subscribed", "tags", "timezone",
               "first name", "x" * 300, "\x00", "id\x00", "a,b", '"', "\ufeffid"]


@st.composite
def contacts_files(draw: st.DrawFn) -> bytes:
    """The sample contacts CSV after mutations of its cells, columns, rows, separators and line ends."""
    lines = [line.split(",") for line in CONTACTS_TEXT.splitlines()]
    for _ in range(draw(st.integers(1, 5))):
        row = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["cell", "cell", "cell", "header", "drop column", "drop row", "duplicate row",
                                   "separator", "extra cell"]))
        cells = lines[row]
        if op == "cell" and cells:
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(CSV_CELLS))
        elif op == "header" and lines[0]:
            lines[0][draw(st.integers(0, len(lines[0]) - 1))] = draw(st.sampled_from(CSV_HEADERS))
        elif op == "drop column" and cells:
            del cells[draw(st.integers(0, len(cells) - 1))]
        elif op == "drop row":
            del lines[row]
            if not lines:
                lines = [[]]
        elif op == "duplicate row":
            lines.insert(row, list(cells))
        elif op == "separator":
            lines[row] = [";".join(cells)] if draw(st.booleans()) else ["\t".join(cells)]
        else:
            cells.append(draw(st.sampled_from(CSV_CELLS)))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
    text = ending.join(",".join(_csv_cell(c) for c in cells) for cells in lines)
    return encode(draw, mutate_text(draw, text))


@st.composite
def events_files(draw: st.DrawFn) -> bytes:
    """The sample events file after mutations of its events (structural) and of its lines (textual)."""
    events = [json.loads(line) for line in EVENTS_TEXT.splitlines() if line.strip()]
    lines: list[str] = []
    changed = set(draw(st.lists(st.integers(0, len(events) - 1), min_size=1, max_size=4)))
    for index, event in enumerate(events):
        if index in changed:
            event = mutate_data(draw, event, draw(st.integers(1, 3)))
            line = mutate_text(draw, json.dumps(event, ensure_ascii=draw(st.booleans())))
        else:
            line = json.dumps(event)
        lines.append(line)
    op = draw(st.sampled_from(["none", "none", "blank lines", "join", "duplicate", "bom inside", "deep"]))
    at = draw(st.integers(0, len(lines) - 1))
    if op == "blank lines":
        lines.insert(at, draw(st.sampled_from(["", " ", "\t", "\r", "\u2028"])))
    elif op == "join" and at + 1 < len(lines):
        lines[at:at + 2] = [lines[at] + lines[at + 1]]
    elif op == "duplicate":
        lines.insert(at, lines[at])
    elif op == "bom inside":
        lines[at] = "\ufeff" + lines[at]
    elif op == "deep":
        depth = draw(st.sampled_from([99, 100, 101, 1000, 5000]))
        lines[at] = ('{"contact": "c001", "type": "x", "at": "2026-03-01T10:00:00Z", "properties": {"a": '
                     + "[" * depth + "]" * depth + "}}")
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return encode(draw, ending.join(lines) + draw(st.sampled_from(["", ending])))
