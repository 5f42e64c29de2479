"""How an SMS text is counted: its encoding, length and number of segments.

The rules (3GPP TS 23.038 §6.2.1 for the GSM 7-bit default alphabet and its extension table; 3GPP TS
23.040 §9.2.3.24.1 for concatenated messages, whose User Data Header takes 6 of a segment's 140 octets;
Twilio, "What the Heck is a Segment?" and "Encoding and segments" in its Messaging docs):

- A text whose every character is in the GSM-7 default alphabet or its extension table goes as GSM-7:
  each default character is one septet, each extension character (``^ { } \\ [ ] ~ | €`` and form feed)
  two (an escape, then the character). One segment holds 160 septets; a longer text is split into
  segments of 153, and an extension character's two septets are never split between segments.
- Any other character (an emoji, "ç", curly quotes, a Cyrillic letter…) makes the whole text UCS-2:
  each UTF-16 code unit counts one, so an emoji outside the Basic Multilingual Plane counts two. One
  segment holds 70 units; a longer text is split into segments of 67, a surrogate pair never split.
- Past 3 segments most carriers deliver badly and each segment is billed: the counter warns.

Hand-written (the tables are short); the `gsm0338` codec on PyPI has the alphabet but not the segment
rules, which are the part that matters here.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"
WARN_SEGMENTS = 3                   # more than this many segments: warn

# 3GPP TS 23.038 §6.2.1, the default alphabet (0x1B, the escape to the extension table, is left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
# §6.2.1.1, the extension table: each costs two septets (escape + character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_SINGLE = {GSM7: 160, UCS2: 70}       # units in a text that goes as one segment
_PART = {GSM7: 153, UCS2: 67}         # units per segment of a concatenated text (6 octets of header)


@dataclass(frozen=True)
class SmsCount:
    """What a text costs: `encoding` (GSM-7 or UCS-2), `characters` as a person counts them (code
    points), `units` as the network counts them (septets for GSM-7, UTF-16 code units for UCS-2),
    `segments` (0 for an empty text), the units a segment holds (`per_segment`), and the characters that
    forced UCS-2 (`unicode_chars`, in order of appearance, each once)."""

    encoding: str
    characters: int
    units: int
    segments: int
    per_segment: int
    unicode_chars: tuple[str, ...] = ()

    @property
    def unicode_words(self) -> str:
        """The characters that force UCS-2, each with its Unicode name, so an invisible or look-alike one
        (a no-break space, a curly apostrophe pasted from a word processor) can be found: "“’” (right
        single quotation mark), no-break space (U+00A0)"; at most five, then how many more. "" for GSM-7."""
        shown = [character_words(c) for c in self.unicode_chars[:5]]
        more = len(self.unicode_chars) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")

    @property
    def ucs2_reason(self) -> str | None:
        """Why the text goes as UCS-2 (70 units a segment, not 160), naming the characters; None for GSM-7."""
        if self.encoding != UCS2 or not self.unicode_chars:
            return None
        return f"UCS-2 because of {self.unicode_words}: without them it would go as GSM-7 (160 a segment)."

    @property
    def warning(self) -> str | None:
        """A sentence when the text takes more than WARN_SEGMENTS segments, else None."""
        if self.segments <= WARN_SEGMENTS:
            return None
        return (f"This text takes {self.segments} segments: each is billed, and some carriers deliver long "
                f"texts badly. Keep it to {WARN_SEGMENTS} segments or fewer"
                + (f" (without {self.unicode_words} it would go as GSM-7)"
                   if self.encoding == UCS2 and self.unicode_chars else "") + ".")

    @property
    def summary(self) -> str:
        """"42/160 characters · GSM-7 · 1 segment"."""
        limit = self.per_segment * max(self.segments, 1) if self.segments > 1 else _SINGLE[self.encoding]
        return (f"{self.units}/{limit} {'characters' if self.encoding == GSM7 else 'units'} · {self.encoding} · "
                f"{self.segments} segment{'' if self.segments == 1 else 's'}")


def character_words(char: str) -> str:
    """One character for people: "“ç” (latin small letter c with cedilla)", or for an invisible one
    (spaces, joiners, marks: Unicode categories Z and C) only its name and code point,
    "no-break space (U+00A0)"."""
    name = unicodedata.name(char, "").lower()
    if unicodedata.category(char)[0] in "ZC":
        return f"{name or 'character'} (U+{ord(char):04X})"
    return f"“{char}” ({name})" if name else f"“{char}” (U+{ord(char):04X})"


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in the GSM-7 default alphabet or its extension table."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _units(text: str, encoding: str) -> list[int]:
    """The units each character takes: 1 or 2 (a GSM-7 extension character, a UTF-16 surrogate pair)."""
    if encoding == GSM7:
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _segments(units: list[int], encoding: str) -> int:
    total = sum(units)
    if total == 0:
        return 0
    if total <= _SINGLE[encoding]:
        return 1
    part, count, used = _PART[encoding], 1, 0
    for size in units:          # a two-unit character that does not fit starts the next segment
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def count_sms(text: str) -> SmsCount:
    """The encoding, length and segments of `text` as an SMS (see the module's docstring for the rules).

    Examples: "Hi Ann" -> GSM-7, 6 units, 1 segment; 160 × "a" -> 1 segment, 161 × "a" -> 2; "€" -> 2 units;
    "Hi 👋" -> UCS-2, 5 units (the emoji is a surrogate pair); 70 × "ж" -> 1 segment, 71 -> 2. Never raises.
    """
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = _units(text, encoding)
    unicode_chars = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION))
    segments = _segments(units, encoding)
    per = _SINGLE[encoding] if segments <= 1 else _PART[encoding]
    return SmsCount(encoding, len(text), sum(units), segments, per, unicode_chars)
