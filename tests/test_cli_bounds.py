"""`journeys validate` on the files of issue 9 ("Values are bounded where they enter"), run as a user runs
it: a file it cannot read exits 2 with one line naming the file and the JSON pointer; a file it reads
whose values are out of range exits 1 with the field and the allowed range; never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.journey.fileformat import dumps

from .journey.helpers import email, linear

HEAD = '"format": "journey/1", "id": "j1", "name": "Carts"'
TRIGGER = {"id": "t", "kind": "trigger", "config": {"mode": "event", "event": "cart_abandoned"}}


def journeys(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=60)


def with_wait(config: dict) -> str:
    journey = linear(("wait", {"mode": "duration"}))
    document = json.loads(dumps(journey))
    document["nodes"][1]["config"].update(config)
    return json.dumps(document)


UNREADABLE = [   # (name, text, pointer and words on the one line)
    ("notes-null", '{"format":"journey/1","id":"x","name":"x","nodes":[],"notes":null}',
     "at /notes: expected a list of sticky notes, got null"),
    ("edges-number", "{" + HEAD + ', "nodes": [], "edges": 3}', "at /edges: expected a list of edges, got a number"),
    ("position-400-digits", "{" + HEAD + ', "nodes": [{"id": "t", "kind": "trigger", "position": [' + "4" * 400
     + ", 0]}]}", "at /nodes/0/position/0: a number with 400 digits is too large"),
    ("nested-1000", "{" + HEAD + ', "nodes": [], "x": ' + "[" * 1000 + "]" * 1000 + "}", "is nested too deeply"),
    ("int-4301-digits", "{" + HEAD + ', "nodes": [], "x": ' + "5" * 4301 + "}", "at /x: a number with 4301 digits"),
    ("surrogate-step-name", "{" + HEAD + ', "nodes": [{"id": "t", "kind": "trigger", "name": "Hi \\ud83d"}]}',
     "at /nodes/0/name: contains a lone surrogate (\\ud83d)"),
    ("nan-position", "{" + HEAD + ', "nodes": [{"id": "t", "kind": "trigger", "position": [NaN, 1]}]}',
     "at /nodes/0/position/0: NaN is not a number JSON allows"),
    ("kind-version-true", "{" + HEAD + ', "nodes": [{"id": "t", "kind": "trigger", "kind_version": true}]}',
     "at /nodes/0/kind_version (node t): expected the kind version as a whole number"),
    ("format-arabic-digit", '{"format": "journey/\u0661", "id": "j1", "name": "x", "nodes": []}',
     "at /format: is not a journey file: format is 'journey/\u0661'"),
]


@pytest.mark.parametrize("name, text, words", UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_an_unreadable_file_exits_2_with_one_line_naming_file_and_pointer(tmp_path: Path, name, text, words):
    path = tmp_path / f"{name}.json"
    path.write_text(text, encoding="utf-8")
    result = journeys("validate", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{path} {words}") or line.startswith(f"{path}: {words}"), line


OUT_OF_RANGE = [   # (name, text, words on stdout)
    ("wait-1e9-days", with_wait({"delay": {"amount": 10**9, "unit": "days"}}),
     "Wait for must be at most 5 years: 1,825 days"),
    ("wait-until-year-9999", with_wait({"mode": "until_date", "until": "9999-12-31T23:59:59-14:00"}),
     "Until 9999-12-31T23:59:59-14:00 must be within 100 years of today"),
]


@pytest.mark.parametrize("name, text, words", OUT_OF_RANGE, ids=[o[0] for o in OUT_OF_RANGE])
def test_a_value_out_of_range_exits_1_with_the_allowed_range(tmp_path: Path, name, text, words):
    path = tmp_path / f"{name}.json"
    path.write_text(text, encoding="utf-8")
    for args in ([], ["--active"]):
        result = journeys("validate", *args, str(path))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and words in result.stdout


def test_status_window_cap_and_conversion_window_out_of_range_exit_1(tmp_path: Path):
    journey = linear(email(), ("message_status", {"window": {"amount": 10**11, "unit": "minutes"}}))
    journey.nodes[list(journey.nodes)[2]].config["step"] = list(journey.nodes)[1]
    journey.settings["frequency_cap"].update(enabled=True, hours=10**9)
    journey.settings["conversion_window"] = {"amount": 10**9, "unit": "days"}
    path = tmp_path / "windows.json"
    path.write_text(dumps(journey), encoding="utf-8")
    result = journeys("validate", "-q", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Within must be at most 5 years: 2,628,000 minutes" in result.stdout
    assert "Per must be between 1 and 43,800 hours" in result.stdout
    assert "Conversion window must be at most 5 years: 1,825 days" in result.stdout


def test_a_file_with_a_bom_is_read(tmp_path: Path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + dumps(linear(email())).encode("utf-8"))
    result = journeys("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{path}: valid" in result.stdout


def test_a_name_the_store_cannot_keep_is_one_line_on_import(tmp_path: Path):
    journey = linear(email(), name="n" * 201)
    path = tmp_path / "long.json"
    path.write_text(dumps(journey), encoding="utf-8")
    assert "The journey's name is longer than 200 characters" in journeys("validate", str(path)).stdout
    result = journeys("import", str(path), "--db", str(tmp_path / "db.sqlite3"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert "longer than 200 characters" in line
