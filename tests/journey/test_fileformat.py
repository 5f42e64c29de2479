import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.journey import fileformat
from app.journey.fileformat import JourneyFileError, dumps, load, loads, save, to_document
from app.journey.model import Journey
from app.journey.registry import NodeKind
from app.journey.schema import INT, Field

from .helpers import email, linear

# Any text a journey can hold: NUL is refused (PostgreSQL cannot store it), lone surrogates are not text.
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=30)
coords = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False)
KIND_CONFIGS = {
    "send_template": st.fixed_dictionaries({
        "channel": st.sampled_from(["email", "sms", "whatsapp"]), "subject": text, "text": text, "message": text,
        "timing": st.sampled_from(["now", "scheduled", "next_window"]),
        "terms": st.lists(st.fixed_dictionaries({"term": st.sampled_from(["has_tag", "opened_previous"]),
                                                 "value": text}), max_size=2)}),
    "wait": st.fixed_dictionaries({"mode": st.sampled_from(["duration", "time_of_day", "until_date"]),
                                   "delay": st.fixed_dictionaries({"amount": st.integers(0, 10_000),
                                                                   "unit": st.sampled_from(["minutes", "hours", "days"])}),
                                   "weekdays": st.lists(st.sampled_from(["mon", "wed", "sun"]), unique=True),
                                   "timezone": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", ""])}),
    "message_status": st.fixed_dictionaries({"status": st.sampled_from(["opened", "clicked", "failed"]),
                                             "window": st.fixed_dictionaries({"amount": st.integers(1, 99),
                                                                              "unit": st.just("hours")})}),
    "tag": st.fixed_dictionaries({"add": st.lists(text, max_size=3), "remove": st.lists(text, max_size=3)}),
}


@st.composite
def journeys(draw) -> Journey:
    journey = Journey(name=draw(text), description=draw(text))
    journey.settings["retrigger"] = draw(st.sampled_from(["ignore", "restart", "parallel"]))
    journey.settings["timezone"] = draw(st.sampled_from(["", "Europe/Berlin", "Australia/Sydney"]))
    journey.settings["quiet_hours"]["start"] = draw(st.sampled_from(["20:00", "22:30"]))
    trigger = journey.add_node("trigger", {"threshold": draw(st.floats(0, 1e6, allow_nan=False))},
                               position=(draw(coords), draw(coords)))
    ids = [trigger.id]
    for kind in draw(st.lists(st.sampled_from(sorted(KIND_CONFIGS)), max_size=8)):
        node = journey.add_node(kind, draw(KIND_CONFIGS[kind]), position=(draw(coords), draw(coords)), name=draw(text))
        node.ends = tuple(draw(st.lists(st.sampled_from([o.name for o in node.spec.outcomes]), unique=True)))
        ids.append(node.id)
    for source, target in draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=10)):
        journey.connect(source, target, draw(st.sampled_from([o.name for o in journey.nodes[source].spec.outcomes])))
    for _ in range(draw(st.integers(0, 2))):
        journey.add_note(draw(text), (draw(coords), draw(coords)))
    return journey


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys())
def test_save_and_load_keep_everything(journey):
    again = loads(dumps(journey))
    assert again == journey                      # same ids, configs, positions, edges, notes, settings
    assert dumps(again) == dumps(journey)


