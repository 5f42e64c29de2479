"""A cancelled contacts import leaves no half-written result: the app imports a file (or a Mailchimp
archive) in one transaction, so Cancel after any chunk — or a fault — leaves the store exactly as it
was, and a dry run of the whole source writes nothing. SQLite and PostgreSQL."""
from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.engine.file_import import Cancelled, import_contact_source
from app.engine.importers import import_contacts_report, parse_contacts
from app.paths import RESOURCES
from app.store.db import open_database
from app.store.tables import attribute_catalog, consent_changes, contact_channels, contact_tags, contacts

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _snapshot(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a contacts import may write, in a stable order."""
    out = {}
    with db.connect() as conn:
        for table in (contacts, contact_tags, contact_channels, consent_changes, attribute_catalog):
            out[table.name] = sorted((tuple(str(v) for v in row) for row in conn.execute(select(table))))
    return out


@pytest.fixture
def db(any_url: str):
    engine = open_database(any_url)
    rows, _ = parse_contacts("id,email,first_name,tags,unsubscribed,lifetime_spend\n"
                             "p1,p1@example.com,Ann,old,email,10\n"
                             "p2,p2@example.com,Bo,,,\n")
    import_contacts_report(engine, rows, NOW, "before.csv")
    yield engine
    engine.dispose()


def _big(tmp_path: Path, rows: int = 12_000) -> Path:
    """A file that updates the stored contacts (tags, consent, spend) and adds new ones, past two chunks."""
    path = tmp_path / "many.csv"
    path.write_text("id,email,first_name,tags,subscribed,lifetime_spend,tier\n"
                    + "".join(f"p{i},p{i}@example.com,New{i},vip;new,sms,{i}.50,gold\n" for i in range(1, rows + 1)))
    return path


@pytest.mark.parametrize("after", [1, 2])
def test_cancel_after_any_chunk_leaves_the_store_as_it_was(db, tmp_path, after):
    before = _snapshot(db)
    chunks: list[int] = []

    def cancelled() -> bool:
        return len(chunks) >= after

    with pytest.raises(Cancelled):
        import_contact_source(db, _big(tmp_path), NOW, atomic=True, cancelled=cancelled,
                              progress=lambda done, share: chunks.append(done))
    assert chunks[:after] == [5_000, 10_000][:after]           # chunks were written before the cancel...
    assert _snapshot(db) == before                            # ...and none of them stayed


def test_a_fault_mid_file_also_leaves_nothing(db, tmp_path):
    before = _snapshot(db)

    def fault(done: int, share: float) -> None:
        raise OSError("the disk went away")

    with pytest.raises(OSError):
        import_contact_source(db, _big(tmp_path), NOW, atomic=True, progress=fault)
    assert _snapshot(db) == before


def test_the_same_file_not_cancelled_goes_in_whole(db, tmp_path):
    report, found = import_contact_source(db, _big(tmp_path), NOW, atomic=True)
    assert (report.new, report.updated, found.rows) == (11_998, 2, 12_000)
    with db.connect() as conn:
        assert conn.execute(select(contacts.c.first_name).where(contacts.c.id == "p12000")).scalar() == "New12000"


def test_an_atomic_dry_run_counts_like_the_import_and_writes_nothing(db, tmp_path):
    before = _snapshot(db)
    dry, _ = import_contact_source(db, _big(tmp_path, 6_000), NOW, atomic=True, dry_run=True)
    assert _snapshot(db) == before
    real, _ = import_contact_source(db, _big(tmp_path, 6_000), NOW, atomic=True)
    assert (dry.new, dry.updated, dry.unchanged, dry.consent) == (real.new, real.updated, real.unchanged, real.consent)


def test_a_cancelled_mailchimp_archive_leaves_none_of_its_files(db, tmp_path):
    """The archive is one import: its subscribed file is not kept when the cancel comes in the next one."""
    source = RESOURCES / "samples" / "members_export_2f1a9c4b7e.zip"
    before = _snapshot(db)
    files: list[float] = []

    def cancelled() -> bool:
        return len(files) >= 1          # after the first file's (only) chunk: during the second

    with zipfile.ZipFile(source) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".csv")]) >= 2
    with pytest.raises(Cancelled):
        import_contact_source(db, source, NOW, atomic=True, cancelled=cancelled,
                              progress=lambda done, share: files.append(share))
    assert _snapshot(db) == before
