"""File → Import contacts opens a dialog (issue 12 §1, "In the app"): the detected source, the mapping
per column, the first rows as they will be stored, the consent to record and a dry run — before
anything is written — then an atomic import in the background that Cancel leaves undone. Driven
with real widgets and real SQLite files, with every sample export and a German Excel layout."""
from __future__ import annotations

import html
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QLineEdit, QMessageBox
from sqlalchemy import func, select

from app.paths import RESOURCES
from app.store.contacts import contact_detail
from app.store.tables import consent_changes, contact_channels, contact_tags, contacts

SAMPLES = RESOURCES / "samples"
SHOTS = Path(os.environ.get("JOURNEYS_SHOTS", "/tmp/journeys-shots"))
GERMAN = ("Kundennr;E-Mail-Adresse;Mobilnummer;Vorname;Nachname;Newsletter;Geburtstag;Umsatz;Bestellungen;Land;"
          "Schlagwörter;Notiz\r\n"
          "K-1;Jana.Koch@Example.de;0151 23456789;Jana;Koch;ja;14.03.1990;1.234,50 €;4;DE;Stammkundin, VIP;"
          "ruft gern an\r\n"
          "K-2;tom@example.de;12;Tom;Berg;nein;31.02.1985;12,00;1;DE;;\r\n"
          "K-3;ute@example.at;0664 1234567;Ute;Größ;;;0,00;0;AT;Wien;\r\n")


def _dialog(window, qtbot, monkeypatch, path):
    """File → Import contacts with `path` chosen; the dialog once its dry run (or its refusal) is in."""
    from app.ui.contact_import_dialog import ContactImportDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(f"a message box: {a[2]}"))
    window.actions_["import_contacts"].trigger()
    dialog = window.findChildren(ContactImportDialog)[-1]
    qtbot.waitUntil(lambda: dialog.source is not None or dialog.message.isVisible(), timeout=15000)
    _settled(dialog, qtbot)
    return dialog


def _settled(dialog, qtbot) -> None:
    """After an edit: the debounced preview and dry run are in."""
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=15000)


def _count(window, table=contacts) -> int:
    with window.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _snapshot(window):
    with window.store.engine.connect() as conn:
        return {t.name: sorted(tuple(map(str, r)) for r in conn.execute(select(t)))
                for t in (contacts, contact_tags, contact_channels, consent_changes)}


def _cells(dialog, line: int) -> dict[str, str]:
    """The preview row of a file line, by heading."""
    model = dialog.model
    row = next(i for i, item in enumerate(model.items) if item.line == line)
    return {model.headerData(c, Qt.Orientation.Horizontal): model.data(model.index(row, c))
            for c in range(model.columnCount())}


def _import(dialog, qtbot):
    dialog.import_button.click()
    qtbot.waitUntil(lambda: bool(dialog.result_text) or dialog.message.isVisible(), timeout=20000)
    assert dialog.result_text, dialog.message.text()


def _state(window, cid: str) -> dict[str, str]:
    """The channels with a recorded state (unknown ones left out)."""
    return {c.channel: c.state for c in contact_detail(window.store.engine, cid).consent if c.state != "unknown"}