def test_file_round_trip_keeps_ids_and_positions(tmp_path: Path):
    journey = linear(email(), ("wait", {"delay": {"amount": 2, "unit": "hours"}}))
    journey.nodes[next(iter(journey.nodes))].position = (12.5, -40.0)
    path = tmp_path / "j.json"
    save(journey, path)
    assert load(path) == journey
    assert json.loads(path.read_text())["format"] == "journey/1"


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path: Path, monkeypatch):
    path = tmp_path / "j.json"
    save(linear(email()), path)
    before = path.read_text()
    monkeypatch.setattr(fileformat, "dumps", lambda j: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        save(linear(email(subject="other")), path)
    assert path.read_text() == before            # the old file is intact
    monkeypatch.undo()
    monkeypatch.setattr(fileformat.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("no space")))
    with pytest.raises(OSError):
        save(linear(email(subject="other")), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"]


def _doc() -> dict:
    return to_document(linear(email(), ("wait", {})))


def _error(data, tmp_path: Path) -> JourneyFileError:
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(JourneyFileError) as info:
        load(path)
    assert str(path) in str(info.value)          # every error names the file
    return info.value


def test_corrupt_file_says_where_the_json_breaks(tmp_path):
    error = _error('{"format": "journey/1", "nodes": [', tmp_path)
    assert "not valid JSON" in error.message and "line 1" in error.message


def test_wrong_format_version_says_what_to_do(tmp_path):
    newer = {**_doc(), "format": "journey/7"}
    assert "newer Journey Studio" in _error(newer, tmp_path).message
    other = {**_doc(), "format": "workflow/1"}
    assert "expected \"journey/1\"" in _error(other, tmp_path).message
    assert "no \"format\" field" in _error({"nodes": []}, tmp_path).message


def test_missing_field_is_named_with_its_pointer(tmp_path):
    doc = _doc()
    del doc["nodes"][1]["kind"]
    error = _error(doc, tmp_path)
    assert error.pointer == "/nodes/1/kind" and error.node_id == doc["nodes"][1]["id"]
    assert 'missing field "kind"' in error.message


def test_wrong_value_names_node_and_field(tmp_path):
    doc = _doc()
    doc["nodes"][2]["config"]["delay"]["unit"] = "fortnights"
    error = _error(doc, tmp_path)
    assert error.pointer == "/nodes/2/config/delay/unit"
    assert error.node_id == doc["nodes"][2]["id"]
    assert "expected one of minutes, hours, days, weeks" in error.message and "'fortnights'" in error.message


def test_unknown_kind_and_dangling_edge(tmp_path):
    doc = _doc()
    doc["nodes"][1]["kind"] = "send_fax"
    assert "unknown node kind 'send_fax'" in _error(doc, tmp_path).message
    doc = _doc()
    doc["edges"][0]["target"] = "nowhere"
    error = _error(doc, tmp_path)
    assert error.pointer == "/edges/0/target" and "does not exist" in error.message


def test_defaults_are_filled_and_unknown_keys_kept():
    doc = _doc()
    wait = doc["nodes"][2]
    wait["config"] = {"mode": "duration", "written_by_a_newer_app": 1}
    journey = fileformat.from_document(doc)
    config = journey.nodes[wait["id"]].config
    assert config["delay"] == {"amount": 1, "unit": "days"} and config["written_by_a_newer_app"] == 1


def test_older_formats_go_through_the_migration_chain(monkeypatch):
    def from_1_to_2(doc):
        return {**doc, "format": "journey/2", "name": doc["name"].upper()}

    monkeypatch.setattr(fileformat, "CURRENT_VERSION", 2)
    monkeypatch.setitem(fileformat.MIGRATIONS, 1, from_1_to_2)
    assert fileformat.from_document(_doc()).name == "TEST JOURNEY"


def test_node_configs_of_older_kind_versions_are_upgraded():
    kind = NodeKind(id="demo", version=2, title="Demo", description="", icon="", colour="#000000",
                    schema=(Field("minutes", INT, "Minutes"),), summarize=str,
                    migrations={1: lambda c: {"minutes": c["hours"] * 60}})
    assert kind.load_config({"hours": 2}, written_version=1) == {"minutes": 120}


def test_the_documented_example_is_a_valid_journey():
    from app.journey.validate import validate
    from app.paths import ROOT

    doc = (ROOT / "docs" / "journey-format.md").read_text()
    example = doc.rsplit("```json", 1)[1].split("```", 1)[0]
    journey = loads(example, "docs/journey-format.md")
    assert journey.nodes["n-opened"].config["step"] == "n-email"
    assert validate(journey) == []


def test_a_file_saved_with_a_byte_order_mark_reads_as_written(tmp_path):
    from app.examples import load_example
    from app.journey.fileformat import dumps

    journey = load_example("cart_abandonment")
    path = tmp_path / "cart.json"
    path.write_bytes(b"\xef\xbb\xbf" + dumps(journey).replace("\n", "\r\n").encode("utf-8"))
    assert dumps(load(path)) == dumps(journey)
