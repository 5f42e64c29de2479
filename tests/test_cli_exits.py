"""Exit codes mean one thing each (issue 9, section 1): 0 ok, 1 the input has problems, 2 an input cannot
be read or used, 3 a bug — one line on stderr naming the log file that holds the traceback. Never a
traceback on stderr. The issue's examples run through the real `journeys` command in a process of its
own; the other cases, every command with input it cannot use, run `main` in this process."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import app.cli
import app.engine.file_import
import app.engine_cli
from app.cli import main
from app.paths import EXAMPLES, RESOURCES

REPO = Path(__file__).resolve().parents[1]
CART = json.loads((EXAMPLES / "cart_abandonment.json").read_text(encoding="utf-8"))
CONTACTS = RESOURCES / "sample_contacts.csv"
EVENTS = RESOURCES / "sample_events.jsonl"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`journeys ARGS` in a process of its own (the log file is the test's: $JOURNEYS_LOG_FILE)."""
    env = {**os.environ}
    env.pop("JOURNEYS_DB", None)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd or REPO, env=env)


def journeys(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _cart(**changes: object) -> dict:
    document = json.loads(json.dumps(CART))
    document.update(changes)
    return document


def _with_node(change) -> dict:     # type: ignore[no-untyped-def]
    document = _cart()
    change(document["nodes"])
    return document


def _send(nodes: list) -> dict:
    return next(n for n in nodes if n["kind"] == "send_template")


def _subject(text: str):            # type: ignore[no-untyped-def]
    return lambda nodes: _send(nodes)["config"].__setitem__("subject", text)


SMALL = {"format": "journey/1", "id": "x", "name": "x", "nodes": []}
DEEP = "(" * 5000 + "1" + ")" * 5000

# (file text or bytes, exit code, what stderr says when the code is 2 / stdout when 1)
ISSUE_EXAMPLES = {
    "notes null": (json.dumps({**SMALL, "notes": None}), 2, "/notes"),
    "edges a number": (json.dumps({**SMALL, "edges": 5}), 2, "/edges"),
    "a 400-digit position": (json.dumps(_with_node(lambda n: n[0].__setitem__("position", [10**400, 0]))), 2,
                             "/nodes/0/position"),
    "JSON nested 1,000 deep": ('{"format": "journey/1", "nodes": ' + "[" * 1000 + "]" * 1000 + "}", 2, "nest"),
    "an integer of 4,400 digits": ('{"format": "journey/1", "id": "x", "name": "x", "nodes": [], "n": '
                                   + "7" * 4400 + "}", 2, "digits"),
    "a template 5,000 parentheses deep": (json.dumps(_with_node(_subject("{{ " + DEEP + " }}"))), 1, "Subject"),
    "a BOM before the JSON": ("\ufeff" + json.dumps(CART), 0, ""),
}
# Further cases of the same class: each refused in one line (2), found as a problem (1), or read (0).
FURTHER_CASES = {
    "nodes null": (json.dumps({**SMALL, "nodes": None}), 2, "/nodes"),
    "notes a text": (json.dumps({**SMALL, "notes": "remember"}), 2, "/notes"),
    "edges an object": (json.dumps({**SMALL, "edges": {"a": 1}}), 2, "/edges"),
    "a negative 400-digit size": (json.dumps({**SMALL, "notes": [{"id": "n", "text": "", "position": [0, 0],
                                                                  "size": [-(10**400), 1]}]}), 2, "/notes/0/size"),
    "a position of 1e400": (json.dumps(_with_node(lambda n: n[0].__setitem__("position", [0, 0])))
                            .replace("[0.0, 0.0]", "[1e400, 0]").replace("[0, 0]", "[1e400, 0]", 1), 2, "position"),
    "a config that is a list": (json.dumps(_with_node(lambda n: n[1].__setitem__("config", [1, 2]))), 2, "/config"),
    "objects nested 5,000 deep": ('{"format": "journey/1", "x": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}", 2,
                                  "nest"),
    "a JSON array": ("[]", 2, "not a journey file"),
    "a number": ("7" * 5000, 2, "digits"),
    "an empty file": ("", 2, "not valid JSON"),
    "a BOM alone": ("\ufeff", 2, "not valid JSON"),
    "UTF-16": (json.dumps(CART).encode("utf-16"), 2, "cannot be read"),
    "Latin-1 bytes": (json.dumps(SMALL).replace('"x"', '"caf\\u00e9"').encode().replace(b"\\u00e9", b"\xe9"), 2,
                      "cannot be read"),
    "brackets in a body nested 5,000 deep": (json.dumps(_with_node(lambda n: _send(n)["config"].__setitem__(
        "html", "{{ " + "[" * 5000 + "1" + "]" * 5000 + " }}"))), 1, ""),
    "tags nested 1,000 deep": (json.dumps(_with_node(_subject("{% if a %}" * 1000 + "{% endif %}" * 1000))), 1,
                               "Subject"),
    "a BOM and Windows line ends": ("\ufeff" + json.dumps(CART, indent=2).replace("\n", "\r\n"), 0, ""),
}


def _file(tmp_path: Path, content: str | bytes, name: str = "journey.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", list(ISSUE_EXAMPLES))
def test_each_example_of_the_issue_exits_with_its_code_through_the_real_command(tmp_path, log_file, case):
    content, code, says = ISSUE_EXAMPLES[case]
    path = _file(tmp_path, content)
    result = run("validate", str(path))
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if code == 2:
        assert says in one_line(result.stderr) and str(path) in result.stderr
    elif code == 1:
        assert says in result.stdout and "too deeply" in result.stdout if "parentheses" in case else True
    else:
        assert result.stdout.strip() == f"{path}: valid"
    assert not log_file.exists() or "Traceback" not in log_file.read_text(encoding="utf-8")


def test_a_lone_surrogate_in_a_step_name_never_crashes_a_command(tmp_path, log_file):
    """Refused by the reader where it refuses surrogates (exit 2); else read and printed escaped."""
    text = json.dumps(_with_node(lambda n: _send(n).__setitem__("name", "Reminder \ud800")))
    path = _file(tmp_path, text)
    db = str(tmp_path / "db.sqlite3")
    for args in (["validate", str(path)], ["import", str(path), "--db", db], ["simulate", str(path)]):
        result = run(*args)
        assert result.returncode in (0, 2), (args, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        if result.returncode == 2:
            one_line(result.stderr)


@pytest.mark.parametrize("case", list(FURTHER_CASES))
def test_further_cases_of_the_class_through_validate_import_and_simulate(tmp_path, case):
    content, code, says = FURTHER_CASES[case]
    path = _file(tmp_path, content)
    got, out, err = journeys("validate", str(path))
    assert got == code, (out, err)
    if code == 2:
        assert says in one_line(err)
    elif code == 1:
        assert says in out
    db = str(tmp_path / "db.sqlite3")
    imported, _out, err = journeys("import", str(path), "--db", db)
    assert imported == (2 if code == 2 else 0), err
    simulated, _out, err = journeys("simulate", str(path), "--contacts", str(CONTACTS), "--events", str(EVENTS))
    assert simulated == code, err       # a journey with errors is not simulated: exit 1, like validate
    assert "Traceback" not in err


# --- every command: input it cannot use exits 2 in one line; input with problems exits 1 ----------------------

@pytest.fixture
def store(tmp_path: Path) -> str:
    db = str(tmp_path / "store.sqlite3")
    assert journeys("import", str(EXAMPLES / "cart_abandonment.json"), "--db", db)[0] == 0
    assert journeys("contacts", "import", str(CONTACTS), "--db", db)[0] == 0
    return db


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "missing": tmp_path / "missing.file",
        "a folder": tmp_path,
        "not UTF-8": _file(tmp_path, b"\xff\xfe\x81\x8d\x00garbage", "binary.bin"),
    }


COMMANDS_ON_A_FILE = [
    ["validate", "{file}"], ["import", "{file}", "--db", "{db}"], ["contacts", "import", "{file}", "--db", "{db}"],
    ["events", "import", "{file}", "--db", "{db}"], ["simulate", "{file}"],
    ["simulate", str(EXAMPLES / "cart_abandonment.json"), "--contacts", "{file}"],
    ["simulate", str(EXAMPLES / "cart_abandonment.json"), "--events", "{file}"],
]


@pytest.mark.parametrize("command", COMMANDS_ON_A_FILE, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("kind", ["missing", "a folder", "not UTF-8"])
def test_a_file_that_cannot_be_read_exits_2_in_one_line_naming_it(tmp_path, store, command, kind):
    path = _bad_files(tmp_path)[kind]
    args = [a.format(file=path, db=store) for a in command]
    code, _out, err = journeys(*args)
    assert code == 2, err
    assert str(path) in one_line(err)


@pytest.mark.parametrize("text, what", [
    ("", "empty"), ("\ufeff", "empty"), ("name,first_name\nann@example.com,Ann\n", "name no id, email or phone"),
    ("\n\nemail\nann@example.com\n", "name no id, email or phone"),
    ("id,first\r_name\nann,Ann\n", "cannot be read as CSV"),
])
def test_a_contacts_file_without_a_usable_header_exits_1_and_imports_nothing(tmp_path, store, text, what):
    # Issue 12: 1 when the header is unusable (2 is for a file that cannot be read at all).
    path = _file(tmp_path, text, "contacts.csv")
    code, out, err = journeys("contacts", "import", str(path), "--db", store)
    assert code == 1 and what in one_line(err) and "nothing was imported" in err and out == ""


def test_bad_rows_and_lines_are_listed_and_the_good_ones_kept_with_exit_0(tmp_path, store):
    contacts = _file(tmp_path, "id,email\nnew1,new1@example.com\n,nobody@example.com\n,not an email\n",
                     "contacts.csv")
    code, out, err = journeys("contacts", "import", str(contacts), "--db", store)
    # Issue 12: rows were imported, so exit 0 with the bad one reported; a row without an id is
    # matched (and named) by its email.
    assert code == 0 and "2 new" in out and err.count("(skipped)") == 1
    events = _file(tmp_path, '{"contact": "new1", "type": "x", "at": "2026-03-01T10:00:00Z"}\n{oops\n'
                              '{"contact": "new1", "type": "y", "at": "2026-03-01T10:00:00Z", "properties": '
                             + "[" * 300 + "]" * 300 + "}\n", "events.jsonl")
    code, out, err = journeys("events", "import", str(events), "--db", store)
    assert code == 0 and "1 new" in out and "line 2:" in err and "line 3:" in err and "Traceback" not in err
    code, out, err = journeys("simulate", str(EXAMPLES / "cart_abandonment.json"), "--contacts", str(contacts),
                              "--events", str(events))
    assert code == 1 and "Simulated without 1 bad contact row(s) and 2 bad event line(s)" in err


@pytest.mark.parametrize("args, says", [
    (["export", "Nope", "{tmp}/out.json"], "no journey named 'Nope'"),
    (["export", "Cart abandonment", "{tmp}"], "cannot be written"),
    (["activate", "Nope"], "no journey named 'Nope'"),
    (["publish", "Nope"], "no journey named 'Nope'"),
    (["stats", "Nope"], "no journey named 'Nope'"),
    (["stats", "Cart abandonment", "--since", "last tuesday"], "--since 'last tuesday' is not an ISO-8601 time"),
    (["contacts", "show", "nobody"], "no contact with id 'nobody'"),
    (["settings", "timezone", "Mars/Olympus"], "Mars/Olympus"),
    (["simulate", str(EXAMPLES / "cart_abandonment.json"), "--start", "2026-03-02", "--until", "2026-03-01"],
     "--until must be after --start"),
    (["simulate", str(EXAMPLES / "cart_abandonment.json"), "--timezone", "Nowhere/Town"], "--timezone"),
    (["simulate", str(EXAMPLES / "cart_abandonment.json"), "--log", "{tmp}"], "cannot be written"),
    (["import", str(EXAMPLES / "cart_abandonment.json")], "--replace"),
])
def test_every_command_refuses_what_it_cannot_use_with_exit_2_in_one_line(tmp_path, store, args, says):
    code, _out, err = journeys(*[a.format(tmp=tmp_path) for a in args], "--db", store)
    assert code == 2, err
    assert says in one_line(err) and one_line(err).startswith("journeys ")


@pytest.mark.parametrize("db", ["{tmp}", "{tmp}/garbage.sqlite3", "nonsense://x",
                                "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"])
@pytest.mark.parametrize("command", [["list"], ["stats", "x"], ["contacts", "show", "x"], ["settings"],
                                     ["export", "x", "out.json"], ["activate", "x"], ["validate", "--db"]])
def test_a_database_that_cannot_be_used_exits_2_in_one_line_for_every_command(tmp_path, db, command):
    (tmp_path / "garbage.sqlite3").write_bytes(b"this is not a database" * 100)
    url = db.format(tmp=tmp_path)
    args = [*command, url, str(EXAMPLES / "cart_abandonment.json")] if command[-1] == "--db" else [*command,
                                                                                                    "--db", url]
    code, _out, err = journeys(*args)
    assert code == 2, err
    line = one_line(err)
    assert line.startswith("journeys ") and "secret" not in line


@pytest.mark.parametrize("args, says", [
    ([], "the following arguments are required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["validate"], "the following arguments are required: FILE"),
    (["validate", "--no-such-option", "x.json"], "unrecognized arguments: --no-such-option"),
    (["contacts"], "the following arguments are required: ACTION"),
    (["events", "import"], "the following arguments are required: FILE.jsonl"),
    (["settings", "colour"], "invalid choice: 'colour'"),
    (["simulate", "j.json", "--contacts"], "expected one argument"),
])
def test_a_usage_error_exits_2_in_one_line_with_where_to_find_help(args, says):
    code, out, err = journeys(*args)
    assert code == 2 and out == ""
    line = one_line(err)
    assert says in line and "--help" in line


def test_help_exits_0():
    code, out, _err = journeys("--help")
    assert code == 0 and "validate" in out


# --- a bug: exit 3, one line, the traceback in the log file ------------------------------------------------

def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("the frobnicator\nbroke")


def test_an_internal_error_exits_3_with_one_line_and_the_traceback_in_the_log_file(tmp_path, log_file,
                                                                                     monkeypatch):
    monkeypatch.setattr(app.cli, "validate", _boom)
    code, out, err = journeys("validate", str(EXAMPLES / "cart_abandonment.json"))
    assert code == 3
    line = one_line(err)
    assert line.startswith("journeys validate: internal error (a bug")
    assert "RuntimeError: the frobnicator\\nbroke" in line and line.endswith(f"the details are in {log_file}")
    logged = log_file.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in logged and "in _boom" in logged
    assert "RuntimeError: the frobnicator" in logged and "journeys validate: internal error" in logged


@pytest.mark.parametrize("command, target, name", [
    (["events", "import", str(EVENTS)], app.engine.file_import, "import_events_file"),
    (["contacts", "import", str(CONTACTS)], app.engine.file_import, "import_contacts_file"),
    (["simulate", str(EXAMPLES / "cart_abandonment.json"), "--events", str(EVENTS)], app.engine_cli, "_events"),
    (["list"], app.cli, "_open_store"),
    (["stats", "Cart abandonment"], app.engine_cli, "_in_order"),
    (["simulate", str(EXAMPLES / "cart_abandonment.json")], app.engine_cli, "_channels"),
])
def test_an_internal_error_in_any_command_exits_3(tmp_path, log_file, monkeypatch, store, command, target, name):
    monkeypatch.setattr(target, name, _boom)
    code, _out, err = journeys(*command, "--db", store)
    assert code == 3 and "internal error (a bug" in one_line(err)
    assert "RuntimeError: the frobnicator" in log_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("error", [TypeError("x"), KeyError("y"), RecursionError("z"), MemoryError(),
                                   UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
                                   OverflowError("date value out of range")])
def test_whatever_a_bug_raises_is_exit_3_never_exit_1(monkeypatch, log_file, error):
    """Before: a crash exited 1, like "the journey has problems"."""
    def raises(*_args: object, **_kwargs: object) -> None:
        raise error
    monkeypatch.setattr(app.cli, "load", raises)
    code, _out, err = journeys("validate", str(EXAMPLES / "cart_abandonment.json"))
    assert code == 3 and type(error).__name__ in one_line(err)


def test_when_the_log_file_cannot_be_written_the_traceback_goes_to_a_private_temporary_file(tmp_path,
                                                                                          monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("JOURNEYS_LOG_FILE", str(blocker / "journeys.log"))    # a folder that is a file
    monkeypatch.setattr(app.cli, "validate", _boom)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    code, _out, err = journeys("validate", str(EXAMPLES / "cart_abandonment.json"))
    assert code == 3
    written = Path(one_line(err).rsplit("the details are in ", 1)[1])
    assert written.parent == tmp_path and written.name.startswith("journeys-error-")
    assert "RuntimeError: the frobnicator" in written.read_text(encoding="utf-8")
    assert written.stat().st_mode & 0o077 == 0


def test_a_real_process_with_a_bug_prints_one_line_and_no_traceback(tmp_path, log_file):
    """The whole way out of a process: stderr holds one line, the log file the traceback."""
    script = ("import sys, app.cli\n"
              "def boom(*a, **k): raise ZeroDivisionError('division by zero')\n"
              "app.cli.validate = boom\n"
              f"sys.exit(app.cli.main(['validate', {str(EXAMPLES / 'cart_abandonment.json')!r}]))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**os.environ})
    assert result.returncode == 3
    assert "ZeroDivisionError" in one_line(result.stderr) and str(log_file) in result.stderr
    assert "Traceback" in log_file.read_text(encoding="utf-8")


def test_ctrl_c_exits_130_in_one_line(monkeypatch):
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt
    monkeypatch.setattr(app.cli, "load", interrupted)
    code, _out, err = journeys("validate", str(EXAMPLES / "cart_abandonment.json"))
    assert code == 130 and one_line(err) == "journeys validate: interrupted"