def test_a_shopify_export_shows_what_it_is_its_rows_as_stored_and_a_dry_run_then_imports(window, qtbot,
                                                                                         monkeypatch):
    from app.ui.contacts_dialog import open_contacts

    contacts_window = open_contacts(window)
    dialog = _dialog(window, qtbot, monkeypatch, SAMPLES / "shopify_customers_export.csv")
    assert dialog.heading.text() == "Shopify customers export"
    assert dialog.about.text() == "shopify_customers_export.csv · UTF-8, comma-separated · 7 rows found"
    amelia = _cells(dialog, 2)
    assert (amelia["Phone"], amelia["Tags"], amelia["Spend"], amelia["Orders"]) == (
        "+14165550123", "vip, newsletter", "1,249.90", "7")
    assert amelia["Time zone"] == "America/Toronto (from the phone)" and amelia["Consent"] == "email ✓, SMS ✓"
    assert _cells(dialog, 7)["Status"] == "Kept, 1 value left out" and _cells(dialog, 7)["Phone"] == "—"
    sam = dialog.model.items[[i.line for i in dialog.model.items].index(7)]
    assert "phone '555-0199' is not a valid number" in sam.marks["phone"]
    # Known by her Customer ID, Rita is kept with the email left out: her consent still counts.
    assert _cells(dialog, 8)["Status"] == "Kept, 1 value left out" and _cells(dialog, 8)["Email"] == "—"
    summary = html.unescape(dialog.summary.text())
    assert "7 new · 0 updated · 0 unchanged" in summary and "bad row" not in summary, summary
    assert "email: 4 subscribed, 3 unsubscribed</div>" in summary and "SMS: 2 subscribed, 5 unsubscribed" in summary
    assert "line 8: email" in summary and "4 from the phone number, 1 from the province" in summary
    assert _count(window) == 0                           # the dry run wrote nothing
    assert dialog.import_button.text() == "Import 7 contacts"

    _import(dialog, qtbot)
    detail = contact_detail(window.store.engine, "7023451234567")
    assert detail.fields["phone"] == "+14165550123" and detail.fields["timezone"] == "America/Toronto"
    assert Decimal(str(detail.fields["lifetime_spend"])) == Decimal("1249.90") and detail.tags == ["newsletter", "vip"]
    assert _state(window, "7023451234567") == {"email": "subscribed", "sms": "subscribed"}
    assert _state(window, "7023451234568")["email"] == "unsubscribed"
    assert dialog.result_text.startswith("Imported contacts from shopify_customers_export.csv (Shopify customers "
                                         "export): 7 new, 0 updated, 0 unchanged; 2 row(s) kept with a value "
                                         "left out")
    assert window.statusBar().currentMessage() == dialog.result_text
    qtbot.waitUntil(lambda: contacts_window.list.count() == 7, timeout=10000)     # the Contacts window follows


@pytest.mark.parametrize("sample, heading, cid, expect", [
    ("klaviyo_profiles_export.csv", "Klaviyo profiles export", "sofia.rossi@example.com",
     {"phone": "+393471234567", "email": "subscribed"}),
    ("woocommerce_customers.csv", "WooCommerce customers (Analytics)", "olivia.brown@example.com",
     {"order_count": 5, "lifetime_spend": Decimal("412.75")}),
    ("../sample_contacts.csv", "Journey Studio contacts", "c003",
     {"timezone": "Europe/Berlin", "email": "unsubscribed", "sms": "subscribed"}),
])
def test_every_sample_export_is_recognised_and_imports_right(window, qtbot, monkeypatch, sample, heading, cid,
                                                             expect):
    dialog = _dialog(window, qtbot, monkeypatch, SAMPLES / sample)
    assert dialog.heading.text() == heading and not dialog.message.isVisible()
    assert dialog.model.items and _count(window) == 0
    _import(dialog, qtbot)
    detail = contact_detail(window.store.engine, cid)
    states = _state(window, cid)
    for key, want in expect.items():
        got = states.get(key) if key in ("email", "sms") else detail.fields[key]
        assert (Decimal(str(got)) if isinstance(want, Decimal) else got) == want, key


def test_a_mailchimp_archive_is_one_dialog_with_each_files_status(window, qtbot, monkeypatch):
    dialog = _dialog(window, qtbot, monkeypatch, SAMPLES / "members_export_2f1a9c4b7e.zip")
    assert dialog.heading.text() == "Mailchimp audience export (3 files)"
    about = dialog.about.text()
    assert "one import for its 3 files" in about
    assert "subscribed_members_export_2f1a9c4b7e.csv — email subscribed" in about
    assert "cleaned_members_export_2f1a9c4b7e.csv — email unsubscribed" in about
    assert "email:" in dialog.summary.text() and "unsubscribed" in dialog.summary.text()
    _import(dialog, qtbot)
    assert _count(window) == 5
    assert _state(window, "noah.fischer@example.com")["email"] == "unsubscribed"


def _german(tmp_path) -> Path:
    path = tmp_path / "kunden.csv"
    path.write_bytes(GERMAN.encode("cp1252"))
    return path


