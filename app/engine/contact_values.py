"""One cell of a contacts file made into what the store keeps: phones in E.164, emails checked,
money as numbers, dates in the mapping's format, consent cells, tags, a time zone derived.

Each reader raises `ValueError` with the reason in a shop owner's words; the caller adds the
line and the column.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

import phonenumbers
from babel.core import get_global
from email_validator import EmailNotValidError, validate_email
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from app.journey.schema import MAX_AMOUNT

from .phone_parse import read_number

SUBSCRIBED, UNSUBSCRIBED = "subscribed", "unsubscribed"


def unquote(value: str) -> str:
    """The value without the apostrophe spreadsheet exports put before ids, zip codes and phones
    (Shopify writes `'8779761975521`, `'+16135550142`) so that Excel keeps them as text."""
    return value[1:].strip() if value.startswith("'") else value


# --- emails ---------------------------------------------------------------------------------------

# The plain addresses nearly every row holds, which email-validator would accept too: checked here
# without its cost (25 µs a row is 25 s of a million-row import). Anything else goes to the library.
_PLAIN_EMAIL = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@"
                          r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}")
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test", "internal"})


def email_address(value: str) -> str:
    """`value` when it is an email address by syntax (RFC 5321/5322 with internationalised names, as
    `email-validator` checks them, without any DNS lookup); raises ValueError saying why not."""
    if len(value) <= 254 and _PLAIN_EMAIL.fullmatch(value) and value.rsplit(".", 1)[1].lower() not in _SPECIAL_TLDS:
        return value
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        why = f" ({str(exc).rstrip('.')})" if "@" in value else ""      # without an @ it says nothing more
        raise ValueError(f"email {value!r} is not an email address{why}") from None
    return value


# --- phones ---------------------------------------------------------------------------------------

def phone_number(value: str, region: str | None) -> str:
    """`value` in E.164 (`+4915112345678`), read with libphonenumber (`phonenumbers`): a number
    written with its + and country code is read as such; a national one (`030 1234567`) in
    `region` (ISO 3166 alpha-2: the row's country, else the business's). Raises ValueError for a
    number that is not valid there, or national with no region known."""
    return phone_with_zone(value, region)[0]


def phone_with_zone(value: str, region: str | None) -> tuple[str, str | None]:
    """(`phone_number(value, region)`, the time zone of the number's area when it keeps one clock,
    as `zone_of_phone`), with the number parsed and typed once (a million rows: the cost that counts).
    The last few thousand answers are kept by (value, region): a number repeated in a file (a
    household, a shop's own line) is read once; the same text in another region is read again."""
    found = _phone(value, region)
    if isinstance(found, str):
        raise ValueError(found)
    return found


_LOST_PLUS = re.compile(r"[1-9][0-9]{7,14}")    # digits alone, as a spreadsheet keeps an E.164 number


@lru_cache(maxsize=4096)
def _phone(value: str, region: str | None) -> tuple[str, str | None] | str:
    """`phone_with_zone`'s answer, or the reason it raises (kept like an answer)."""
    text = value.strip()
    if text.startswith("00"):        # the international prefix most of the world dials
        text = "+" + text[2:]
    if _LOST_PLUS.fullmatch(text) and (region is None or text.startswith(str(
            phonenumbers.country_code_for_region(region)))):
        # Excel reads `+4915112345678` as a number and saves it without its +. Digits that begin
        # with the row's own country code (or with no country known) are first read as such a
        # number: `4915112345678` in DE is +49 151…, not a national number that happens to fit.
        again = _phone("+" + text, None)
        if not isinstance(again, str):
            return again
    try:
        number = read_number(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        if not text.startswith("+") and region is None:
            return (f"phone {value!r} has no country code and no country is known for the row "
                    "(map a country column or give --country)")
        return f"phone {value!r} is not a phone number"
    # `number_type` is UNKNOWN exactly when the number fits none of its country's ranges, which is
    # what `is_valid_number` tests (it computes the same type); computed once, it also gives the zone.
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        if _LOST_PLUS.fullmatch(text):
            # No number of the row's country: perhaps one of another country that lost its + (above).
            again = _phone("+" + text, None)
            if not isinstance(again, str):
                return again
        where = f" in {region}" if region and not text.startswith("+") else ""
        return f"phone {value!r} is not a valid number{where}"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, _zone_of(e164, number.country_code or 0, kind)


def _zone_of(e164: str, country_code: int, kind: int) -> str | None:
    """libphonenumber's `time_zones_for_number` for a number already typed: the area's zones for a
    geographical number (its longest prefix in the time-zone data), else the country's."""
    if phonenumbers.is_number_type_geographical(kind, country_code):
        for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
            zones = TIMEZONE_DATA.get(e164[1:1 + length])
            if zones is not None:
                return _zone_for_country(tuple(zones), country_code)
        return None
    return _country_zone(country_code)


@lru_cache(maxsize=512)
def _country_zone(country_code: int) -> str | None:
    regions = phonenumbers.region_codes_for_country_code(country_code)
    zones = [z for r in regions for z in get_global("territory_zones").get(r, ())]
    return _zone_for_country(tuple(zones), country_code)


@lru_cache(maxsize=4096)
def _zone_for_country(zones: tuple[str, ...], country_code: int) -> str | None:
    """The one clock of `zones`, named by the country's own zone when it is among them (a UK mobile
    lists Guernsey, the Isle of Man, Jersey and London: London)."""
    own = get_global("territory_zones").get(phonenumbers.region_code_for_country_code(country_code), ())
    return _one_zone(tuple(sorted(zones, key=lambda z: z not in own)))


# --- countries and time zones -----------------------------------------------------------------------

@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Country names (English, as exports write them: `United Kingdom`, `Germany`) to ISO codes."""
    from babel import Locale

    names = {name.lower(): code for code, name in Locale("en").territories.items() if len(code) == 2}
    names.update({"usa": "US", "united states of america": "US", "uk": "GB", "great britain": "GB",
                  "england": "GB", "scotland": "GB", "wales": "GB", "deutschland": "DE", "österreich": "AT",
                  "schweiz": "CH", "españa": "ES", "italia": "IT", "nederland": "NL", "россия": "RU"})
    return names


@lru_cache(maxsize=1024)      # a column's few hundred countries, read a million times
def country_code(value: str) -> str | None:
    """The ISO 3166 alpha-2 code of a country cell (`DE`, `de`, `Germany`, WooCommerce's
    `United Kingdom (UK)`); None when it is not a country the CLDR knows."""
    text = " ".join(value.split())
    if not text:
        return None
    if len(text) == 2 and text.isalpha():
        code = text.upper()
        return "GB" if code == "UK" else code if code in get_global("territory_zones") or code in _codes() else None
    match = re.fullmatch(r"(.+?)\s*\(([A-Za-z]{2})\)", text)        # "United Kingdom (UK)"
    if match:
        return country_code(match.group(2)) or country_code(match.group(1))
    return _country_names().get(text.lower())


@lru_cache(maxsize=1)
def _codes() -> frozenset[str]:
    return frozenset(_country_names().values())


@lru_cache(maxsize=4096)
def _one_zone(zones: tuple[str, ...]) -> str | None:
    """The first of `zones` when they all keep the same clock (the same UTC offsets in January and
    July: Europe/Berlin and its exclave Europe/Busingen), else None: a guess between different
    clocks would move someone's messages by hours."""
    found = [z for z in zones if z and not z.startswith("Etc/")]
    if not found:
        return None
    year = datetime.now(timezone.utc).year

    def clock(zone: str) -> tuple[object, object]:
        tz = ZoneInfo(zone)
        return (datetime(year, 1, 15, 12, tzinfo=tz).utcoffset(), datetime(year, 7, 15, 12, tzinfo=tz).utcoffset())

    try:
        first = clock(found[0])
        return found[0] if all(clock(z) == first for z in found[1:]) else None
    except (KeyError, ValueError):      # a zone this system's tz database lacks
        return None


def zone_of_phone(e164: str) -> str | None:
    """The time zone of a phone number's area when libphonenumber gives one clock for it (`+1 212` is
    New York; a UK mobile is London; an Australian mobile, with several clocks, none)."""
    try:
        return phone_with_zone(e164, None)[1]
    except ValueError:
        return None


# A province or state that has one clock in a country that has several (CLDR lists a country's
# zones, not a state's): the US states, Canadian provinces and Australian states whose whole
# territory keeps one time. Those split between clocks are left out (no guess), including the
# ones IANA's zone1970.tab describes as "most areas" of a zone: Texas, Florida, Alaska (Adak),
# Arizona (the Navajo Nation keeps DST), British Columbia (Creston, Dawson Creek, Fort Nelson),
# Quebec (Lower North Shore), Newfoundland and Labrador (Labrador), Saskatchewan (Lloydminster),
# New South Wales (Broken Hill, Lord Howe Island), Ontario. Source: IANA tz database zone1970.tab.
_PROVINCE_ZONES: dict[str, dict[str, str]] = {
    "US": {"AL": "America/Chicago", "AR": "America/Chicago",
           "CA": "America/Los_Angeles", "CO": "America/Denver", "CT": "America/New_York", "DE": "America/New_York",
           "DC": "America/New_York", "GA": "America/New_York", "HI": "Pacific/Honolulu", "IL": "America/Chicago",
           "IA": "America/Chicago", "LA": "America/Chicago", "ME": "America/New_York", "MD": "America/New_York",
           "MA": "America/New_York", "MN": "America/Chicago", "MS": "America/Chicago", "MO": "America/Chicago",
           "MT": "America/Denver", "NH": "America/New_York", "NJ": "America/New_York", "NM": "America/Denver",
           "NY": "America/New_York", "NC": "America/New_York", "OH": "America/New_York", "OK": "America/Chicago",
           "PA": "America/New_York", "RI": "America/New_York", "SC": "America/New_York", "UT": "America/Denver",
           "VT": "America/New_York", "VA": "America/New_York", "WA": "America/Los_Angeles",
           "WV": "America/New_York", "WI": "America/Chicago", "WY": "America/Denver"},
    "CA": {"AB": "America/Edmonton", "MB": "America/Winnipeg", "NB": "America/Moncton", "NS": "America/Halifax",
           "PE": "America/Halifax", "YT": "America/Whitehorse"},
    "AU": {"VIC": "Australia/Melbourne", "QLD": "Australia/Brisbane", "SA": "Australia/Adelaide",
           "WA": "Australia/Perth", "TAS": "Australia/Hobart", "ACT": "Australia/Sydney", "NT": "Australia/Darwin"},
}
# The same provinces by name, as forms and some exports write them (`California`, `Victoria`).
_PROVINCE_NAMES: dict[str, dict[str, str]] = {country: {
    name.lower(): code for name, code in (pair.split(":") for pair in names.split(","))} for country, names in {
    "US": "Alabama:AL,Arkansas:AR,California:CA,Colorado:CO,Connecticut:CT,Delaware:DE,District of Columbia:DC,"
          "Georgia:GA,Hawaii:HI,Illinois:IL,Iowa:IA,Louisiana:LA,Maine:ME,Maryland:MD,Massachusetts:MA,"
          "Minnesota:MN,Mississippi:MS,Missouri:MO,Montana:MT,New Hampshire:NH,New Jersey:NJ,New Mexico:NM,"
          "New York:NY,North Carolina:NC,Ohio:OH,Oklahoma:OK,Pennsylvania:PA,Rhode Island:RI,South Carolina:SC,"
          "Utah:UT,Vermont:VT,Virginia:VA,Washington:WA,West Virginia:WV,Wisconsin:WI,Wyoming:WY",
    "CA": "Alberta:AB,Manitoba:MB,New Brunswick:NB,Nova Scotia:NS,Prince Edward Island:PE,Yukon:YT",
    "AU": "Victoria:VIC,Queensland:QLD,South Australia:SA,Western Australia:WA,Tasmania:TAS,"
          "Australian Capital Territory:ACT,Northern Territory:NT"}.items()}


@lru_cache(maxsize=4096)
def zone_of_place(country: str | None, province: str | None) -> tuple[str | None, str]:
    """(time zone, how) from an address: the country's when it keeps one clock (CLDR territory
    zones: France, Germany, the UK); else the province's from the table above; (None, "") when
    neither gives exactly one. `how` is "country" or "province"."""
    if not country:
        return None, ""
    zone = _one_zone(tuple(get_global("territory_zones").get(country, ())))
    if zone:
        return zone, "country"
    text = " ".join((province or "").split())
    code = _PROVINCE_NAMES.get(country, {}).get(text.lower()) or text.upper().removeprefix(f"{country}-")
    zone = _PROVINCE_ZONES.get(country, {}).get(code)
    return (zone, "province") if zone else (None, "")


def country_of_zone(zone: str | None) -> str | None:
    """The country of an IANA zone (`Europe/Berlin` → `DE`), from the CLDR; None when unknown."""
    return get_global("zone_territories").get(zone) if zone else None


# --- money, counts, dates ---------------------------------------------------------------------------

_DIGIT = re.compile(r"\d")
# `1249.90`, `$1,249.90`, `1,249`: as nearly every export writes amounts (a million rows). A comma here
# can only group thousands, as the general rules below read it too.
_PLAIN_AMOUNT = re.compile(r"\$?(?:[0-9]{1,15}|[0-9]{1,3}(?:,[0-9]{3}){1,4})(?:\.[0-9]{1,2})?")
_MAX_DECIMAL = Decimal(str(MAX_AMOUNT))


def money(value: str) -> Decimal:
    """An amount written as shops export it: `1234.5`, `$1,234.50`, `1.234,50 €`, `CHF 1'234.50`,
    `1 234,50`, `1,23,456.00`. The last `.` or `,` followed by one or two digits is the decimal
    mark; other marks group thousands (groups of three; of two before the last, as India writes).
    A currency code or symbol may stand before or after the number. Raises ValueError for anything
    else (`1e5`, `1.2.3`, `12 (3 orders)`: never read as another number), a negative amount (`-5`,
    `(5.00)` as accounts write it, `5-`) or one above the store's largest (MAX_AMOUNT)."""
    if _PLAIN_AMOUNT.fullmatch(value):
        amount = Decimal(value.lstrip("$").replace(",", ""))
        if amount > _MAX_DECIMAL:
            raise ValueError(f"{value!r} is more than the store keeps ({MAX_AMOUNT:,.2f})")
        return amount
    text = " ".join(value.replace("\u2212", "-").split())
    negative = text.startswith("(") and text.endswith(")")
    if negative:
        text = text[1:-1]
    digits = [m.start() for m in _DIGIT.finditer(text)]
    if not digits:
        raise ValueError(f"{value!r} is not an amount")
    first, last = digits[0], digits[-1] + 1
    if first and text[first - 1] in ".,":      # `.5`
        first -= 1
    before, number, after = text[:first], text[first:last], text[last:]
    negative = negative or "-" in before or after.strip() == "-"
    if any(c in "()" for c in before + after) or "-" in after.strip("- "):
        raise ValueError(f"{value!r} is not an amount")
    number = number.replace("'", "").replace(" ", "")
    if not re.fullmatch(r"[\d.,]+", number):
        raise ValueError(f"{value!r} is not an amount")
    mark = max(number.rfind("."), number.rfind(","))
    if mark >= 0 and 1 <= len(number) - mark - 1 <= 2:
        whole, cents = number[:mark], number[mark + 1:]
    else:
        whole, cents = number, ""
    if not _grouped(whole):
        raise ValueError(f"{value!r} is not an amount")
    whole = whole.replace(".", "").replace(",", "")
    try:
        amount = Decimal(f"{whole or '0'}.{cents or '0'}")
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if negative and amount:
        raise ValueError(f"{value!r} is negative")
    if amount > Decimal(str(MAX_AMOUNT)):
        raise ValueError(f"{value!r} is more than the store keeps ({MAX_AMOUNT:,.2f})")
    return amount


def _grouped(whole: str) -> bool:
    """True for digits with no marks, or grouped by one kind of mark: `1,234,567`, `1.234`, `1,23,456`."""
    groups = re.split(r"[.,]", whole)
    if len(groups) == 1:
        return True
    return (len(set(re.findall(r"[.,]", whole))) == 1 and 1 <= len(groups[0]) <= 3 and len(groups[-1]) == 3
            and all(len(g) in (2, 3) for g in groups[1:-1]))


def count(value: str) -> int:
    """A whole number of orders (`12`, `1,204`, `12.0`); raises ValueError otherwise."""
    text = value.replace(",", "").replace(" ", "")
    if text.endswith(".0"):
        text = text[:-2]
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"{value!r} is not a whole number")
    number = int(text)
    if number > 2_000_000_000:
        raise ValueError(f"{value!r} is too large")
    return number


# The date formats a mapping may name, as users write them, and how to read them.
DATE_FORMATS = {"ISO": None, "YYYY-MM-DD": "%Y-%m-%d", "DD.MM.YYYY": "%d.%m.%Y", "DD/MM/YYYY": "%d/%m/%Y",
                "MM/DD/YYYY": "%m/%d/%Y", "DD-MM-YYYY": "%d-%m-%Y", "MM/DD": "%m/%d", "DD/MM": "%d/%m",
                "DD.MM": "%d.%m", "MM-DD": "%m-%d", "YYYY/MM/DD": "%Y/%m/%d"}


def date_value(value: str, form: str) -> str:
    """A date cell read in `form` (one of DATE_FORMATS), written as ISO: `YYYY-MM-DD`, or `--MM-DD`
    (ISO 8601's form for a day without a year: a birthday given as `MM/DD`). ISO also takes a date
    and time (`2024-03-05 10:00:00`, `2024-03-05T10:00:00Z`), keeping the date. Raises ValueError
    naming the format when the cell does not match it."""
    text = value.strip()
    pattern = DATE_FORMATS.get(form)
    if form not in DATE_FORMATS:
        raise ValueError(f"the date format {form!r} is not one of {', '.join(DATE_FORMATS)}")
    try:
        if pattern is None:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        if "%Y" not in pattern:
            day = datetime.strptime(f"2000 {text}", f"%Y {pattern}")     # 2000: a leap year, so 02/29 reads
            return f"--{day:%m-%d}"
        return datetime.strptime(text, pattern).date().isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date written {form}") from None


def timestamp(value: str) -> datetime:
    """A time as exports write it (`2024-03-05 10:00:00 -0500`, `2024-03-05T10:00:00Z`,
    `2024-03-05`), in UTC; a time without an offset is taken as UTC. Raises ValueError."""
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r" ([+-]\d{2}):?(\d{2})$", r"\1:\2", text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            raise ValueError(f"{value!r} is not a date and time such as 2024-03-05 10:00:00") from None
    try:
        when = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except OverflowError:       # year 9999 at -14:00: beyond what UTC can show
        raise ValueError(f"{value!r} is not a date the store can keep") from None
    if not 1900 <= when.year <= 2200:
        raise ValueError(f"{value!r} is not a plausible date for an order")
    return when


# --- consent and tags ---------------------------------------------------------------------------------

# A consent cell. "No" is taken as an opt-out: a shop's "Accepts Email Marketing: no" means the
# shop does not market to them, and neither may we (only a channel-specific opt-in clears it).
# Klaviyo's NEVER_SUBSCRIBED, Shopify's PENDING (double opt-in not confirmed) and an empty cell
# change nothing (the channel stays as it is, unknown for a new contact).
# Yes and no as shops outside English write them too (German, French, Spanish, Italian, Dutch), and
# Excel's TRUE/FALSE in those languages (WAHR/FALSCH, VRAI/FAUX…): a spreadsheet kept by hand says "ja".
_OPT_IN = frozenset({"yes", "y", "true", "1", "x", "subscribed", "opted in", "opted_in", "opt-in", "opt in",
                     "confirmed", "single_opt_in", "confirmed_opt_in",
                     "ja", "wahr", "oui", "vrai", "sí", "si", "sì", "verdadero", "vero", "waar"})
_OPT_OUT = frozenset({"no", "n", "false", "0", "unsubscribed", "opted out", "opted_out", "opt-out", "opt out",
                      "cleaned", "suppressed", "not_subscribed", "not subscribed",
                      "nein", "falsch", "non", "faux", "falso", "nee", "onwaar"})
_NO_CHANGE = frozenset({"", "never_subscribed", "never subscribed", "unknown", "pending", "none", "-",
                        "nonsubscribed", "non-subscribed", "invalid"})


def consent_state(value: str) -> str | None:
    """`subscribed`, `unsubscribed` or None (no change) for a consent cell; raises ValueError for a
    value it cannot read (never guessed: consent is not guessed)."""
    text = " ".join(value.lower().split())
    if text in _OPT_IN:
        return SUBSCRIBED
    if text in _OPT_OUT:
        return UNSUBSCRIBED
    if text in _NO_CHANGE:
        return None
    raise ValueError(f"consent {value!r} is not yes/no, subscribed/unsubscribed or never subscribed")


TAG_STYLES = ("semicolon", "comma", "quoted")


def tags(value: str, style: str) -> list[str]:
    """The tags of a cell as its source writes them: `semicolon` (ours: `vip;newsletter`), `comma`
    (Shopify: `vip, newsletter`), `quoted` (Mailchimp: `"vip","newsletter"`). Blank ones dropped."""
    return list(_tags(value, style))


@lru_cache(maxsize=4096)      # a shop's files repeat a few tag cells on most rows
def _tags(value: str, style: str) -> tuple[str, ...]:
    if style == "quoted":
        found = re.findall(r'"((?:[^"]|"")*)"', value)
        parts = [t.replace('""', '"') for t in found] if found else value.split(",")
    else:
        parts = value.split(";" if style == "semicolon" else ",")
    return tuple(dict.fromkeys(t.strip() for t in parts if t.strip()))
