"""The import dialog (File → Import contacts) on a file big enough for a worker process to parse its
rows: the rows are all stored, Cancel still leaves the store as it was, and the worker is gone."""
from __future__ import annotations

import multiprocessing

import pytest

from app.engine import contact_workers, file_import
from tests.ui.test_contact_import_dialog import _count, _dialog, _import
from tests.ui.test_contact_import_dialog import \
    test_cancel_mid_import_of_a_big_file_leaves_the_store_as_it_was as cancel_mid_import


def _spy(monkeypatch) -> list[int]:
    started: list[int] = []
    real = contact_workers.start_pool

    def start(reader):
        pool = real(reader)
        started.append(pool is not None)
        return pool
    monkeypatch.setattr("app.engine.importers.start_pool", start)
    monkeypatch.setattr(file_import, "PARALLEL_BYTES", 0)      # every file counts as big
    return started


def test_the_dialog_imports_a_big_file_through_a_worker(window, qtbot, monkeypatch, tmp_path):
    started = _spy(monkeypatch)
    big = tmp_path / "many.csv"
    big.write_text("id,email,phone,tags,subscribed,lifetime_spend\n"
                   + "".join(f"p{i},p{i}@example.com,+1 212 555 {i % 10_000:04d},vip,sms,{i}.5\n"
                             for i in range(1, 12_001)) + "p7,again@example.com,,,,\n")
    dialog = _dialog(window, qtbot, monkeypatch, big)
    _import(dialog, qtbot)
    assert _count(window) == 12_000
    assert "appears twice" in " ".join(p.reason for p in dialog.outcome.found.problems)
    assert started and all(started)             # the dry run's and the import's workers
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("how", ["Cancel import", "Close"])
def test_cancel_with_a_worker_leaves_the_store_as_it_was_and_ends_it(window, qtbot, monkeypatch, tmp_path, how):
    started = _spy(monkeypatch)
    cancel_mid_import(window, qtbot, monkeypatch, tmp_path, how)
    assert started and all(started)
    assert multiprocessing.active_children() == []
