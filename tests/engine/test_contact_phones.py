"""Phones read fast for a million-row import (issue 12, Scale) and still exactly as libphonenumber reads
them: the shortcut for `+` numbers gives `phonenumbers.parse`'s number, the answers kept by (text,
region) never give one region's answer for another, and a bad number is reported on every row."""
from __future__ import annotations

import gc

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from app.engine.contact_values import phone_with_zone, tags
from app.engine.importers import parse_contacts
from app.engine.phone_parse import read_number


def _examples() -> list[str]:
    """Every country's example numbers (libphonenumber's own, one per number type), in E.164 and in
    international form with its spaces and hyphens, and the non-geographic ones (+800 …)."""
    found: set[str] = set()
    numbers = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE,
                     PhoneNumberType.PREMIUM_RATE, PhoneNumberType.VOIP, PhoneNumberType.SHARED_COST):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(example)
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            numbers.append(example)
    for number in numbers:
        found.add(phonenumbers.format_number(number, PhoneNumberFormat.E164))
        found.add(phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL))
    return sorted(found)


EXAMPLES = _examples()


def test_every_countrys_numbers_written_with_a_plus_read_as_libphonenumber_reads_them():
    assert len(EXAMPLES) > 1000
    for text in EXAMPLES:
        assert read_number(text, None) == phonenumbers.parse(text, None), text
        assert read_number(text, "DE") == phonenumbers.parse(text, "DE"), text


@pytest.mark.parametrize("text", [
    "+44 07911 123456",      # a national prefix after the country code: libphonenumber drops it
    "+39 06 6982 1234",      # Italy keeps its leading zero
    "+7 8 812 123 4567",     # Russia's national prefix 8
    "+1 1 212 555 0123",     # the NANP's 1 written twice
    "+54 9 11 2345 6789",    # Argentina's mobile 9 and its prefix rules
    "+36 06 1 234 5678",     # Hungary's 06
    "+378 0549 123456",      # San Marino's transformed prefix
    "+12", "+1", "+999 123456", "+0 123", "+1 212 555 01", "+49 151 2345 6789 1234 5678 9",
    "+1-212-555-0123", "+1 212  555 0123", "+1 (212) 555-0123", "+1 212 555 0123 ext 4",
])
def test_numbers_the_shortcut_must_leave_to_the_library_read_the_same(text):
    try:
        expected = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException as exc:
        with pytest.raises(phonenumbers.NumberParseException) as got:
            read_number(text, "US")
        assert got.value.error_type == exc.error_type
    else:
        assert read_number(text, "US") == expected


def _reference(value: str, region: str | None) -> tuple[str, bool]:
    """What libphonenumber alone says: (E.164, valid)."""
    text = "+" + value[2:] if value.startswith("00") else value
    number = phonenumbers.parse(text, None if text.startswith("+") else region)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), phonenumbers.is_valid_number(number)


@pytest.mark.parametrize("value, region", [
    ("+1 212 200 0000", None), ("+1 416 555 0123", "US"), ("+44 7911 123456", "GB"), ("+49 151 2345 6789", None),
    ("0049 151 2345 6789", None), ("+33 6 12 34 56 78", "FR"), ("+61 412 345 678", None), ("+7 912 345 6789", None),
    ("+44 7911 999999", None), ("+1 212 555 01", None), ("+39 06 6982 1234", None), ("+800 1234 5678", None),
])
def test_a_phone_is_valid_exactly_when_libphonenumber_says_so(value, region):
    e164, valid = _reference(value, region)
    if valid:
        assert phone_with_zone(value, region)[0] == e164
    else:
        with pytest.raises(ValueError, match="is not a valid number"):
            phone_with_zone(value, region)


def test_the_same_national_number_in_two_countries_gives_each_countrys_answer():
    assert phone_with_zone("0612345678", "FR") == ("+33612345678", "Europe/Paris")
    assert phone_with_zone("0612345678", "NL") == ("+31612345678", "Europe/Amsterdam")
    assert phone_with_zone("0612345678", "FR")[0] == "+33612345678"        # asked again: still France's
    assert phone_with_zone("020 7946 0958", "GB")[0] == "+442079460958"
    with pytest.raises(ValueError, match="not a valid number in NL"):
        phone_with_zone("020 7946 0958", "NL")
    with pytest.raises(ValueError, match="no country code and no country is known"):
        phone_with_zone("020 7946 0958", None)


def test_an_invalid_number_repeated_on_many_rows_is_reported_on_each():
    rows, problems = parse_contacts("id,phone,country\n" + "".join(
        f"c{i},{phone},{country}\n" for i, (phone, country) in enumerate(
            [("+1 212 555 01", "US"), ("+1 212 555 01", "US"), ("0612345678", "NL"), ("020 7946 0958", "NL"),
             ("020 7946 0958", "NL"), ("020 7946 0958", "GB")])))
    assert problems == []
    warned = [(r.line, r.warnings) for r in rows if r.warnings]
    assert [line for line, _ in warned] == [2, 3, 5, 6]
    assert all("the phone was left empty" in w[0] for _, w in warned)
    assert [r.fields["phone"] for r in rows] == [None, None, "+31612345678", None, None, "+442079460958"]


def test_tags_read_from_the_same_cell_twice_are_separate_lists():
    first = tags("vip, newsletter", "comma")
    first.append("changed")
    assert tags("vip, newsletter", "comma") == ["vip", "newsletter"]
    assert tags("vip, newsletter", "semicolon") == ["vip, newsletter"]


def test_a_file_import_leaves_the_cycle_collector_as_it_found_it(tmp_path):
    from datetime import datetime, timezone

    from app.engine.file_import import Cancelled, import_contacts_file
    from app.store.db import open_database

    db = open_database(str(tmp_path / "db.sqlite3"))
    path = tmp_path / "contacts.csv"
    path.write_text("id,email\n" + "".join(f"c{i},c{i}@example.com\n" for i in range(6000)))
    before = gc.get_threshold()
    import_contacts_file(db, path, datetime.now(timezone.utc))
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with pytest.raises(Cancelled):
        import_contacts_file(db, path, datetime.now(timezone.utc), cancelled=lambda: True)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_random_digits_after_a_plus_read_as_libphonenumber_reads_them():
    import random

    rng = random.Random(12)
    for _ in range(20_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
        text = "+" + (" ".join(digits[i:i + 3] for i in range(0, len(digits), 3)) if rng.random() < 0.5 else digits)
        try:
            expected = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException as exc:
            with pytest.raises(phonenumbers.NumberParseException) as got:
                read_number(text, None)
            assert got.value.error_type == exc.error_type, text
        else:
            assert read_number(text, None) == expected, text
