"""The cells of a contacts file as shops write them (issue 12): money, phones, emails, tags, consent,
dates, countries and the time zones derived from them."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from app.engine.contact_values import (consent_state, count, country_code, date_value, email_address, money,
                                       phone_number, tags, timestamp, unquote, zone_of_phone, zone_of_place)


@pytest.mark.parametrize("text, amount", [
    ("1234.5", "1234.50"), ("$1,234.50", "1234.50"), ("1.234,50 €", "1234.50"), ("CHF 1'234.50", "1234.50"),
    ("1 234,50", "1234.50"), ("£12", "12.00"), ("0.00", "0.00"), ("12,5", "12.50"), ("1,234", "1234.00"),
    ("USD 2,310.40", "2310.40"), ("€ 99", "99.00"), ("1.234.567,89", "1234567.89"),
    ("$1,234,567.8", "1234567.80"), ("$12", "12.00"), ("$0.5", "0.50"), ("12,34", "12.34"), ("1,23,456", "123456"),
])
def test_money_is_a_number_whatever_the_symbols_and_separators(text, amount):
    assert money(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["", "free", "-5.00", "−3,00", "9999999999999.00", "$1,2345.00", "$-5",
                                  "$999,999,999,999,999.00", "1e5"])
def test_money_that_is_not_an_amount_is_refused(text):
    with pytest.raises(ValueError):
        money(text)


@pytest.mark.parametrize("text, number", [("12", 12), ("1,204", 1204), ("12.0", 12), (" 3 ", 3)])
def test_order_counts(text, number):
    assert count(text.strip()) == number


@pytest.mark.parametrize("text", ["three", "1.5", "-1"])
def test_an_order_count_that_is_not_whole_is_refused(text):
    with pytest.raises(ValueError):
        count(text)


@pytest.mark.parametrize("text, region, e164", [
    ("+1 416-555-0123", None, "+14165550123"), ("06 12 34 56 78", "FR", "+33612345678"),
    ("0151 12345678", "DE", "+4915112345678"), ("0049 151 12345678", None, "+4915112345678"),
    ("(312) 555-0147", "US", "+13125550147"), ("+44 7911 123456", "FR", "+447911123456"),
])
def test_phones_become_e164_using_the_rows_country_for_national_numbers(text, region, e164):
    assert phone_number(text, region) == e164


@pytest.mark.parametrize("text, region, e164", [
    ("4915112345678", "DE", "+4915112345678"), ("33612345678", "FR", "+33612345678"),
    ("447911123456", "FR", "+447911123456"), ("4915112345678", None, "+4915112345678"),
    ("393471234567", "IT", "+393471234567"), ("61412345678", "GB", "+61412345678"),
    # national numbers as before
    ("3471234567", "IT", "+393471234567"), ("612345678", "FR", "+33612345678"), ("2125550123", "US", "+12125550123"),
])
def test_a_number_a_spreadsheet_saved_without_its_plus_is_read_with_its_country_code(text, region, e164):
    """Excel turns `+4915112345678` into the number 4915112345678 and saves it so (issue 12 review)."""
    assert phone_number(text, region) == e164


@pytest.mark.parametrize("text, region", [("555-0199", "US"), ("12", "DE"), ("not a phone", "US"),
                                          ("+15550001", None), ("0612345678", None)])
def test_invalid_phones_are_refused_with_the_reason(text, region):
    with pytest.raises(ValueError, match="phone"):
        phone_number(text, region)


@pytest.mark.parametrize("text", ["ann@example.com", "Ann.Lee+shop@Example.CO.UK", "jörg@bücher.example.de",
                                  "o'neil@example.ie"])
def test_emails_that_are_addresses(text):
    assert email_address(text) == text


@pytest.mark.parametrize("text", ["ann(at)example.com", "ann@", "@example.com", "ann@@example.com",
                                  "ann@example", "ann example@example.com", "ann@localhost", "a..b@example.com"])
def test_emails_that_are_not_addresses_say_so(text):
    with pytest.raises(ValueError, match="not an email address"):
        email_address(text)


@pytest.mark.parametrize("text, style, found", [
    ("vip, newsletter", "comma", ["vip", "newsletter"]), ('"vip","newsletter"', "quoted", ["vip", "newsletter"]),
    ("vip;newsletter", "semicolon", ["vip", "newsletter"]), ('"a, b","c"', "quoted", ["a, b", "c"]),
    ("vip,,vip", "comma", ["vip"]), ("", "comma", []),
])
def test_tags_are_split_the_way_each_source_writes_them(text, style, found):
    assert tags(text, style) == found


@pytest.mark.parametrize("text, state", [
    ("yes", "subscribed"), ("SUBSCRIBED", "subscribed"), ("no", "unsubscribed"), ("UNSUBSCRIBED", "unsubscribed"),
    ("NEVER_SUBSCRIBED", None), ("never subscribed", None), ("", None), ("TRUE", "subscribed"),
    ("false", "unsubscribed"), ("cleaned", "unsubscribed"), ("pending", None),
    # a spreadsheet kept by hand in German, French…, and Excel's TRUE/FALSE in those languages
    ("ja", "subscribed"), ("Nein", "unsubscribed"), ("WAHR", "subscribed"), ("FALSCH", "unsubscribed"),
    ("oui", "subscribed"), ("non", "unsubscribed"), ("sí", "subscribed"),
])
def test_consent_cells(text, state):
    assert consent_state(text) == state


def test_a_consent_cell_that_cannot_be_read_is_not_guessed():
    with pytest.raises(ValueError, match="consent 'maybe'"):
        consent_state("maybe")


@pytest.mark.parametrize("text, form, iso", [
    ("03/14", "MM/DD", "--03-14"), ("14.03.1990", "DD.MM.YYYY", "1990-03-14"), ("1990-03-14", "ISO", "1990-03-14"),
    ("2024-03-05T10:00:00Z", "ISO", "2024-03-05"), ("02/29", "MM/DD", "--02-29"), ("14/03/1990", "DD/MM/YYYY", "1990-03-14"),
])
def test_dates_are_read_in_the_mappings_format(text, form, iso):
    assert date_value(text, form) == iso


@pytest.mark.parametrize("text, form", [("14/03", "MM/DD"), ("1990-03-14", "DD.MM.YYYY"), ("soon", "ISO"),
                                        ("31.02.1990", "DD.MM.YYYY")])
def test_a_date_that_does_not_parse_is_refused(text, form):
    with pytest.raises(ValueError, match="is not a date"):
        date_value(text, form)


def test_times_as_exports_write_them_are_utc():
    assert timestamp("2024-03-05 10:00:00 -0500") == datetime(2024, 3, 5, 15, tzinfo=timezone.utc)
    assert timestamp("2024-03-05") == datetime(2024, 3, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, code", [("DE", "DE"), ("de", "DE"), ("Germany", "DE"), ("United Kingdom (UK)", "GB"),
                                        ("UK", "GB"), ("United States", "US"), ("Atlantis", None), ("", None)])
def test_countries_however_written(text, code):
    assert country_code(text) == code


@pytest.mark.parametrize("phone, zone", [("+12125550143", "America/New_York"), ("+447911123456", "Europe/London"),
                                         ("+33612345678", "Europe/Paris"), ("+61412345678", None)])
def test_a_time_zone_from_the_phone_only_when_it_gives_one_clock(phone, zone):
    assert zone_of_phone(phone) == zone


@pytest.mark.parametrize("country, province, zone, how", [
    ("FR", None, "Europe/Paris", "country"), ("DE", "BY", "Europe/Berlin", "country"),
    ("US", "CO", "America/Denver", "province"), ("US", "TX", None, ""), ("US", None, None, ""),
    ("AU", "VIC", "Australia/Melbourne", "province"), ("CA", "CA-AB", "America/Edmonton", "province"),
    # Split between clocks (IANA zone1970.tab: "most areas"): never guessed.
    ("AU", "NSW", None, ""), ("CA", "CA-BC", None, ""), ("US", "AZ", None, ""), ("US", "AK", None, ""),
    ("CA", "QC", None, ""), ("CA", "NL", None, ""), ("CA", "SK", None, ""),
    # By name, as forms write them.
    ("US", "California", "America/Los_Angeles", "province"), ("AU", "Victoria", "Australia/Melbourne", "province"),
    ("US", "Texas", None, ""), ("CA", "British Columbia", None, ""),
])
def test_a_time_zone_from_the_address_only_when_it_gives_one_clock(country, province, zone, how):
    assert zone_of_place(country, province) == (zone, how)


def test_the_apostrophe_spreadsheets_put_before_numbers_is_dropped():
    assert unquote("'+14165550123") == "+14165550123" and unquote("'02134") == "02134" and unquote("Ann") == "Ann"
