"""The exports shops come with, recognised from their header row: each preset is a Mapping.

The column names are the ones the platforms write (resources/samples/README.md gives each
layout with its source): Shopify's customer export (Customers → Export), Mailchimp's audience
export (a zip of subscribed / unsubscribed / cleaned CSVs, the status in each file's name),
Klaviyo's profile export (a list or segment exported to CSV), WooCommerce's Analytics →
Customers download, and this app's own format. Anything else goes through a mapping the user
writes (contact_mapping) — `guess` proposes one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .contact_mapping import Mapping, Target, target
from .contact_values import SUBSCRIBED, UNSUBSCRIBED


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def _columns(header: list[str], specs: dict[str, str]) -> dict[str, Target]:
    """Each header column whose normalised name is in `specs` with its target (the rest: attributes)."""
    wanted = {_norm(k): v for k, v in specs.items()}
    return {h: target(wanted[_norm(h)], f"preset column {h!r}") for h in header if _norm(h) in wanted}


# Shopify: Customers → Export (the 2023+ layout, and the older one with "Accepts Marketing" and
# address columns without "Default Address"). Ids and phones carry a leading apostrophe; tags are
# "a, b"; "Accepts Email Marketing"/"Accepts SMS Marketing" are yes/no.
SHOPIFY = {
    "Customer ID": "id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
    "Accepts Email Marketing": "consent:email", "Accepts Marketing": "consent:email",
    "Accepts SMS Marketing": "consent:sms", "Phone": "phone",
    "Default Address Company": "attribute:company", "Company": "attribute:company",
    "Default Address Address1": "attribute:address1", "Address1": "attribute:address1",
    "Default Address Address2": "attribute:address2", "Address2": "attribute:address2",
    "Default Address City": "attribute:city", "City": "attribute:city",
    "Default Address Province Code": "province", "Province Code": "province", "Province": "ignore",
    "Default Address Country Code": "country", "Country Code": "country", "Country": "ignore",
    "Default Address Zip": "attribute:zip", "Zip": "attribute:zip",
    "Default Address Phone": "attribute:address_phone",
    "Total Spent": "lifetime_spend", "Total Orders": "order_count", "Tags": "tags",
    "Note": "attribute:note", "Tax Exempt": "ignore",
}

# Mailchimp: Audience → Export Audience. The merge fields are the audience's own (First Name, Last
# Name, Address, Phone Number, Birthday by default); the rest are Mailchimp's system columns.
MAILCHIMP = {
    "Email Address": "email", "First Name": "first_name", "Last Name": "last_name", "Phone Number": "phone",
    "Address": "attribute:address", "Birthday": "date:MM/DD:birthday", "MEMBER_RATING": "attribute:member_rating",
    "OPTIN_TIME": "ignore", "OPTIN_IP": "ignore", "CONFIRM_TIME": "ignore", "CONFIRM_IP": "ignore",
    "LATITUDE": "ignore", "LONGITUDE": "ignore", "GMTOFF": "ignore", "DSTOFF": "ignore", "TIMEZONE": "timezone",
    "CC": "country", "REGION": "province", "LAST_CHANGED": "ignore", "LEID": "ignore", "EUID": "ignore",
    "NOTES": "attribute:notes", "TAGS": "tags", "UNSUB_TIME": "ignore", "UNSUB_CAMPAIGN_TITLE": "ignore",
    "UNSUB_CAMPAIGN_ID": "ignore", "UNSUB_REASON": "attribute:unsubscribe_reason", "UNSUB_REASON_OTHER": "ignore",
    "CLEAN_TIME": "ignore", "CLEAN_CAMPAIGN_TITLE": "ignore", "CLEAN_CAMPAIGN_ID": "ignore",
}

# Klaviyo: Lists & Segments → a list or segment → Export to CSV, with the profile properties chosen
# there (the consent columns hold SUBSCRIBED / UNSUBSCRIBED / NEVER_SUBSCRIBED).
KLAVIYO = {
    "Email": "email", "Phone Number": "phone", "First Name": "first_name", "Last Name": "last_name",
    "Klaviyo ID": "attribute:klaviyo_id", "Organization": "attribute:organization", "Title": "attribute:title",
    "Address": "attribute:address", "Address 2": "attribute:address2", "City": "attribute:city",
    "State / Region": "province", "Country": "country", "Zip Code": "attribute:zip", "Latitude": "ignore",
    "Longitude": "ignore", "Source": "attribute:source", "IP Address": "ignore", "Timezone": "timezone",
    "Email Marketing Consent": "consent:email", "Email Marketing Consent Timestamp": "ignore",
    "SMS Marketing Consent": "consent:sms", "SMS Consent": "consent:sms", "SMS Consent Timestamp": "ignore",
    "SMS Marketing Consent Timestamp": "ignore", "Profile Created On": "ignore", "Date Added": "ignore",
    "Historic Customer Lifetime Value": "lifetime_spend", "Historic Number Of Orders": "order_count",
    "Last Order Date": "last_order_at",
}

# WooCommerce: Analytics → Customers → Download (the report table's columns; newer versions add
# `Role`). A big report is e-mailed instead, written by the REST controller's export columns:
# `Last Active`, `Sign Up`, `Total Spend`, `Postal Code` (names compared without case).
WOOCOMMERCE = {
    "Name": "full_name", "Username": "attribute:username", "Role": "attribute:role",
    "Last active": "attribute:last_active", "Date registered": "attribute:date_registered",
    "Sign Up": "attribute:date_registered", "Email": "email", "Orders": "order_count",
    "Total spend": "lifetime_spend", "AOV": "ignore", "Country / Region": "country", "City": "attribute:city",
    "Region": "province", "Postal code": "attribute:postcode",
}

# This app's own format: the standard names however written (`First Name`, ` ID `).
OURS = {"id": "id", "email": "email", "phone": "phone", "first_name": "first_name", "last_name": "last_name",
        "timezone": "timezone", "tags": "tags", "unsubscribed": "unsubscribed", "subscribed": "subscribed",
        "lifetime_spend": "lifetime_spend", "order_count": "order_count", "last_order_at": "last_order_at",
        "country": "country"}


@dataclass(frozen=True)
class Preset:
    name: str                    # as given to --preset
    title: str                   # as the dialog and the report name it
    specs: dict[str, str]
    tags: str
    matches: Callable[[set[str]], bool]

    def mapping(self, header: list[str], file_name: str | None = None) -> Mapping:
        """This preset's mapping for `header` (columns it does not know: custom attributes)."""
        columns = _columns(header, self.specs)
        if self.name == "ours":
            # Ours: the standard names matched however written (`First Name`, `ID`); the first wins.
            seen: set[str] = set()
            columns = {}
            for h in header:
                key = "_".join(h.strip().lower().replace("-", " ").split())
                if key in self.specs and key not in seen:
                    columns[h] = target(self.specs[key])
                    seen.add(key)
        found = Mapping(columns, self.tags, preset=self.name)
        if self.name == "mailchimp":
            found = found.with_file_consent(mailchimp_status(file_name, {_norm(h) for h in header}))
        return found


