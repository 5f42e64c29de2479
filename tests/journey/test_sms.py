"""The SMS counter: GSM-7 (extension characters count two) or UCS-2 (UTF-16 code units, an emoji two),
one segment up to 160 / 70 units, then segments of 153 / 67, a warning past three."""
from __future__ import annotations

import pytest

from app.journey.sms import GSM7, UCS2, count_sms, is_gsm7


@pytest.mark.parametrize("text,units,segments", [
    ("", 0, 0),
    ("Hi Ann, your cart is waiting: https://shop.example/c/1", 54, 1),
    ("a" * 160, 160, 1), ("a" * 161, 161, 2),                 # the example: 160 vs 161
    ("a" * 306, 306, 2), ("a" * 307, 307, 3),                 # 2 × 153, then a third
    ("a" * 459, 459, 3), ("a" * 460, 460, 4),
    ("€" * 80, 160, 1), ("€" * 81, 162, 2),                   # extension characters: two septets each
    ("{}[]~|^\\€\f", 20, 1),
    ("a" * 152 + "€" + "a" * 10, 164, 2),
    ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", 42, 1),   # the default alphabet's non-ASCII letters
])
def test_gsm7_length_and_segments(text, units, segments):
    found = count_sms(text)
    assert (found.encoding, found.units, found.segments) == (GSM7, units, segments)


def test_an_extension_character_is_never_split_between_segments():
    # 152 septets, then "€" (2): it does not fit in the first segment's 153, so it starts the second.
    text = "a" * 152 + "€" + "a" * 152 + "€"
    assert count_sms(text).units == 308 and count_sms(text).segments == 3
    assert count_sms("a" * 151 + "€" + "a" * 153).segments == 2


@pytest.mark.parametrize("text,units,segments", [
    ("Hi Ann 👋", 9, 1),                                          # the example: emoji text goes as UCS-2
    ("😀" * 35, 70, 1), ("😀" * 35 + "a", 71, 2),                 # an emoji is two UTF-16 units
    ("ж" * 70, 70, 1), ("ж" * 71, 71, 2),                          # 70 vs 71
    ("ж" * 134, 134, 2), ("ж" * 135, 135, 3),                      # 2 × 67, then a third
    ("ç" + "a" * 69, 70, 1),                                       # lower-case ç is not GSM-7 (only Ç is)
    ("“quoted”", 8, 1), ("Ünïcode", 7, 1),
])
def test_ucs2_length_and_segments(text, units, segments):
    found = count_sms(text)
    assert (found.encoding, found.units, found.segments) == (UCS2, units, segments)


def test_a_surrogate_pair_is_never_split_between_segments():
    # 66 units then an emoji (2): it starts the second segment rather than straddling it.
    assert count_sms("a" * 66 + "😀" + "a" * 66 + "😀").segments == 3
    assert count_sms("a" * 65 + "😀" + "a" * 67).segments == 2


def test_characters_are_what_a_person_counts():
    found = count_sms("Hi 👋")
    assert (found.characters, found.units) == (4, 5) and found.unicode_chars == ("👋",)


def test_a_warning_past_three_segments_names_what_forces_ucs2():
    assert count_sms("a" * 459).warning is None
    assert "4 segments" in (count_sms("a" * 460).warning or "")
    warning = count_sms("Cart 🛒 " + "a" * 200).warning or ""
    assert "4 segments" in warning and "“🛒”" in warning and "GSM-7" in warning


def test_is_gsm7():
    assert is_gsm7("Hello {name} €5") and not is_gsm7("Hello ç") and not is_gsm7("👍")


@pytest.mark.parametrize(("text", "named"), [
    ("It’s here", "“’” (right single quotation mark)"),          # a word processor's apostrophe
    ("Total:\xa049 EUR", "no-break space (U+00A0)"),               # invisible: named, not shown
    ("Hi\u200bAnn", "zero width space (U+200B)"),
    ("Ciao ç", "“ç” (latin small letter c with cedilla)"),          # Ç is GSM-7, ç is not
])
def test_what_forces_ucs2_is_named_even_in_one_segment(text, named):
    found = count_sms(text)
    assert found.segments == 1 and found.warning is None
    assert named in (found.ucs2_reason or "") and "GSM-7" in found.ucs2_reason
    assert count_sms("It's here").ucs2_reason is None


def test_the_warning_names_at_most_five_characters_then_how_many_more():
    warning = count_sms("αβγδεζηθ " * 40).warning or ""
    assert "“α” (greek small letter alpha)" in warning and "and 3 more" in warning
