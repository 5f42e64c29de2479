"""`journeys` against a database that is busy, read-only, in a folder it may not write, or on a full
disk — as a user meets them: real processes, real SQLite files. Readers work beside a writer;
writers say one clear line and exit 2; the data stays as it was."""
from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.paths import EXAMPLES, RESOURCES

REPO = Path(__file__).resolve().parents[1]
BUSY_LINE = "the database is busy (another Journey Studio process is writing); try again"
CART = EXAMPLES / "cart_abandonment.json"
CONTACTS = RESOURCES / "sample_contacts.csv"
EVENTS = RESOURCES / "sample_events.jsonl"


def journeys(*args: str, db: Path, busy_wait: float = 1.0, prefix: list[str] | None = None,
             umask: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOURNEYS_BUSY_TIMEOUT": str(busy_wait)}
    env.pop("JOURNEYS_DB", None)
    command = [sys.executable, *(prefix or ["-m", "app.cli"]), *args, "--db", str(db)]

    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
                          preexec_fn=set_umask)


def _one_line(result: subprocess.CompletedProcess, *expected: str) -> str:
    """The command failed with exit 2 and exactly one line on stderr that says each of `expected`."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def _dump(path: Path) -> list[str]:
    """Every row of every table, for "nothing changed" (read through a copy: no side files)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


SAMPLE_EVENTS = sum(1 for line in EVENTS.read_text(encoding="utf-8").split("\n") if line.strip())


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A database with a journey, 32 contacts and the sample's events (SAMPLE_EVENTS), made with the command itself."""
    folder = tmp_path / "shop"
    folder.mkdir()
    db = folder / "journeys.sqlite3"
    assert journeys("import", str(CART), db=db).returncode == 0
    assert journeys("contacts", "import", str(CONTACTS), db=db).returncode == 0
    assert journeys("events", "import", str(EVENTS), db=db).returncode == 0
    return db


HOLDER = """
import sys
from sqlalchemy import text
from app.store.db import open_database
from app.store.sql import write_transaction
engine = open_database(sys.argv[1])
with write_transaction(engine) as conn:       # as an import or the engine would, mid-batch
    conn.execute(text("UPDATE contacts SET first_name = 'held' WHERE id = 'c001'"))
    print("holding", flush=True)
    sys.stdin.readline()
    raise SystemExit(0)                           # rolled back: nothing of it stays
"""


@contextmanager
def another_process_writing(db: Path) -> Iterator[None]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding", holder.stderr
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)


READERS = [
    ("list",),
    ("stats", "Cart abandonment"),
    ("contacts", "show", "c001"),
    ("settings",),
    ("settings", "timezone"),
    ("validate", str(CART)),
]


def test_read_only_commands_work_while_another_process_writes(shop: Path, tmp_path: Path) -> None:
    with another_process_writing(shop):
        for args in READERS:
            result = journeys(*args, db=shop)
            assert result.returncode == 0, (args, result.stderr)
        exported = tmp_path / "out.json"
        assert journeys("export", "Cart abandonment", str(exported), db=shop).returncode == 0
        assert exported.is_file()
        listed = journeys("list", db=shop)
        assert "Cart abandonment" in listed.stdout
        assert "Emma" in journeys("contacts", "show", "c001", db=shop).stdout      # not the uncommitted 'held'


def test_writing_commands_say_the_database_is_busy_and_change_nothing(shop: Path, tmp_path: Path) -> None:
    before = _dump(shop)
    more = tmp_path / "more.csv"
    more.write_text("id,email\nz1,z1@example.com\n", encoding="utf-8")
    late = tmp_path / "late.jsonl"
    late.write_text('{"contact": "z1", "type": "cart_abandoned", "at": "2026-03-05T10:00:00Z"}\n', encoding="utf-8")
    with another_process_writing(shop):
        for args in (("events", "import", str(late)), ("contacts", "import", str(more)),
                     ("import", str(CART), "--replace"), ("settings", "timezone", "Europe/Berlin"),
                     ("publish", "Cart abandonment")):
            _one_line(journeys(*args, db=shop, busy_wait=0.3), BUSY_LINE)
    assert _dump(shop) == before
    assert journeys("events", "import", str(late), db=shop).returncode == 0        # free again: it works


