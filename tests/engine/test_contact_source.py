"""What the import dialog reads before anything is written (Qt-free): a source's files with their
status, encoding and separator; the preview's rows as stored with each bad cell's reason and where
the time zone came from; mappings saved per header layout (a preset's own one is not)."""
from __future__ import annotations

from app.engine.contact_mapping import Target, saved_mapping
from app.engine.contact_preview import preview
from app.engine.contact_source import ContactSource
from app.paths import RESOURCES
from app.store.db import open_database

SAMPLES = RESOURCES / "samples"


def test_a_preview_marks_each_bad_cell_with_its_reason_and_says_where_zones_come_from():
    found = preview(SAMPLES / "shopify_customers_export.csv", rows=8)
    by_line = {item.line: item for item in found.items}
    assert by_line[2].zone_from == "phone" and by_line[2].values["Phone"] == "'+14165550123"
    assert by_line[7].row is not None and "555-0199" in by_line[7].marks["phone"]
    # Known by its Customer ID, her row is kept with the email left out (her consent still counts).
    assert by_line[8].row is not None and by_line[8].marks["email"].startswith("email 'rita.gomez(at)example.com'")
    assert found.samples["Tags"][0] == "vip, newsletter" and found.encoding and found.delimiter == ","


def test_a_bad_date_or_money_cell_is_marked_under_its_attribute(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("email,Geburtstag,Umsatz\na@example.com,31.02.1985,zwölf\n", encoding="utf-8")
    source = ContactSource(path)
    mapping = source.initial
    mapping.columns.update({"Geburtstag": Target("date", format="DD.MM.YYYY", name="birthday"),
                            "Umsatz": Target("lifetime_spend")})
    item = source.preview(mapping).items[0]
    assert set(item.marks) == {"date:birthday", "lifetime_spend"}
    source.close()


def test_a_mailchimp_archive_is_one_source_with_each_files_status():
    source = ContactSource(SAMPLES / "members_export_2f1a9c4b7e.zip")
    try:
        assert source.describe() == "Mailchimp audience export (3 files)" and source.is_archive
        assert {f.short_name.split("_")[0]: f.status for f in source.files} == {
            "subscribed": "subscribed", "unsubscribed": "unsubscribed", "cleaned": "unsubscribed"}
        mappings = source.mappings(source.initial)
        assert [m.file_consent for m in mappings.values()] == [{"email": "subscribed"}, {"email": "unsubscribed"},
                                                              {"email": "unsubscribed"}]
        assert "UNSUB_TIME" in source.header        # the unsubscribed file's own columns are mapped too
    finally:
        source.close()


def test_an_empty_file_and_an_unknown_layout_are_said(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert ContactSource(empty).problem().startswith("The file is empty")
    odd = tmp_path / "odd.csv"
    odd.write_text("Spalte 1;Spalte 2\nx;y\n", encoding="utf-8")
    source = ContactSource(odd)
    assert source.describe() == "No known layout: map the columns"
    assert source.preview(source.initial).refused.startswith("no column is mapped to id, email or phone")


def test_a_mapping_is_remembered_by_header_but_a_presets_own_is_not(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    shop = ContactSource(SAMPLES / "shopify_customers_export.csv", db)
    shop.remember(db, shop.initial)
    assert saved_mapping(db, shop.files[0].header) is None         # the preset applies next time
    changed = shop.initial
    changed.columns["Note"] = Target("ignore")
    shop.remember(db, changed)
    again = ContactSource(SAMPLES / "shopify_customers_export.csv", db)
    assert again.saved and again.initial.columns["Note"].field == "ignore"
    assert again.describe() == "Shopify customers export"
    db.dispose()
