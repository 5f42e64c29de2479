"""Fuzz tests of the input boundaries (issue 9, section 1): mutated journey files through the reader,
`validate` and the `journeys` commands that read them; mutated contacts CSVs through the importer
and `journeys contacts import`; mutated events files through the importer and `journeys events
import`. Whatever the file holds, no exception escapes a boundary function except the one it
documents, and every command exits 0, 1 or 2 — never 3 (a bug), never with a traceback. A bounded
number of examples per test keeps `make test` quick; hypothesis keeps what failed and tries it first
next time (.hypothesis/)."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.cli import format_problem, main
from app.engine.importers import parse_contacts, parse_events
from app.journey.fileformat import JourneyFileError, dumps, loads
from app.journey.validate import validate
from app.paths import RESOURCES

from .fuzz_inputs import contacts_files, events_files, journey_files

def fuzz(examples: int) -> settings:
    """`examples` examples, however long each takes (no timing assertions: the machine may be busy)."""
    import os
    examples = int(os.environ.get("FUZZ_SCALE", "1")) * examples
    return settings(max_examples=examples, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def store(workdir: Path) -> Iterator[str]:
    """One SQLite database for all examples of a test module, holding the sample contacts."""
    path = workdir / "store.sqlite3"
    with pytest.MonkeyPatch.context() as env:      # the per-test log file is not set up yet at this scope
        env.setenv("JOURNEYS_LOG_FILE", str(workdir / "setup.log"))
        code, _out, err = journeys("contacts", "import", str(RESOURCES / "sample_contacts.csv"), "--db", str(path))
    assert code == 0, err
    yield str(path)


def journeys(*args: str) -> tuple[int, str, str]:
    """`journeys ARGS` run in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def assert_clean_exit(result: tuple[int, str, str], log_file: Path) -> int:
    """The command exited 0, 1 or 2 without a traceback; exit 2 said why in one line on stderr."""
    code, _out, err = result
    if code not in (0, 1, 2):
        details = log_file.read_text(encoding="utf-8")[-4000:] if log_file.exists() else "(no log file)"
        pytest.fail(f"exit {code}: {err}\n{details}")
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err
    event(f"exit {code}")       # `pytest --hypothesis-show-statistics` shows how the examples ended
    return code


def _write(workdir: Path, name: str, raw: bytes) -> Path:
    path = workdir / name
    path.write_bytes(raw)
    return path


def _one_line(text: str) -> None:
    assert text and "\n" not in text and "\r" not in text, repr(text)


# --- journey files -------------------------------------------------------------------------------------------

@fuzz(150)
@given(journey_files())
def test_a_mutated_journey_is_refused_in_one_line_or_read_validated_and_written_back(raw):
    """`loads` raises only JourneyFileError (naming the file); a journey it reads validates as a
    draft and as about to run, and is written back and read again unchanged."""
    text = raw.decode("utf-8", "surrogateescape")
    try:
        journey = loads(text, "fuzz.json")
    except JourneyFileError as exc:     # printed through exits.one_line: see the CLI tests below
        assert str(exc).startswith("fuzz.json") and exc.message
        event("refused")
        return
    event("read")
    for active in (False, True):
        for problem in validate(journey, active=active):
            assert problem.message and problem.severity in ("error", "warning")
            format_problem("fuzz.json", journey, problem)
    assert loads(dumps(journey)) == journey


@fuzz(80)
@given(journey_files())
def test_validate_and_import_of_a_mutated_journey_exit_0_1_or_2(workdir, store, log_file, raw):
    path = _write(workdir, "journey.json", raw)
    codes = set()
    for args in (["validate", str(path)], ["validate", "--active", "--strict", "-q", str(path)]):
        result = journeys(*args)
        codes.add(assert_clean_exit(result, log_file))
        for line in result[1].splitlines():         # each problem on one line, its hint below it
            assert line.startswith((f"{path}: ", "    hint: ")), line
    imported = assert_clean_exit(journeys("import", "--replace", str(path), "--db", store), log_file)
    assert imported in (0, 2)                       # a journey with problems is still imported, as a draft
    if 2 in codes:
        assert imported == 2                        # what validate cannot read, import cannot either


@fuzz(25)
@given(journey_files())
def test_simulating_a_mutated_journey_exits_0_1_or_2(workdir, log_file, raw):
    path = _write(workdir, "journey.json", raw)
    assert_clean_exit(journeys("simulate", str(path), "--contacts", str(RESOURCES / "sample_contacts.csv"),
                               "--events", str(RESOURCES / "sample_events.jsonl")), log_file)


# --- contacts ------------------------------------------------------------------------------------------------

@fuzz(150)
@given(contacts_files())
def test_a_mutated_contacts_file_gives_rows_and_one_line_problems(raw):
    text = raw.decode("utf-8", "replace")
    rows, problems = parse_contacts(text)
    for problem in problems:
        assert problem.line >= 1
        _one_line(str(problem))                     # printed as `FILE: line N: reason (skipped)`
    assert len({r.id for r in rows}) == len(rows)      # a contact twice in a file is reported, not kept twice


@fuzz(80)
@given(contacts_files())
def test_journeys_contacts_import_of_a_mutated_file_exits_0_1_or_2(workdir, store, log_file, raw):
    path = _write(workdir, "contacts.csv", raw)
    code = assert_clean_exit(journeys("contacts", "import", str(path), "--db", store), log_file)
    if code == 0:
        assert "Imported contacts from" in journeys("contacts", "import", str(path), "--db", store)[1]


# --- events --------------------------------------------------------------------------------------------------

@fuzz(150)
@given(events_files())
def test_a_mutated_events_file_gives_events_and_problems_by_line(raw):
    text = raw.decode("utf-8", "replace")
    found, problems = parse_events(text)
    lines = text.split("\n")
    for problem in problems:
        assert 1 <= problem.line <= len(lines) and str(problem).startswith(f"line {problem.line}: ")
        _one_line(str(problem))


@fuzz(80)
@given(events_files())
def test_journeys_events_import_of_a_mutated_file_exits_0_1_or_2(workdir, store, log_file, raw):
    path = _write(workdir, "events.jsonl", raw)
    code = assert_clean_exit(journeys("events", "import", str(path), "--db", store), log_file)
    if code in (0, 1):      # imported: a second run adds nothing and reports the same bad lines
        again = assert_clean_exit(journeys("events", "import", str(path), "--db", store), log_file)
        assert again == code