def test_a_read_only_database_file_is_refused_for_writing_and_stays_intact(shop: Path, tmp_path: Path) -> None:
    before = _dump(shop)
    shop.chmod(0o444)
    late = tmp_path / "late.jsonl"
    late.write_text('{"contact": "z1", "type": "cart_abandoned", "at": "2026-03-05T10:00:00Z"}\n', encoding="utf-8")
    for args in (("events", "import", str(late)), ("contacts", "import", str(CONTACTS)),
                 ("import", str(CART), "--replace"), ("settings", "timezone", "Europe/Berlin")):
        _one_line(journeys(*args, db=shop), "is read-only", str(shop))
    assert journeys("list", db=shop).returncode == 0            # reading it is fine
    assert _dump(shop) == before


def test_a_folder_that_may_not_be_written_is_named_and_nothing_changes(shop: Path, tmp_path: Path) -> None:
    before = _dump(shop)
    shop.parent.chmod(0o555)
    try:
        _one_line(journeys("events", "import", str(EVENTS), db=shop), "cannot write in the folder", str(shop.parent))
        _one_line(journeys("contacts", "import", str(CONTACTS), db=shop.parent / "other.sqlite3"),
                  "cannot write in the folder")
        assert not (shop.parent / "other.sqlite3").exists()
        _one_line(journeys("list", db=shop.parent / "sub" / "other.sqlite3"), "Cannot create the folder",
                  f"the folder {shop.parent} may not be written")
        assert not (shop.parent / "sub").exists()
        assert journeys("list", db=shop).returncode == 0
    finally:
        shop.parent.chmod(0o700)
    assert _dump(shop) == before


def test_a_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = journeys("contacts", "import", str(CONTACTS), db=blocker / "journeys.sqlite3")
    _one_line(result, "Cannot create the folder", f"{blocker} is a file, not a folder")


def _big_events(path: Path, count: int) -> Path:
    lines = [f'{{"contact": "p{i % 400:03d}", "type": "product_viewed", "at": "2026-03-01T{(i // 60) % 24:02d}:'
             f'{i % 60:02d}:00Z", "id": "view-{i}", "properties": {{"sku": "SKU-{i}", "note": "{"x" * 200}"}}}}'
             for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


LIMITED = ("import sys\n"
           "import app.store.sqlite_hooks as hooks\n"
           "hooks._PRAGMAS = hooks._PRAGMAS + ('PRAGMA max_page_count={pages}',)\n"
           "from app.cli import main\n"
           "sys.exit(main(sys.argv[1:]))\n")


def _events_in(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def test_a_full_disk_stops_an_import_with_one_line_and_a_re_run_adds_the_rest(shop: Path, tmp_path: Path) -> None:
    big = _big_events(tmp_path / "big.jsonl", 3000)                    # six transactions of 500
    conn = sqlite3.connect(shop)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    full = journeys("events", "import", str(big), db=shop, prefix=["-c", LIMITED.format(pages=pages + 60)])
    _one_line(full, "is full", "Free some space")
    saved = _events_in(shop)
    assert SAMPLE_EVENTS <= saved < 3000 + SAMPLE_EVENTS and (saved - SAMPLE_EVENTS) % 500 == 0   # whole transactions
    check = sqlite3.connect(shop)
    assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    check.close()
    again = journeys("events", "import", str(big), db=shop)            # space freed: the rest goes in
    assert again.returncode == 0, again.stderr
    assert f"{3000 + SAMPLE_EVENTS - saved} new, {saved - SAMPLE_EVENTS} already present" in again.stdout
    assert _events_in(shop) == 3000 + SAMPLE_EVENTS


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), where mounting is allowed (root on Linux)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_really_full_disk_is_one_line_and_the_database_stays_whole(small_disk: Path, tmp_path: Path) -> None:
    db = small_disk / "journeys.sqlite3"
    assert journeys("contacts", "import", str(CONTACTS), db=db).returncode == 0
    big = _big_events(tmp_path / "big.jsonl", 6000)
    _one_line(journeys("events", "import", str(big), db=db), "is full")
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert check.execute("SELECT count(*) FROM contacts").fetchone()[0] >= 32
    check.close()


def test_a_read_only_file_system_is_one_line_and_can_still_be_read(small_disk: Path) -> None:
    db = small_disk / "journeys.sqlite3"
    assert journeys("import", str(CART), db=db).returncode == 0
    assert subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True).returncode == 0
    _one_line(journeys("contacts", "import", str(CONTACTS), db=db), "read-only")
    listed = journeys("list", db=db)
    assert listed.returncode == 0 and "Cart abandonment" in listed.stdout


