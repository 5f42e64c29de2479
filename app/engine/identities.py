"""Who a row of an order export or an identify call is: email and phone as the store keeps them.

Emails are checked for syntax by `email-validator` (RFC 5321/5322, no DNS look-up: imports run
offline) and compared case-insensitively; phones are written in E.164 by `phonenumbers` (Google's
libphonenumber data), a national number read with the row's country (ISO 3166 alpha-2 such as
"DE", or a country name such as "Germany"). Spreadsheet exports put a `'` before phone numbers
and ids so that Excel keeps them as text (Shopify does): it is not part of the value.
"""
from __future__ import annotations

from functools import lru_cache


def unquote(value: str) -> str:
    """`value` without the leading apostrophe spreadsheet exports write before ids and phones."""
    value = value.strip()
    return value[1:].strip() if value.startswith("'") else value


def email_or_problem(value: str) -> tuple[str | None, str | None]:
    """(the address as stored, None) or (None, why it is not an email address)."""
    from email_validator import EmailNotValidError, validate_email

    text = unquote(value)
    if not text:
        return None, None
    try:
        return str(validate_email(text, check_deliverability=False).normalized), None
    except EmailNotValidError as exc:
        return None, f"{text!r} is not an email address ({exc})"


@lru_cache(maxsize=512)
def region_of(country: str) -> str | None:
    """The ISO 3166 alpha-2 code for a country cell ("DE", "de", "Germany"), or None."""
    text = country.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    if not text:
        return None
    from babel import Locale

    names = Locale("en").territories
    folded = text.casefold()
    return next((code for code, name in names.items() if len(code) == 2 and name.casefold() == folded), None)


def phone_or_problem(value: str, country: str | None = None) -> tuple[str | None, str | None]:
    """(the number in E.164, None) or (None, why it is not a phone number); a national number
    ("030 1234567") is read with `country`'s numbering plan."""
    import phonenumbers

    text = unquote(value)
    if not text:
        return None, None
    region = region_of(country) if country else None
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        where = "" if region or text.startswith("+") else " (no country to read a national number with)"
        return None, f"{text!r} is not a phone number{where}"
    if not phonenumbers.is_valid_number(number):
        return None, f"{text!r} is not a valid phone number"
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)), None
