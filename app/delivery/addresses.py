"""Checking what a user types as an address: email addresses, sender identities, phone numbers, hosts
and URLs. Each check returns the value as it will be stored, or raises ValueError with one sentence
saying what is wrong and what to write instead (the CLI and the settings page show it as given).

Email addresses are checked by `email-validator` (RFC 5321/5322 syntax, internationalised domains) without
asking DNS: a desktop may be offline, and the provider says "sender not verified" better than a lookup.
Phone numbers are checked by `phonenumbers` (Google's libphonenumber metadata) and stored in E.164
(ITU-T E.164: "+" then country code and number, at most 15 digits), the form Twilio and Meta take.
"""
from __future__ import annotations

import ipaddress
import re
from email.headerregistry import Address
from email.utils import parseaddr
from urllib.parse import urlsplit

# RFC 1123 host names: labels of letters, digits and inner hyphens, at most 63 characters each.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def email_address(text: str) -> str:
    """`text` as a checked email address ("hello@shop.example"), its domain normalised.

    Raises ValueError naming what is wrong (no @, a domain without a dot, spaces…)."""
    from email_validator import EmailNotValidError, validate_email

    value = text.strip()
    if not value:
        raise ValueError("an email address is needed, such as hello@shop.example")
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not an email address ({exc}); write one such as hello@shop.example") from None


def sender_identity(text: str) -> str:
    """A From identity: an address alone or with a display name ("Corner Shop <hello@shop.example>");
    returned as the standard library writes it (RFC 5322 `name-addr`). Raises ValueError."""
    value = text.strip()
    if not value:
        raise ValueError("a sender is needed, such as Corner Shop <hello@shop.example>")
    if any(c in value for c in "\r\n"):
        raise ValueError("a sender is one line: no line breaks")
    name, address = parseaddr(value)
    # parseaddr quietly takes the first of several addresses: one sender only (CVE-2023-27043).
    if not address or ("<" in value) != (">" in value) or value.count("@") != 1 or "," in value.replace(name, "", 1):
        raise ValueError(f"{value!r} is not a sender; write Corner Shop <hello@shop.example> or hello@shop.example")
    checked = email_address(address)
    return str(Address(display_name=name, addr_spec=checked)) if name else checked


def phone_number(text: str) -> str:
    """`text` as an E.164 phone number ("+4915123456789"); spaces, dashes and brackets are allowed in
    what is typed. Raises ValueError unless it starts with + and the country code and is a number that
    country uses."""
    import phonenumbers

    value = text.strip()
    if value.lower().startswith("whatsapp:"):      # Twilio's WhatsApp address form names the same number
        value = value[len("whatsapp:"):].strip()
    if not value.startswith("+"):
        raise ValueError(f"{text.strip()!r} is not a phone number in international form: start with + and the "
                         "country code, e.g. +4915123456789 or +15005550006")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number ({exc}); write it as +4915123456789") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number for its country code; check the digits "
                         "(international form: +4915123456789)")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def host_name(text: str) -> str:
    """A server's host name or IP address ("smtp.gmail.com", "127.0.0.1"), without a scheme or port.
    Raises ValueError."""
    value = text.strip().rstrip(".").lower()
    if not value:
        raise ValueError("a host name is needed, such as smtp.gmail.com")
    if "://" in value or "/" in value:
        raise ValueError(f"{text.strip()!r} is a URL: give the host name alone, such as smtp.gmail.com")
    if value.count(":") == 1:
        raise ValueError(f"{text.strip()!r} has a port: give the host name alone and the port as `port`")
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    labels = value.split(".")
    if len(value) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{text.strip()!r} is not a host name; write one such as smtp.gmail.com")
    return value


def loopback(host: str) -> bool:
    """Whether `host` is this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def web_url(text: str, *, https: bool = True) -> str:
    """An http(s) URL without a trailing slash ("https://shop.example/journeys"). With `https`, plain
    http is accepted only for this machine (tests and local receivers). Raises ValueError."""
    value = text.strip().rstrip("/")
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port           # raises ValueError for a port that is no number
    except ValueError:
        raise ValueError(f"{value!r} is not a URL; write one such as https://shop.example") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{value!r} is not a web address; write one such as https://shop.example")
    if https and parts.scheme != "https" and not loopback(host):
        raise ValueError(f"{value!r} must use https:// (recipients' mail programs and providers call it over "
                         "the internet)")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} must not have a ?query or #fragment")
    if re.search(r'[\s<>"`{}|\\^\x00-\x1f\x7f]', value):
        # Not in a URI (RFC 3986); in an email's List-Unsubscribe (<…>, <…>) they would break the header.
        raise ValueError(f"{value!r} contains a space or a character a web address cannot hold (< > \" {{ }} | \\ ^ `); "
                         "write it percent-encoded, e.g. %20 for a space")
    return value
