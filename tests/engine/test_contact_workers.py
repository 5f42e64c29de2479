"""A big contacts file is parsed in a worker process (contact_workers): the import it makes is the
same as reading the rows in one process — the same contacts, consent, problems (lines, reasons),
warnings and report — and the worker is gone afterwards, after a cancel or a fault too."""
from __future__ import annotations

import multiprocessing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.engine import contact_workers, file_import
from app.engine.file_import import Cancelled, import_contact_source
from app.engine.import_rows import ReadStats
from app.paths import RESOURCES
from app.store.db import open_database
from app.store.tables import attribute_catalog, consent_changes, contact_channels, contact_tags, contacts
from bench.imports import write_shopify

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
SAMPLES = RESOURCES / "samples"


def _snapshot(db: Any) -> dict[str, list[tuple[str, ...]]]:
    out = {}
    with db.connect() as conn:
        for table in (contacts, contact_tags, contact_channels, consent_changes, attribute_catalog):
            out[table.name] = sorted(tuple(str(v) for v in row) for row in conn.execute(select(table)))
    return out


class _Spy:
    """Counts the workers started (and that each one started)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = 0
        real = contact_workers.start_pool

        def start(reader: Any) -> Any:
            pool = real(reader)
            self.started += pool is not None
            return pool
        monkeypatch.setattr(contact_workers, "start_pool", start)
        monkeypatch.setattr("app.engine.importers.start_pool", start)


def _import(path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool, **kw: Any) -> tuple[Any, ...]:
    monkeypatch.setattr(file_import, "PARALLEL_BYTES", 0 if parallel else 10 ** 12)
    db = open_database(str(db_path))
    stats = ReadStats()
    try:
        report, found = import_contact_source(db, path, NOW, region="US", stats=stats, **kw)
        return report, found.problems, found.warnings, stats, _snapshot(db)
    finally:
        db.dispose()


def _bad_file(path: Path) -> Path:
    """Bad rows, repeats (also far apart), quoted newlines, a misquoted record, bad cells of each kind."""
    header = "id,email,phone,first_name,timezone,tags,subscribed,unsubscribed,lifetime_spend,order_count,country\n"
    rows = [
        'a1,a1@example.com,+12125550101,"Ann\nMarie",,vip,email,,10.50,2,US\n',
        "a2,not-an-email,,Bo,,,,,,,\n",                           # only an email, and not an address: refused
        "a3,a3@example.com,12,Cy,,,,,,,FR\n",                       # a phone that is no number: warned, kept
        "a1,dup@example.com,,Dup,,,,,,,\n",                         # the id again
        "a4,a4@example.com,,Di,Mars/Olympus,,,,,,\n",               # no such time zone
        "a5,a5@example.com,,Ed,,,sms,sms,abc,x,\n",                 # contested channel, bad money and count
        ",,,Nobody,,,,,,,\n",                                       # no id, email or phone
        "a6,a6@example.com,,\x00Nul,,,,,,,\n",
        "a7,a7@example.com,,Too,,many,,,,,,,,\n",                   # wrong number of values
        'a8,a8@example.com,,"Multi\nline\nname",Europe/Paris,"x, y",,email,,,\n',
        "a9,a9@example.com,+33 6 12 34 56 78,Fr,,,,,,,\n",          # zone from the phone
        "a10,a10@example.com,,Ca,,,,,,,CA\n",                      # zone from the place
    ]
    fill = [f"f{i},f{i}@example.com,+1 212 555 {i % 10_000:04d},F{i},,,email,,{i}.25,{i % 9},US\n"
            for i in range(5_000)]
    tail = ["f10,again@example.com,,Again,,,,,,,\n",            # a repeat thousands of rows (batches) later
            'a11,a11@example.com,,"never closed,,,,,,,,,\n', "z1,z1@example.com,,Z,,,,,,,\n"]
    path.write_text(header + "".join(rows + fill + rows[:3] + tail), encoding="utf-8")
    return path


def _dated(path: Path) -> Path:
    """Baselines of every type a row carries across processes: spend (Decimal, with cents and without),
    counts, last order times with and without an offset, and rows with none."""
    header = "id,email,lifetime_spend,order_count,last_order_at\n"
    rows = [f"d{i},d{i}@example.com,{'' if i % 5 == 0 else f'{i}.{i % 100:02d}' if i % 2 else str(i)},"
            f"{'' if i % 7 == 0 else i % 13},"
            f"{'' if i % 3 == 0 else f'2025-0{1 + i % 9}-1{i % 10}T0{i % 10}:30:00' + ('+02:00' if i % 4 else '')}\n"
            for i in range(6_000)]
    path.write_text(header + "".join(rows), encoding="utf-8")
    return path


def _big_shopify(path: Path) -> Path:
    write_shopify(path, 30_000)
    with open(path, "a", encoding="utf-8") as out:       # a repeat of a row 29,990 rows earlier, and a bad row
        out.write("'7000000000010,Again,Name,again@example.com,yes,,,,,,US,,,,no,,1,,no,\n")
        out.write("'7000000099999,Short,Row\n")
    return path


@pytest.mark.parametrize("source", ["shopify_customers_export.csv", "klaviyo_profiles_export.csv",
                                    "woocommerce_customers.csv", "members_export_2f1a9c4b7e.zip", "bad", "big",
                                    "dated"])
def test_a_worker_reads_a_file_as_this_process_would(source, tmp_path, monkeypatch):
    made = {"bad": _bad_file, "big": _big_shopify, "dated": _dated}
    path = SAMPLES / source if source not in made else made[source](tmp_path / f"{source}.csv")
    spy = _Spy(monkeypatch)
    alone = _import(path, tmp_path / "alone.sqlite3", monkeypatch, parallel=False)
    assert spy.started == 0
    shared = _import(path, tmp_path / "shared.sqlite3", monkeypatch, parallel=True)
    assert spy.started >= 1
    assert shared[0] == alone[0]             # the report: counts, new/updated, consent changes, notices
    assert shared[1] == alone[1]             # problems, lines and reasons
    assert shared[2] == alone[2]             # warnings
    assert shared[3] == alone[3]             # zones derived, rows warned
    assert shared[4] == alone[4]             # what is stored
    assert alone[0].count > 0
    if source in ("bad", "big"):
        assert any("appears twice" in p.reason for p in alone[1])
    assert multiprocessing.active_children() == []


def test_the_bad_file_reports_what_it_should(tmp_path, monkeypatch):
    _, problems, warnings, stats, _ = _import(_bad_file(tmp_path / "bad.csv"), tmp_path / "db.sqlite3", monkeypatch,
                                              parallel=True)
    reasons = {p.line: p.reason for p in problems}
    assert reasons[6] == "contact 'a1' appears twice in the file"      # the first row spans lines 2-3
    assert reasons[5021] == "contact 'f10' appears twice in the file"   # 5,000 rows (batches) later
    assert 7 not in reasons and any("not an IANA name" in p.reason for p in warnings if p.line == 7)
    assert "never closed" in reasons[5022]
    assert {p.line for p in warnings} >= {4, 5, 8}
    assert stats.derived.get("phone", 0) > 0 and stats.warned >= 2


def test_a_worker_that_cannot_start_leaves_the_reading_here(tmp_path, monkeypatch):
    path = _big_shopify(tmp_path / "big.csv")
    alone = _import(path, tmp_path / "alone.sqlite3", monkeypatch, parallel=False)

    def refuse(*_: Any) -> Any:
        raise OSError("no more processes")
    monkeypatch.setattr(contact_workers, "_context", refuse)
    assert _import(path, tmp_path / "here.sqlite3", monkeypatch, parallel=True) == alone


def test_a_worker_that_dies_leaves_the_rest_to_this_process(tmp_path, monkeypatch):
    import os

    path = _big_shopify(tmp_path / "big.csv")
    alone = _import(path, tmp_path / "alone.sqlite3", monkeypatch, parallel=False)
    monkeypatch.setattr(contact_workers, "_start", lambda *_: os._exit(9))     # killed as it starts
    assert _import(path, tmp_path / "here.sqlite3", monkeypatch, parallel=True) == alone
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("atomic", [True, False])
def test_cancel_ends_the_worker_and_keeps_the_rule(atomic, tmp_path, monkeypatch):
    path = _big_shopify(tmp_path / "big.csv")
    spy = _Spy(monkeypatch)
    chunks: list[int] = []

    def cancelled() -> bool:
        return len(chunks) >= 2

    with pytest.raises(Cancelled):
        _import(path, tmp_path / "db.sqlite3", monkeypatch, parallel=True, atomic=atomic, cancelled=cancelled,
                progress=lambda done, share: chunks.append(done))
    assert spy.started == 1
    assert multiprocessing.active_children() == []
    db = open_database(str(tmp_path / "db.sqlite3"))
    stored = len(_snapshot(db)["contacts"])
    db.dispose()
    if atomic:
        assert stored == 0                  # one transaction: nothing stays
    else:
        assert 0 < stored < 30_000          # the chunks committed stay; a re-run adds the rest
        again = _import(path, tmp_path / "db.sqlite3", monkeypatch, parallel=True)
        assert len(again[4]["contacts"]) == 30_000


def test_a_fault_while_writing_ends_the_worker(tmp_path, monkeypatch):
    path = _big_shopify(tmp_path / "big.csv")
    spy = _Spy(monkeypatch)

    def progress(done: int, share: float) -> None:
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError):
        _import(path, tmp_path / "db.sqlite3", monkeypatch, parallel=True, progress=progress)
    assert spy.started == 1
    assert multiprocessing.active_children() == []


def test_a_spawned_worker_reads_as_this_process_would(tmp_path, monkeypatch):
    """macOS and Windows start the worker afresh ('spawn': nothing inherited, everything sent): the
    same import, bad rows and repeats included."""
    path = _bad_file(tmp_path / "bad.csv")
    alone = _import(path, tmp_path / "alone.sqlite3", monkeypatch, parallel=False)
    spy = _Spy(monkeypatch)
    monkeypatch.setattr(contact_workers, "_context", lambda: multiprocessing.get_context("spawn"))
    shared = _import(path, tmp_path / "spawned.sqlite3", monkeypatch, parallel=True)
    assert spy.started == 1
    assert shared == alone
    assert multiprocessing.active_children() == []
