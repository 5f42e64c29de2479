"""The shop filters of message templates: money, dates and times, in the contact's locale and time zone.

All formatting is Babel's (CLDR data): currency symbols, decimal and grouping
separators, digits per currency (ISO 4217: two for EUR/USD, none for JPY) and
date patterns come from it, never from hand-written code.

The contact's locale and time zone are decided in one place each
(`contact_locale`, `contact_zone`), with the business defaults below them.
A missing value given to a filter stays missing (the step's policy applies when
it is printed); a value that cannot be read (`"abc" | money`) is a template error.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal
from jinja2 import Undefined, pass_context
from jinja2.exceptions import TemplateRuntimeError
from jinja2.runtime import Context

BUSINESS_LOCALE = "en_US"     # until the business has a locale setting
BUSINESS_ZONE = "UTC"         # outside the engine (validation, tests): no business zone known
# The render variable in which the engine passes the zone it resolved for this contact and journey
# (contact → journey → business: app/engine/timeutil.contact_zone), so the filters and every other
# local-time rule agree.
ZONE_VARIABLE = "_local_zone"
DATE_WIDTHS = ("short", "medium", "long", "full")


def business_zone() -> ZoneInfo:
    """The business's time zone: where a contact without a (valid) time zone is assumed to live."""
    return ZoneInfo(BUSINESS_ZONE)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=512)
