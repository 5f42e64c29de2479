"""Reading a phone number with libphonenumber (`phonenumbers`), without its general parser's cost
for the commonest shape in shop exports: `+` and digits (`+12125550123`, `+1 212 555 0123`).

`phonenumbers.parse` accepts anything from `tel:` URIs to vanity numbers, which costs about 12 µs
a number (12 s of a million-row import). A number written `+`, country code and digits in groups
needs only two of its steps: take the country code (the shortest prefix of one to three digits
that is a calling code) and strip a national prefix where the country's
`national_prefix_for_parsing` matches. `read_number` does the first and, whenever the second (or
anything else `parse` does: a leading zero kept for Italy, a length out of bounds) could apply,
hands the text to `phonenumbers.parse` itself. So the number is always the one `parse` gives
(tests/engine/test_contact_phones.py compares the two over every country's example numbers), and
whether it is valid is still the library's answer: the caller types it with
`phonenumbers.number_type`.
"""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber

# `+`, then digits in groups separated by one space or hyphen: nothing `parse` would read otherwise
# (no extension, letters, brackets or second number).
_INTERNATIONAL = re.compile(r"\+[0-9]+(?:[ -][0-9]+)*")
_NSN_LENGTHS = range(2, 18)      # libphonenumber's bounds for a national significant number

# Keep the metadata's compiled patterns instead of looking each up in `re`'s cache on every match
# (a tenth of the cost of typing a number); the option appeared in phonenumbers 9.
getattr(phonenumbers, "enable_pattern_cache", lambda: None)()


def read_number(text: str, region: str | None) -> PhoneNumber:
    """`phonenumbers.parse(text, region)`: `text` in international form is read with `region` ignored,
    as `parse` does. Raises `phonenumbers.NumberParseException` as `parse` does."""
    if len(text) <= 40 and text[1:2] != "0" and _INTERNATIONAL.fullmatch(text):
        digits = text[1:].replace(" ", "").replace("-", "")
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                national = digits[size:]
                if len(national) in _NSN_LENGTHS and national[0] != "0" and not _may_strip_prefix(code, national):
                    return PhoneNumber(country_code=code, national_number=int(national))
                break
    return phonenumbers.parse(text, region)


def _may_strip_prefix(code: int, national: str) -> bool:
    """True when `parse` could take the start of `national` for a national prefix (or carrier code)
    and strip it: when the country's `national_prefix_for_parsing` matches there at all (an empty
    match too), or the country has no metadata (left to `parse` entirely)."""
    pattern = _prefix_for_parsing(code)
    return pattern is not None and pattern.match(national) is not None


_ALWAYS = re.compile("")


@lru_cache(maxsize=None)     # one per calling code: about 250
def _prefix_for_parsing(code: int) -> re.Pattern[str] | None:
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code))
    if metadata is None:
        return _ALWAYS
    prefix = metadata.national_prefix_for_parsing
    return re.compile(prefix) if prefix else None
