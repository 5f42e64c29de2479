"""The journey reader answers every value it cannot keep with one line naming the file and the JSON
pointer, never a traceback (issue 9, sections 1 and 2): members of the wrong type (null too), numbers
JSON does not have or no float holds, nesting a thousand deep, lone surrogates and NUL characters,
booleans and non-ASCII digits where numbers belong. A byte-order mark is not content: the file is read."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.journey.fileformat import JourneyFileError, dumps, load, loads
from app.journey.jsonvalues import first_fault
from app.journey.model import Journey

from .helpers import email, linear

HEAD = '"format": "journey/1", "id": "j1", "name": "Carts"'
TRIGGER = '{"id": "t", "kind": "trigger", "config": {"mode": "event", "event": "cart_abandoned"}}'


def doc(extra: str = "", nodes: str = TRIGGER, head: str = HEAD) -> str:
    return "{" + head + ', "nodes": [' + nodes + "]" + (", " + extra if extra else "") + "}"


def node(**fields: str) -> str:
    """A trigger node with raw JSON text for the given members."""
    base = {"id": '"t"', "kind": '"trigger"', "config": '{"mode": "event", "event": "cart_abandoned"}'}
    base.update(fields)
    return "{" + ", ".join(f'"{k}": {v}' for k, v in base.items()) + "}"


def refused(text: str) -> JourneyFileError:
    with pytest.raises(JourneyFileError) as caught:
        loads(text, "carts.json")
    error = caught.value
    line = str(error)
    assert line.startswith("carts.json") and "\n" not in line and "Traceback" not in line
    return error


# --- the examples ---------------------------------------------------

def test_notes_null_is_refused_with_its_pointer():
    error = refused('{"format":"journey/1","id":"x","name":"x","nodes":[],"notes":null}')
    assert error.pointer == "/notes" and "expected a list of sticky notes, got null" in error.message


def test_edges_as_a_number_is_refused_with_its_pointer():
    error = refused(doc('"edges": 5'))
    assert error.pointer == "/edges" and "got a number" in error.message


def test_a_400_digit_position_is_refused():
    error = refused(doc(nodes=node(position="[" + "9" * 400 + ", 0]")))
    assert error.pointer == "/nodes/0/position/0" and "400 digits" in error.message


def test_json_nested_a_thousand_deep_is_one_line():
    error = refused(doc('"extra": ' + "[" * 1000 + "]" * 1000))
    assert "nested too deeply" in error.message


def test_an_integer_of_more_than_4300_digits_is_one_line():
    error = refused(doc(nodes=node(config='{"mode": "no_order", "days": ' + "1" * 5000 + "}")))
    assert error.pointer == "/nodes/0/config/days" and "5000 digits" in error.message


def test_a_lone_surrogate_in_a_step_name_is_refused_with_its_pointer():
    error = refused(doc(nodes=node(name='"Reminder \\ud83d"')))
    assert error.pointer == "/nodes/0/name" and "lone surrogate (\\ud83d)" in error.message
    str(error).encode("utf-8")                   # the message itself can be printed


def test_a_file_starting_with_a_bom_is_read(tmp_path: Path):
    journey = linear(email())
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + dumps(journey).encode("utf-8"))
    assert load(path) == journey
    assert loads("\ufeff" + dumps(journey)) == journey       # text handed over with its BOM (clipboard, store)


# --- further cases of each class ----------------------------------------------

@pytest.mark.parametrize("extra, pointer, got", [
    ('"edges": null', "/edges", "null"),
    ('"edges": {}', "/edges", "an object"),
    ('"edges": "[]"', "/edges", "text"),
    ('"notes": 3', "/notes", "a number"),
    ('"notes": true', "/notes", "true/false"),
    ('"description": 12', "/description", "a number"),
    ('"description": null', "/description", "null"),
    ('"settings": null', "/settings", "null"),
    ('"settings": []', "/settings", "[]"),
])
def test_optional_members_of_the_wrong_type_are_refused(extra, pointer, got):
    error = refused(doc(extra))
    assert error.pointer == pointer and got in error.message


@pytest.mark.parametrize("text, pointer", [
    ('{"format": "journey/1", "id": "j1", "name": "x", "nodes": null}', "/nodes"),
    ('{"format": "journey/1", "id": "j1", "name": "x", "nodes": 7}', "/nodes"),
    ('{"format": "journey/1", "id": null, "name": "x", "nodes": []}', "/id"),
    ('{"format": "journey/1", "id": 12, "name": "x", "nodes": []}', "/id"),
    ('{"format": "journey/1", "id": "j", "name": ["x"], "nodes": []}', "/name"),
    (doc(nodes="null"), "/nodes/0"),
    (doc(nodes=node(config="null")), "/nodes/0/config"),
    (doc(nodes=TRIGGER + ', {"id": "w", "kind": "wait", "kind_version": 1, "config": null}'), "/nodes/1/config"),
    (doc(nodes=TRIGGER + ', {"id": "w", "kind": "wait", "kind_version": 1, "config": [1]}'), "/nodes/1/config"),
    (doc(nodes=node(name="null")), "/nodes/0/name"),
    (doc(nodes=node(ends="null")), "/nodes/0/ends"),
    (doc(nodes=node(position="null")), "/nodes/0/position"),
    (doc(nodes=node(position="[1]")), "/nodes/0/position"),
    (doc(nodes=node(position="[true, 0]")), "/nodes/0/position"),
    (doc('"edges": [null]'), "/edges/0"),
    (doc('"edges": [{"id": 1, "source": "t", "outcome": "next", "target": "t"}]'), "/edges/0/id"),
    (doc('"notes": [{"id": "n", "text": null}]'), "/notes/0/text"),
    (doc('"notes": [{"id": "n", "text": "x", "size": [1, "2"]}]'), "/notes/0/size"),
])
def test_members_of_the_wrong_type_are_refused_with_their_pointer(text, pointer):
    assert refused(text).pointer == pointer


@pytest.mark.parametrize("literal, words", [
    ("NaN", "NaN is not a number"), ("Infinity", "Infinity is not a number"),
    ("-Infinity", "-Infinity is not a number"), ("1e400", "not finite"), ("-1e999", "not finite"),
    ("1" * 310, "310 digits"), ("-" + "9" * 4301, "4301 digits"),
])
@pytest.mark.parametrize("where, pointer", [
    ('position=[{}, 0]', "/nodes/0/position/0"),
    ('position=[0, {}]', "/nodes/0/position/1"),
    ('config={{"mode": "spend", "threshold": {}}}', "/nodes/0/config/threshold"),
    ('config={{"mode": "no_order", "days": {}}}', "/nodes/0/config/days"),
    ('kind_version={}', "/nodes/0/kind_version"),
])
def test_numbers_json_lacks_or_no_float_holds_are_refused_where_they_are(literal, words, where, pointer):
    member, value = where.split("=", 1)
    error = refused(doc(nodes=node(**{member: value.format(literal)})))
    assert error.pointer == pointer and words in error.message


def test_such_numbers_are_found_anywhere_in_the_file():
    error = refused(doc('"settings": {"frequency_cap": {"enabled": true, "hours": NaN}}'))
    assert error.pointer == "/settings/frequency_cap/hours"
    assert refused(doc('"notes": [{"id": "n", "text": "x", "size": [Infinity, 1]}]')).pointer == "/notes/0/size/0"
    assert refused(doc('"future_member": {"a": [1, 2, 1e999]}')).pointer == "/future_member/a/2"


@pytest.mark.parametrize("depth", [65, 200, 999, 1000, 5000, 100_000])
@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a":', "}")])
def test_deep_nesting_anywhere_is_one_line(depth, opening, closing):
    nested = opening * depth + "1" + closing * depth if opening != "[" else "[" * depth + "]" * depth
    error = refused(doc('"settings": {"exit_conditions": [{"conditions": ' + nested + "}]}"))
    assert "nested too deeply (more than 64 levels" in error.message
    assert len(str(error)) < 200


def test_nesting_a_journey_needs_is_fine():
    journey = linear(email())
    journey.settings["exit_conditions"] = [{"event": "order_placed", "conditions": [
        {"source": "event", "field": "cart.total", "op": "greater_than", "value": "5"}]}]
    assert loads(dumps(journey)) == journey


@pytest.mark.parametrize("member, value, pointer", [
    ("name", '"Carts \\udc00"', "/name"),
    ("description", '"\\ud800\\ud800"', "/description"),
])
def test_lone_surrogates_in_journey_text_are_refused(member, value, pointer):
    head = HEAD.replace('"name": "Carts"', '"name": "Carts"' if member != "name" else f'"name": {value}')
    extra = f'"{member}": {value}' if member != "name" else ""
    assert refused(doc(extra, head=head)).pointer == pointer


@pytest.mark.parametrize("config, pointer", [
    ('{"mode": "event", "event": "cart\\udfff"}', "/nodes/0/config/event"),
    ('{"mode": "event", "conditions": [{"field": "x", "value": "\\ud800"}]}', "/nodes/0/config/conditions/0/value"),
    ('{"mode": "event", "audience": {"include_tags": ["vip", "\\udbff"]}}',
     "/nodes/0/config/audience/include_tags/1"),
    ('{"mode": "event", "\\ud800": 1}', "/nodes/0/config/\\ud800"),
    ('{"mode": "event", "note": "a\\u0000b"}', "/nodes/0/config/note"),
])
def test_lone_surrogates_and_nul_in_config_text_or_keys_are_refused(config, pointer):
    error = refused(doc(nodes=node(config=config)))
    assert error.pointer == pointer
    str(error).encode("utf-8")


def test_a_surrogate_pair_written_as_escapes_is_a_real_character():
    journey = loads(doc(nodes=node(name='"Hi \\ud83d\\ude00"')))
    assert journey.nodes["t"].name == "Hi \U0001F600"


@pytest.mark.parametrize("fmt", ['"journey/\u0661"', '"journey/\uff11"', '"journey/\u00b9"', '"journey/1\\n"',
                                 '"journey/01x"', '"journey/0"', "1", "true", "null", '["journey/1"]',
                                 '"journey/' + "9" * 5000 + '"'])
def test_a_format_that_is_not_journey_n_in_ascii_digits_is_refused(fmt):
    error = refused(doc(head=HEAD.replace('"journey/1"', fmt)))
    assert "journey" in error.message


@pytest.mark.parametrize("version", ["true", "false", '"1"', '"\u0661"', "1.5", "0", "-1", "null", "[1]"])
def test_kind_version_must_be_a_whole_number_not_a_bool_or_text(version):
    error = refused(doc(nodes=node(kind_version=version)))
    assert error.pointer == "/nodes/0/kind_version"


def test_kind_version_1_is_read():
    assert loads(doc(nodes=node(kind_version="1"))).nodes["t"].kind == "trigger"


@pytest.mark.parametrize("config, pointer", [
    ('{"mode": "no_order", "days": true}', "/nodes/0/config/days"),
    ('{"mode": "no_order", "days": "60"}', "/nodes/0/config/days"),
    ('{"mode": "no_order", "days": "\u0666\u0660"}', "/nodes/0/config/days"),
    ('{"mode": "no_order", "days": 60.5}', "/nodes/0/config/days"),
    ('{"mode": "spend", "threshold": false}', "/nodes/0/config/threshold"),
    ('{"mode": "spend", "threshold": "\u0665\u0660\u0660"}', "/nodes/0/config/threshold"),
])
def test_bools_and_digit_strings_are_not_numbers(config, pointer):
    assert refused(doc(nodes=node(config=config))).pointer == pointer


@pytest.mark.parametrize("time", ["\u0660\u0669:00", "09:\u0660\u0660", "09:00\n", "9:00", "24:00"])
def test_times_of_day_take_ascii_digits_only(time):
    nodes = node(id='"w"', kind='"wait"', config=json.dumps({"mode": "time_of_day", "time": time}))
    assert refused(doc(nodes=TRIGGER + ", " + nodes)).pointer == "/nodes/1/config/time"


@pytest.mark.parametrize("until", ["\u0662\u0660\u0662\u0667-01-01T09:00:00+00:00",
                                   "2027-01-01T09:00:00+\u0660\u0660:00"])
def test_dates_take_ascii_digits_only(until):
    nodes = node(id='"w"', kind='"wait"', config=json.dumps({"mode": "until_date", "until": until}))
    assert refused(doc(nodes=TRIGGER + ", " + nodes)).pointer == "/nodes/1/config/until"


def test_a_journey_built_in_code_with_a_nan_is_refused_by_the_reader_of_its_document():
    from app.journey.fileformat import from_document, to_document

    journey = linear(email())
    document = to_document(journey)
    document["nodes"][0]["position"] = [float("nan"), 0]
    with pytest.raises(JourneyFileError) as caught:
        from_document(document, "draft")
    assert caught.value.pointer == "/nodes/0/position/0"


def test_first_fault_is_none_for_what_the_app_writes():
    journey = linear(email())
    assert first_fault(json.loads(dumps(journey))) is None
    assert first_fault({"a": [1, 2.5, "x", None, True, {"b": -0.0}]}) is None


def test_a_negative_zero_and_an_exponent_integer_read_as_both_databases_return_them():
    journey = loads(doc(nodes=node(position="[-0.0, 1e20]")))
    x, y = journey.nodes["t"].position
    assert str(x) == "0.0" and y == 1e20


def test_dumps_keeps_number_pairs_on_one_line_but_never_rewrites_text():
    journey = Journey(name="[ 1, 2 ]")
    journey.add_node("trigger", position=(3, 4), name="[\t5,  6 ]")
    text = dumps(journey)
    assert '"position": [3, 4]' in text
    assert loads(text) == journey


def test_an_id_or_name_with_a_line_break_keeps_the_error_on_one_line():
    error = refused(doc(nodes=node(id='"two\\nlines"', kind='"send_fax"')))
    assert "(node two\\nlines)" in str(error)
    error = refused(doc(nodes=TRIGGER + ", " + TRIGGER.replace('"t"', '"a\\rb"') + ", " + TRIGGER.replace('"t"', '"a\\rb"')))
    assert "node id a\\rb is used twice" in str(error)