def test_a_german_excel_layout_is_mapped_by_hand_and_the_preview_and_dry_run_follow(window, qtbot, monkeypatch,
                                                                                    tmp_path):
    dialog = _dialog(window, qtbot, monkeypatch, _german(tmp_path))
    assert dialog.heading.text() == "No known layout: map the columns"
    assert dialog.about.text() == "kunden.csv · Windows-1252, semicolon-separated · 3 rows found"
    table = dialog.mapping_table
    assert table.combos["E-Mail-Adresse"].currentText() == "Email"        # proposed from the usual names
    assert table.combos["Mobilnummer"].currentText() == "Custom attribute"
    assert _cells(dialog, 2)["Phone"] == "" and "Consent to record</b></div><div style='margin-left:10px'>no change" in dialog.summary.text()

    table.choose("Kundennr", "id")
    table.choose("Mobilnummer", "phone")
    table.choose("Newsletter", "consent:email")
    table.choose("Umsatz", "lifetime_spend")
    table.choose("Bestellungen", "order_count")
    table.choose("Schlagwörter", "tags")
    table.choose("Notiz", "ignore")
    table.choose("Geburtstag", "date")
    form = table.detail("Geburtstag", "format")
    assert isinstance(form, QComboBox) and form.currentText() == "ISO (2024-03-05)"
    form.setCurrentText("DD.MM.YYYY")
    edit = table.detail("Geburtstag", "name")
    assert isinstance(edit, QLineEdit) and edit.placeholderText() == "Geburtstag"
    edit.setText("birthday")
    edit.editingFinished.emit()
    _settled(dialog, qtbot)

    jana, tom = _cells(dialog, 2), _cells(dialog, 3)
    assert (jana["Id"], jana["Phone"], jana["Spend"], jana["Tags"]) == ("K-1", "+4915123456789", "1,234.50",
                                                                        "Stammkundin, VIP")
    assert jana["Consent"] == "email ✓" and jana["Time zone"] == "Europe/Berlin (from the phone)"
    assert "birthday: 1990-03-14" in jana["Attributes"] and "Notiz" not in jana["Attributes"]
    assert tom["Status"] == "Kept, 2 values left out" and tom["Phone"] == "—"
    summary = html.unescape(dialog.summary.text())
    assert "email: 1 subscribed, 1 unsubscribed" in summary and "3 time zones derived (2 from the phone number, 1 from the country)" in summary
    assert "line 3: Geburtstag: '31.02.1985' is not a date written DD.MM.YYYY" in summary
    assert _count(window) == 0

    _import(dialog, qtbot)
    jana_stored = contact_detail(window.store.engine, "K-1")
    assert jana_stored.fields["phone"] == "+4915123456789" and jana_stored.attributes["birthday"] == "1990-03-14"
    assert Decimal(str(jana_stored.fields["lifetime_spend"])) == Decimal("1234.50")
    assert jana_stored.tags == ["Stammkundin", "VIP"] and _state(window, "K-1") == {"email": "subscribed"}
    assert contact_detail(window.store.engine, "K-3").fields["last_name"] == "Größ"
    assert _state(window, "K-2") == {"email": "unsubscribed"}
    dialog.close()

    again = _dialog(window, qtbot, monkeypatch, _german(tmp_path))     # next month's file, same columns
    assert again.heading.text() == "No known layout: map the columns — your saved mapping"
    assert again.mapping_table.combos["Mobilnummer"].currentText() == "Phone"
    assert again.mapping_table.target("Geburtstag").text() == "date:DD.MM.YYYY:birthday"
    assert "0 new · 0 updated · 3 unchanged" in again.summary.text()


def test_a_header_nothing_can_map_says_so_until_a_column_is_chosen(window, qtbot, monkeypatch, tmp_path):
    path = tmp_path / "liste.csv"
    path.write_text("Spalte 1;Spalte 2\nAnn;ann@example.com\n", encoding="utf-8")
    dialog = _dialog(window, qtbot, monkeypatch, path)
    assert dialog.message.text().startswith("No column is mapped to id, email or phone")
    assert not dialog.import_button.isEnabled()
    dialog.mapping_table.choose("Spalte 2", "email")
    _settled(dialog, qtbot)
    assert not dialog.message.isVisible() and dialog.import_button.text() == "Import 1 contact"