def test_a_new_database_is_readable_by_the_user_only(tmp_path: Path) -> None:
    db = tmp_path / "new" / "place" / "journeys.sqlite3"
    assert journeys("contacts", "import", str(CONTACTS), db=db, umask=0).returncode == 0
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    with another_process_writing(db):       # its -wal and -shm files exist while it is in use
        for side in ("-wal", "-shm"):
            assert stat.S_IMODE(Path(f"{db}{side}").stat().st_mode) == 0o600
    listed = tmp_path / "listed" / "journeys.sqlite3"
    assert journeys("list", db=listed, umask=0o002).returncode == 0
    assert stat.S_IMODE(listed.stat().st_mode) == 0o600 and stat.S_IMODE(listed.parent.stat().st_mode) == 0o700


# -- as an ordinary user, for whom SQLite itself refuses the writes ---------------------------------


def _ordinary_user_command() -> tuple[list[str], dict[str, str]] | None:
    """How to run `journeys` as `nobody` (when the tests run as root and setpriv exists), or None."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "JOURNEYS_BUSY_TIMEOUT": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])}
    for python in (sys.executable, "/usr/bin/python3"):
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python]
        probe = subprocess.run([*command, "-c", "import app.cli, sqlalchemy"], env=env, cwd="/",
                               capture_output=True, timeout=60)
        if probe.returncode == 0:
            return [*command, "-m", "app.cli"], env
    return None


def test_as_an_ordinary_user_read_only_files_and_folders_are_read_but_never_written(tmp_path: Path) -> None:
    found = _ordinary_user_command()
    if found is None:
        pytest.skip("needs root, setpriv and a Python the user nobody can run")
    command, env = found
    folder = Path(tempfile.mkdtemp(prefix="journeys-nobody-"))
    try:
        db = folder / "journeys.sqlite3"
        assert journeys("import", str(CART), db=db).returncode == 0
        os.chown(folder, 65534, 65534)
        os.chown(db, 65534, 65534)

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*command, *args, "--db", str(db)], env=env, cwd="/", capture_output=True,
                                  text=True, timeout=120)

        before = _dump(db)
        db.chmod(0o444)
        assert "Cart abandonment" in run("list").stdout
        _one_line(run("settings", "timezone", "Europe/Berlin"), "is read-only")
        db.chmod(0o644)
        folder.chmod(0o555)
        assert "Cart abandonment" in run("list").stdout
        _one_line(run("settings", "timezone", "Europe/Berlin"), "cannot write in the folder")
        folder.chmod(0o755)
        conn = sqlite3.connect(db)            # an older database in the rollback-journal mode, read-only
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
        db.chmod(0o444)
        assert "Cart abandonment" in run("list").stdout
        _one_line(run("settings", "timezone", "Europe/Berlin"), "is read-only")
        assert _dump(db) == before
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_full_disk_stops_a_contacts_import_and_a_re_run_adds_the_rest(shop: Path, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("id,email,first_name,tags,note\n" + "".join(
        f"q{i:05d},q{i}@example.com,Q{i},vip,{'y' * 300}\n" for i in range(12_000)), encoding="utf-8")
    conn = sqlite3.connect(shop)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    full = journeys("contacts", "import", str(people), db=shop, prefix=["-c", LIMITED.format(pages=pages + 1500)])
    _one_line(full, "is full")
    check = sqlite3.connect(shop)
    assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    saved = check.execute("SELECT count(*) FROM contacts WHERE id LIKE 'q%'").fetchone()[0]
    check.close()
    assert saved % 5000 == 0 and saved < 12_000     # whole transactions of 5,000 rows
    again = journeys("contacts", "import", str(people), db=shop)
    assert again.returncode == 0, again.stderr
    assert f"{12_000 - saved} new, 0 updated, {saved} unchanged" in again.stdout


def test_reading_commands_leave_a_current_database_file_untouched(shop: Path, tmp_path: Path) -> None:
    before = (shop.read_bytes(), shop.stat().st_mtime_ns)
    for args in READERS:
        assert journeys(*args, db=shop).returncode == 0, args
    assert journeys("export", "Cart abandonment", str(tmp_path / "out.json"), db=shop).returncode == 0
    assert (shop.read_bytes(), shop.stat().st_mtime_ns) == before