def _locale(name: str) -> Locale | None:
    try:
        return Locale.parse(name.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def contact_zone(contact: Any) -> ZoneInfo:
    """The contact's IANA time zone (`contact.timezone`), else the business time zone."""
    name = contact.get("timezone") if isinstance(contact, Mapping) else None
    found = _zone(name) if isinstance(name, str) and name else None
    return found or business_zone()


def local_zone(context: Context | None) -> ZoneInfo:
    """The zone dates are shown in: the one the engine resolved for this message, else `contact_zone`."""
    resolved = context.get(ZONE_VARIABLE) if context is not None else None
    return resolved if isinstance(resolved, ZoneInfo) else contact_zone(_contact(context))


def contact_locale(contact: Any) -> Locale:
    """The contact's locale: a custom attribute `locale` ("de_DE", "de-DE", "fr"), else BUSINESS_LOCALE."""
    name = contact.get("locale") if isinstance(contact, Mapping) else None
    found = _locale(name) if isinstance(name, str) and name else None
    return found or _locale(BUSINESS_LOCALE)  # type: ignore[return-value]


def _contact(context: Context | None) -> Any:
    return context.get("contact") if context is not None else None


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TemplateRuntimeError(f"money: {value!r} is not an amount")
    text = str(value).strip().lstrip("'")       # Shopify exports money as text, sometimes with a leading '
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise TemplateRuntimeError(f"money: {text!r} is not an amount (expected a number such as 59.90)") from None
    if not amount.is_finite():
        raise TemplateRuntimeError(f"money: {text!r} is not an amount")
    return amount


def _currency(given: Any, context: Context) -> str | None:
    """The currency: the argument, else `event.currency`, else `contact.currency`; None if none is known."""
    candidates = [given]
    for root in ("event", "contact"):
        holder = context.get(root)
        if isinstance(holder, Mapping):
            candidates.append(holder.get("currency"))
    for code in candidates:
        if isinstance(code, str) and code.strip():
            return code.strip().upper()
    return None


@pass_context
def money(context: Context, value: Any, currency: Any = None) -> Any:
    """`{{ item.price | money }}`, `{{ event.total | money('EUR') }}`: the amount with its currency in the
    contact's locale (`59,90 €` for de_DE, `€59.90` for en_US), with the currency's digits (two for
    almost all; ISO 4217 via Babel). Without any known currency: the number with two decimals."""
    if isinstance(value, Undefined) or value is None:
        return value
    amount = _amount(value)
    locale = contact_locale(_contact(context))
    code = _currency(None if isinstance(currency, Undefined) else currency, context)
    return _money_text(amount, code, locale)


@lru_cache(maxsize=4096)
def _money_text(amount: Decimal, code: str | None, locale: Locale) -> str:
    # Cached: a shop's prices repeat across thousands of messages, and Babel's formatting is the slow part.
    if code is None:
        return format_decimal(amount, format="#,##0.00", locale=locale)
    return format_currency(amount, code, locale=locale)


def _moment(value: Any, filter_name: str) -> datetime | date:
    """A datetime (aware: naive ones are UTC) or a plain date, from a datetime, date, ISO-8601 text
    or Unix seconds."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise TemplateRuntimeError(f"{filter_name}: {text!r} is not a date "
                                   "(expected ISO 8601, e.g. 2026-03-02 or 2026-03-02T10:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _local(moment: datetime | date, zone: ZoneInfo) -> datetime:
    if isinstance(moment, datetime):
        return moment.astimezone(zone)
    return datetime.combine(moment, time(0), tzinfo=zone)


def _width(format: Any, default: str) -> str:
    return format if isinstance(format, str) and format.strip() else default


@pass_context
def date_filter(context: Context, value: Any, format: str = "medium") -> Any:
    """`{{ event.at | date }}` → "Mar 2, 2026" (en_US): the day in the contact's time zone.
    `format`: short, medium, long, full or a CLDR pattern such as "d MMMM y"."""
    if isinstance(value, Undefined) or value is None:
        return value
    moment = _moment(value, "date")
    contact = _contact(context)
    day = moment.astimezone(local_zone(context)).date() if isinstance(moment, datetime) else moment
    return format_date(day, _width(format, "medium"), locale=contact_locale(contact))


@pass_context
def datetime_filter(context: Context, value: Any, format: str = "") -> Any:
    """`{{ event.at | datetime }}` → "Mar 2, 2026, 10:00 AM": day and time in the contact's time zone
    (by default the medium date with the short time); `format` as for `date`."""
    if isinstance(value, Undefined) or value is None:
        return value
    return format_datetime_value(_moment(value, "datetime"), context, format)


@pass_context
def time_filter(context: Context, value: Any, format: str = "short") -> Any:
    """`{{ event.at | time }}` → "10:00 AM": the time of day in the contact's time zone."""
    if isinstance(value, Undefined) or value is None:
        return value
    contact = _contact(context)
    local = _local(_moment(value, "time"), local_zone(context))
    return format_time(local, _width(format, "short"), locale=contact_locale(contact))


def format_datetime_value(value: datetime | date, context: Context | None, format: str = "") -> str:
    """A date or datetime as text in the contact's locale and time zone (used when one is printed bare)."""
    contact = _contact(context)
    locale = contact_locale(contact)
    if not isinstance(value, datetime):
        return format_date(value, _width(format, "medium"), locale=locale)
    local = _local(value if value.tzinfo else value.replace(tzinfo=timezone.utc), local_zone(context))
    if format and format.strip():
        return format_datetime(local, format, locale=locale)
    # Babel's own "medium" shows seconds; a message wants the medium date with the short time, joined the
    # locale's way ("{1}, {0}").
    pattern = str(locale.datetime_formats["medium"]).replace("'", "")
    return pattern.replace("{1}", format_date(local, "medium", locale=locale)).replace(
        "{0}", format_time(local, "short", locale=locale))


def format_number(value: float | Decimal, context: Context | None) -> str:
    """A bare decimal printed in the contact's locale with at most three decimals (59.9 → "59.9",
    0.1 + 0.2 → "0.3", 1234.5 → "1,234.5" in en_US)."""
    return _number_text(value, contact_locale(_contact(context)))


@lru_cache(maxsize=4096)
def _number_text(value: float | Decimal, locale: Locale) -> str:
    return format_decimal(value, locale=locale)


FILTERS = {"money": money, "date": date_filter, "datetime": datetime_filter, "time": time_filter}
