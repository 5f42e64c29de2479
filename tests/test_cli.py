"""The `journeys` command, run as a user would: a real process, real files, a real SQLite file."""
import json
import subprocess
import sys
from pathlib import Path

from app.journey.fileformat import load, save, to_document
from app.paths import EXAMPLES

from .journey.helpers import email, linear

EXAMPLE_FILES = sorted(str(p) for p in EXAMPLES.glob("*.json"))


def journeys(*args: str, db: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "app.cli", *args]
    if db is not None:
        command += ["--db", str(db)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_validate_exits_0_for_the_examples():
    result = journeys("validate", *EXAMPLE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": valid") == len(EXAMPLE_FILES) == 6


def test_validate_prints_each_problem_with_file_node_and_title(tmp_path):
    journey = linear(email(subject=""), name="Broken")
    send = list(journey.nodes.values())[1]
    send.name = "Reminder"
    path = tmp_path / "broken.json"
    save(journey, path)
    result = journeys("validate", str(path))
    assert result.returncode == 1
    assert f"{path}: node {send.id} (Reminder): Subject is empty" in result.stdout.splitlines()


def test_warnings_alone_pass_unless_strict(tmp_path):
    journey = linear(email())
    list(journey.nodes.values())[-1].ends = ()
    path = tmp_path / "open-ended.json"
    save(journey, path)
    assert journeys("validate", str(path)).returncode == 0
    assert journeys("validate", "--strict", str(path)).returncode == 1


def test_unreadable_files_exit_2_with_one_clear_line(tmp_path):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{ not json")
    result = journeys("validate", str(corrupt), str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{corrupt}: is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 3",
                     f"{tmp_path / 'missing.json'}: no such file"]
    not_journey = tmp_path / "data.json"
    not_journey.write_text(json.dumps([1, 2]))
    assert "is not a journey file" in journeys("validate", str(not_journey)).stderr


def test_import_then_export_gives_the_same_journey(tmp_path):
    db = tmp_path / "store.sqlite3"
    source = EXAMPLES / "cart_abandonment.json"
    result = journeys("import", str(source), db=db)
    assert result.returncode == 0 and "Imported 'Cart abandonment'" in result.stdout
    again = journeys("import", str(source), db=db)
    assert again.returncode == 2 and "--replace" in again.stderr
    out = tmp_path / "out" / "cart.json"
    assert journeys("export", "Cart abandonment", str(out), db=db).returncode == 0
    assert to_document(load(out)) == to_document(load(source))
    assert "Cart abandonment" in journeys("list", db=db).stdout


def test_export_of_an_unknown_journey_names_the_ones_that_exist(tmp_path):
    db = tmp_path / "store.sqlite3"
    journeys("import", str(EXAMPLES / "win_back.json"), db=db)
    result = journeys("export", "Nope", str(tmp_path / "x.json"), db=db)
    assert result.returncode == 2 and "no journey named 'Nope'" in result.stderr and "'Win-back'" in result.stderr