@pytest.mark.parametrize("name, content, said", [
    ("binary.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, "binary.csv cannot be read: a PNG image"),
    ("program.csv", b"\x7fELF" + b"\x00" * 300, "program.csv cannot be read: binary data"),
    ("empty.csv", b"", "The file is empty: its first line must name the columns"),
    ("kunden.xlsx", None, "an Excel workbook, not a CSV file (save the sheet as CSV UTF-8)"),
])
def test_a_file_that_cannot_be_imported_is_said_in_the_dialog(window, qtbot, monkeypatch, tmp_path, name,
                                                               content, said):
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as book:
            book.writestr("[Content_Types].xml", "<Types/>")
            book.writestr("xl/workbook.xml", "<workbook/>")
    else:
        path.write_bytes(content)
    dialog = _dialog(window, qtbot, monkeypatch, path)
    assert said in dialog.message.text() and not dialog.import_button.isEnabled()
    assert _count(window) == 0


@pytest.mark.parametrize("how", ["Cancel import", "Close"])
def test_cancel_mid_import_of_a_big_file_leaves_the_store_as_it_was(window, qtbot, monkeypatch, tmp_path, how):
    import threading

    from app.engine import file_import

    seed = tmp_path / "seed.csv"
    seed.write_text("id,email,tags,unsubscribed\np1,p1@example.com,old,email\n")
    first = _dialog(window, qtbot, monkeypatch, seed)
    _import(first, qtbot)
    first.close()
    before = _snapshot(window)
    big = tmp_path / "many.csv"
    big.write_text("id,email,tags,subscribed,lifetime_spend\n"
                   + "".join(f"p{i},p{i}@example.com,vip,sms,{i}.5\n" for i in range(1, 12_001)))
    dialog = _dialog(window, qtbot, monkeypatch, big)
    written, go = threading.Event(), threading.Event()
    real = file_import._reporter

    def reporter(*args, **kwargs):          # the import holds after its first chunk until the user has pressed
        inner = real(*args, **kwargs)

        def report(done: int) -> None:
            if done == 5_000:
                written.set()
                go.wait(20)
            inner(done)
        return report
    monkeypatch.setattr(file_import, "_reporter", reporter)
    dialog.import_button.click()
    qtbot.waitUntil(written.is_set, timeout=20000)          # 5,000 rows written in the import's transaction
    if how == "Close":
        dialog.close_button.click()
        assert dialog.isVisible()                           # it closes once the import has stopped
    else:
        dialog.cancel_button.click()
        assert dialog.progress.format() == "Cancelling: nothing will be kept…"
    go.set()
    if how == "Close":
        qtbot.waitUntil(lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), timeout=20000)
    else:
        qtbot.waitUntil(dialog.message.isVisible, timeout=20000)
        assert dialog.message.text() == ("The import was cancelled: nothing was written, the contacts are as they "
                                         "were.")
        _settled(dialog, qtbot)            # ready to import again
        assert dialog.import_button.isEnabled() and not dialog.result_text
    assert _snapshot(window) == before


@pytest.fixture(params=["light", "dark"])
def theme(request):
    from PySide6.QtWidgets import QApplication

    from app.canvas import style
    from app.ui.theme import apply_theme

    saved = list(style._theme)
    style._theme[:] = [style.DARK if request.param == "dark" else style.LIGHT]
    apply_theme(QApplication.instance())
    yield request.param
    style._theme[:] = saved
    apply_theme(QApplication.instance())


@pytest.mark.parametrize("layout", ["shopify", "custom"])
def test_the_dialog_renders_in_both_themes(window, qtbot, monkeypatch, tmp_path, theme, layout):
    """Rendered to PNG for a look (JOURNEYS_SHOTS, default /tmp/journeys-shots)."""
    path = SAMPLES / "shopify_customers_export.csv" if layout == "shopify" else _german(tmp_path)
    dialog = _dialog(window, qtbot, monkeypatch, path)
    dialog.resize(1280, 860)
    qtbot.waitExposed(dialog)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / f"import-contacts-{layout}-{theme}.png"))
    combo = dialog.mapping_table.combos[dialog.source.header[0]]
    assert combo.width() >= combo.sizeHint().width()                     # no clipped field names
