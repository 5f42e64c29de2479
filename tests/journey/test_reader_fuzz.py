"""Mutation fuzzing of the journey reader and `validate` (issue 9): the example journeys, changed one
value, one key or a few characters at a time into what an unlucky user or an attacker writes, never
make an exception escape. A file is either refused with one JourneyFileError line or read; a read
journey validates (as a draft and as about to run), summarises, saves and reads back; `journeys
validate` exits 0, 1 or 2. A bounded number of examples keeps `make test` quick."""
from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import format_problem, main
from app.journey.fileformat import JourneyFileError, dumps, loads
from app.journey.validate import validate
from app.paths import EXAMPLES

EXAMPLES_TEXT = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.json"))]

# What ends up where a value belongs: wrong types, nothing, numbers JSON lacks or no float holds, bools
# where numbers belong, digits of other scripts, text that is not text, the bounds and just past them.
NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 1.5, -0.0, 10**9, 10**11, 10**20, -(10**20), 10**400, 1e300, float("nan"),
    float("inf"), "", " ", "0", "60", "\u0666\u0660", "journey/\u0661", "a\ud800b", "\udfff", "x\x00y",
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-13-45T99:99:99Z", "\u0660\u0669:00",
    "t" * 101, "n" * 201, "\u202e\u2028\u0085", "two\nlines", "\r", [], {}, [1, 2], [[[[[]]]]], {"amount": 10**9, "unit": "days"},
    {"amount": 1, "unit": "years"}, {"amount": True, "unit": "days"}, ["mon", 1], [None], ["x" * 200],
]
KEYS = ["format", "id", "name", "description", "settings", "nodes", "edges", "notes", "kind", "kind_version",
        "config", "position", "size", "ends", "mode", "delay", "amount", "unit", "window", "until", "send_at",
        "days", "threshold", "add", "remove", "step", "status", "source", "target", "outcome", "text", "\ud800"]


def _containers(value: Any, found: list[Any]) -> list[Any]:
    if isinstance(value, (dict, list)):
        found.append(value)
        for item in (value.values() if isinstance(value, dict) else value):
            _containers(item, found)
    return found


def nasty(draw) -> Any:
    """One of NASTY, copied: a list or object put into a document may be mutated further."""
    return copy.deepcopy(draw(st.sampled_from(NASTY)))


@st.composite
def mutated_documents(draw) -> str:
    """An example journey's text after a few mutations of its data or of its characters."""
    data = json.loads(draw(st.sampled_from(EXAMPLES_TEXT)))
    for _ in range(draw(st.integers(1, 4))):
        containers = _containers(data, [])
        target = draw(st.sampled_from(containers))
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "nest"]))
        if isinstance(target, dict) and target:
            key = draw(st.sampled_from(sorted(target)))
            if action == "delete":
                del target[key]
            elif action == "add":
                target[draw(st.sampled_from(KEYS))] = nasty(draw)
            elif action == "nest":
                target[key] = draw(st.sampled_from([[target[key]], {"x": target[key]}, [[[[[[[target[key]]]]]]]]]))
            else:
                target[key] = nasty(draw)
        elif isinstance(target, list) and target:
            index = draw(st.integers(0, len(target) - 1))
            if action == "delete":
                del target[index]
            else:
                target[index] = nasty(draw)
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    how = draw(st.sampled_from(["as is", "as is", "bom", "cut", "insert", "deep", "long int"]))
    if how == "bom":
        text = "\ufeff" + text
    elif how == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif how == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["NaN", "-Infinity", "\\ud800", "\\u0000", ",", "]", "1e999",
                                                 "\x00", "\ufeff", "\"", "9" * 5000])) + text[at:]
    elif how == "deep":
        depth = draw(st.sampled_from([63, 64, 65, 1000, 3000]))
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    elif how == "long int":
        text = text.replace('"journey/1"', '"journey/1", "n": ' + "1" * draw(st.sampled_from([308, 309, 400, 4301])), 1)
    return text


def _read_and_check(text: str) -> None:
    try:
        journey = loads(text, "fuzz.json")
    except JourneyFileError as exc:
        line = str(exc)
        assert line.startswith("fuzz.json") and "\n" not in line and "\r" not in line
        line.encode("utf-8")                 # printable on any terminal
        return
    for active in (False, True):
        for problem in validate(journey, active=active):
            line = format_problem("fuzz.json", journey, problem)     # as `journeys validate` prints it
            assert problem.message and "\n" not in line and "\r" not in line
            line.encode("utf-8")
    for node in journey.nodes.values():
        assert isinstance(node.title, str)
    assert loads(dumps(journey)) == journey


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_documents())
def test_no_exception_escapes_the_reader_or_validate(text):
    _read_and_check(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_journeys_validate_exits_0_1_or_2(tmp_path_factory, data):
    path = Path(tmp_path_factory.mktemp("fuzz")) / "journey.json"
    path.write_text(data.draw(mutated_documents()), encoding="utf-8", errors="surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    assert code in (0, 1, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert len(err.getvalue().strip().splitlines()) == 1


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=30))
def test_any_json_value_is_refused_or_read(value):
    """Arbitrary JSON (as Python's json writes it, NaN and lone surrogates included) at the top level
    or as a member of an otherwise fine journey."""
    _read_and_check(json.dumps(value))
    base = json.loads(EXAMPLES_TEXT[0])
    for key in ("settings", "nodes", "edges", "notes", "description", "name"):
        _read_and_check(json.dumps({**base, key: value}))