def mailchimp_status(file_name: str | None, names: set[str]) -> dict[str, str]:
    """The email consent of every row of a Mailchimp export, from its file name
    (`subscribed_members_export_…`, `unsubscribed_…`, `cleaned_…`: a cleaned address bounced, so it
    is not mailed) or, failing that, from the columns only its unsubscribed or cleaned file has.
    Empty (no change) when neither tells, and for non-subscribed members (never opted in)."""
    name = (file_name or "").lower()
    base = re.sub(r".*[/\\]", "", name)
    if base.startswith(("unsubscribed", "cleaned")) or "clean time" in names or "unsub time" in names:
        return {"email": UNSUBSCRIBED}
    if base.startswith("subscribed"):
        return {"email": SUBSCRIBED}
    return {}


def _has(*names: str) -> Callable[[set[str]], bool]:
    wanted = {_norm(n) for n in names}
    return lambda header: wanted <= header


def _shopify(header: set[str]) -> bool:
    return {"total spent", "total orders"} <= header and bool({"accepts email marketing", "accepts marketing"} & header)


PRESETS = (
    Preset("shopify", "Shopify customers export", SHOPIFY, "comma", _shopify),
    Preset("mailchimp", "Mailchimp audience export", MAILCHIMP, "quoted",
           lambda h: "email address" in h and bool({"leid", "euid", "member rating"} & h)),
    Preset("klaviyo", "Klaviyo profiles export", KLAVIYO, "comma",
           lambda h: ("email" in h or "phone number" in h) and bool({"email marketing consent", "klaviyo id"} & h)),
    Preset("woocommerce", "WooCommerce customers (Analytics)", WOOCOMMERCE, "comma",
           _has("Name", "Email", "Orders", "Total spend")),
    Preset("ours", "Journey Studio contacts", OURS, "semicolon",
           lambda h: bool({"id", "email", "phone"} & {n.replace(" ", "_") for n in h})),
)
BY_NAME = {p.name: p for p in PRESETS}


def detect(header: list[str]) -> Preset | None:
    """The preset whose export has this header row, or None (a mapping is needed)."""
    names = {_norm(h) for h in header}
    return next((p for p in PRESETS if p.matches(names)), None)


# Words people use for the fields, for `guess` (lower case, spaces for _ and -).
_SYNONYMS = {
    "id": ("id", "customer id", "customer number", "kundennummer", "contact id", "user id", "external id"),
    "email": ("email", "e mail", "email address", "e mail address", "mail", "courriel", "e mail adresse"),
    "phone": ("phone", "phone number", "mobile", "mobile phone", "cell", "telephone", "telefon", "handy", "sms"),
    "first_name": ("first name", "firstname", "given name", "vorname", "prénom", "prenom", "fname"),
    "last_name": ("last name", "lastname", "surname", "family name", "nachname", "nom", "lname"),
    "full_name": ("name", "full name", "customer name", "contact name"),
    "timezone": ("timezone", "time zone", "tz"),
    "country": ("country", "country code", "land", "pays"),
    "province": ("province", "state", "region", "province code", "state code"),
    "tags": ("tags", "tag", "labels", "segments"),
    "lifetime_spend": ("total spent", "total spend", "lifetime value", "ltv", "clv", "revenue", "lifetime spend"),
    "order_count": ("orders", "total orders", "order count", "number of orders", "orders count"),
    "last_order_at": ("last order date", "last order", "last order at", "last purchase"),
}


def guess(header: list[str]) -> Mapping:
    """A proposed mapping for an unknown layout, from the usual names of each field (the user checks
    it: nothing about consent is guessed; unknown columns become custom attributes)."""
    columns: dict[str, Target] = {}
    taken: set[str] = set()
    for h in header:
        name = " ".join(h.lower().replace("_", " ").replace("-", " ").split())
        for field_name, words in _SYNONYMS.items():
            if name in words and field_name not in taken:
                columns[h] = Target(field_name)
                taken.add(field_name)
                break
    return Mapping(columns, "comma")
