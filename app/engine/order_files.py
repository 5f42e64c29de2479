"""Reading shop order exports: Shopify's and WooCommerce's, one order per group of rows.

**Shopify** (Admin → Orders → Export, "CSV for Excel, Numbers, or other spreadsheet programs"): one
row per line item; the rows of an order share its `Name` (#1001) and follow each other, and only the
first carries the order's own columns (`Financial Status`, `Total`, `Created at`, `Cancelled at`,
`Refunded Amount`, …). Times are written `2026-03-01 10:15:00 -0500`.
**WooCommerce**: the order exports of WooCommerce.com's export extensions — WebToffee's "Order /
Coupon / Subscription Export Import" (`order_id`, `order_number`, `order_date`, `status`, `order_total`,
`order_currency`, `billing_email`, `line_item_1` … as `name:Hoodie|product_id:40|sku:H1|quantity:1|
total:45.00`) and SkyVerge's "Customer / Order / Coupon Export" (`line_items` with items separated by
`;`, or one row per item with `item_name`, `item_quantity`, `item_total`), and AlgolPlus's "Advanced
Order Export For WooCommerce" (`Order Number`, `Order Status`, `Order Date`, `Email (Billing)`,
`Order Total Amount`, one row per item: `Item Name`, `Quantity (- Refund)`, `Item Cost`). Times
without an offset are the shop's local time: read in the business's time zone. A WooCommerce order
is keyed by its order number (`order_number`/`Order Number`, else `order_id`), as its webhooks and
the REST API's `number` are, so file, webhook and poll agree (see `_WOO_KEYS`).

Cancelled orders and fully refunded ones are skipped (said by line); a partly refunded order counts
what was kept (total − refunded). Orders never paid (Shopify's `pending`; WooCommerce's `pending`,
`failed`, `checkout-draft`) are skipped too: a later export brings them once paid. A row that cannot
be read inside an order's rows keeps the whole order out (said by line), so that the corrected file
imports it whole. Money is read as a number however written (`$1,234.50`,
`1.234,50 €`). The layouts, with their sources, are in resources/samples/README.md ("Orders and events").
"""
from __future__ import annotations

import csv
import itertools
import re
from functools import partial
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from app.journey.schema import MAX_AMOUNT

from .identities import unquote
from .import_rows import Problem
from .importers import BOM, _delimiter

SHOPIFY, WOOCOMMERCE = "shopify", "woocommerce"


@dataclass
class OrderIn:
    """One order read from an export: who (email, phone and the billing country to read a national
    phone with, names), when, how much (kept after refunds), in which currency, and its items."""
    line: int
    order_id: str
    placed_at: datetime
    total: float
    currency: str | None
    items: list[dict[str, Any]] = field(default_factory=list)
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    refunded: float = 0.0
    source: str = SHOPIFY


@dataclass
class Skipped:
    """An order left out on purpose (cancelled, refunded, never paid): said, not an error."""
    line: int
    order_id: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: order {self.order_id} {self.reason}; skipped"


_MONEY_JUNK = re.compile(r"[^\d,.\-]")


def money(text: str, currency: str | None = None) -> float | None:
    """A money cell as a number: currency symbols, codes and spaces ignored; "1,234.50", "1.234,50",
    "1 234,50" and "12,5" read as written (the last separator followed by 1–2 digits is the decimal
    mark; 1–3 for a `currency` with three decimals, such as KWD, BHD, OMR, JOD and TND: "12.345"
    Kuwaiti dinars are 12.345, not 12,345 — ISO 4217 minor units, from CLDR through Babel). None for
    an empty cell; raises ValueError for one that is not an amount."""
    raw = unquote(text)
    if not raw:
        return None
    cleaned = _MONEY_JUNK.sub("", raw.replace("\u2212", "-"))
    if not re.search(r"\d", cleaned):
        raise ValueError(f"{raw!r} is not an amount")
    last = max(cleaned.rfind(","), cleaned.rfind("."))
    if last >= 0 and 1 <= len(cleaned) - last - 1 <= max(2, _minor_units(currency)):
        whole, decimals = cleaned[:last], cleaned[last + 1:]
    else:
        whole, decimals = cleaned, ""
    whole = whole.replace(",", "").replace(".", "")
    try:
        value = float(f"{whole or '0'}.{decimals or '0'}")
    except ValueError:
        raise ValueError(f"{raw!r} is not an amount") from None
    if value < 0 or value > MAX_AMOUNT:
        raise ValueError(f"{raw!r} is not an amount from 0 to {MAX_AMOUNT:,.2f}")
    return value


def _minor_units(currency: str | None) -> int:
    """How many decimals `currency` (an ISO 4217 code) is written with; 2 when unknown."""
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        return 2
    from babel.numbers import get_currency_precision

    return get_currency_precision(code)


# Shopify's and WooCommerce's own, then as a spreadsheet re-saves them in the user's locale: US
# `9/3/2026 10:14`, European `03.09.2026 10:14` (the dot is day first everywhere it is used), and
# day-first `13/09/2026` when the month-first reading is impossible.
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                 "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%d.%m.%Y %H:%M:%S",
                 "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")


def order_time(text: str, zone: ZoneInfo) -> datetime:
    """An export's time: ISO-8601, Shopify's `2026-03-01 10:15:00 -0500`, WooCommerce's
    `2026-03-01 10:15:00`, or a spreadsheet's re-save (`9/3/2026 10:14`, `03.09.2026 10:14`); one
    without an offset is the shop's local time (`zone`). Raises ValueError."""
    raw = text.strip()
    try:
        found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        for pattern in _TIME_FORMATS:
            try:
                found = datetime.strptime(raw, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{raw!r} is not a date and time such as 2026-03-01 10:15:00 -0500") from None
    return (found if found.tzinfo else found.replace(tzinfo=zone)).astimezone(timezone.utc)


def kind_of(header: list[str]) -> str | None:
    """Which export a header row is: SHOPIFY, WOOCOMMERCE, or None."""
    names = {h.strip().lower() for h in header}
    if {"name", "lineitem name"} <= names and ("total" in names or "financial status" in names):
        return SHOPIFY
    if ({"order_id", "order_number", "order number"} & names) and ({"order_total", "order total amount"} & names):
        return WOOCOMMERCE
    return None


# A WooCommerce order is keyed by its order NUMBER, as the REST API's and webhooks' `number`
# (WC_Order::get_order_number()): the post id unless a sequential-numbers plugin renames orders
# (then `order_id` 5012 is order "1045"). Every export names the number — WebToffee's and SkyVerge's
# `order_number` beside `order_id`, AlgolPlus's `Order Number` alone — so an imported export, a
# webhook and a poll of one order are one `order_placed`. The id is only the fallback of a file (or
# a row) with no number.
_WOO_KEYS = ("order_number", "order number", "order_id")


def _key_reader(kind: str, index: dict[str, int]) -> Callable[[list[str]], str]:
    """How to read a row's order key: Shopify's `Name`; WooCommerce's number, else its id (above)."""
    columns = [index["name"]] if kind == SHOPIFY else [index[n] for n in _WOO_KEYS if n in index]

    def key_of(values: list[str]) -> str:
        return next((found for found in (unquote(values[c]) for c in columns if c < len(values)) if found), "")
    return key_of


def order_records(lines: Iterable[str], zone: ZoneInfo = ZoneInfo("UTC")) -> Iterator[OrderIn | Skipped | Problem]:
    """Each order (and each skipped order and bad row, by the line where its rows start) of an order
    export, from its lines (each ending with "\n"), in file order. The header decides the layout;
    a header that is neither export's gives one Problem on line 1 and nothing else."""
    iterator = iter(lines)
    first = next(iterator, "").removeprefix(BOM)
    reader = csv.reader(itertools.chain([first] if first else [], iterator), delimiter=_delimiter(first))
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        yield Problem(1, "the file is empty or its first line cannot be read; it must name the columns")
        return
    kind = kind_of(header)
    if kind is None:
        yield Problem(1, "not a Shopify or WooCommerce order export: the first line names neither Shopify's "
                         "columns (Name, Lineitem name, Total…) nor a WooCommerce order export's (order_id and "
                         "order_total, or Order Number and Order Total Amount…)")
        return
    index = {h.lower(): i for i, h in reversed(list(enumerate(header)))}
    key_of = _key_reader(kind, index)
    group: list[tuple[int, list[str]]] = []
    seen: set[str] = set()
    # A row that cannot be read inside an order's rows (its Name is the order's, or the rows around it
    # are the order's) spoils the order: imported without that item it would be stored for good, and
    # the corrected file would find it "already present". So the whole order waits for the fix.
    spoiled: dict[str, int] = {}        # order key → the first bad row's line
    unread: int | None = None           # a bad row whose order cannot be told, since the last good row
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Problem(line, f"cannot be read as CSV ({exc})")
            unread = unread or line
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield Problem(line, f"has {len(values)} values but the header names {len(header)} columns")
            named = key_of(values)
            if named:
                spoiled.setdefault(named, line)
            else:
                unread = unread or line
            continue
        key = key_of(values)
        if not key:
            yield Problem(line, f"has no order {'Name' if kind == SHOPIFY else 'number or id'}")
            unread = unread or line
            continue
        current = key_of(group[0][1]) if group else None
        if unread is not None and current == key:
            spoiled.setdefault(key, unread)
        unread = None
        if group and current != key:
            yield from _finish(kind, key_of, group, index, zone, seen, spoiled)
            group = []
        group.append((line, values))
    if group:
        yield from _finish(kind, key_of, group, index, zone, seen, spoiled)


def _finish(kind: str, key_of: Callable[[list[str]], str], group: list[tuple[int, list[str]]],
            index: dict[str, int], zone: ZoneInfo, seen: set[str],
            spoiled: dict[str, int]) -> Iterator[OrderIn | Skipped | Problem]:
    line = group[0][0]
    key = key_of(group[0][1])
    if key in seen:
        yield Problem(line, f"order {key} appeared earlier in the file, apart from these rows; an order's rows "
                            "must follow each other (these were skipped)")
        return
    seen.add(key)
    if key in spoiled:
        yield Problem(line, f"order {key} was not imported: its row on line {spoiled[key]} cannot be read; "
                            "correct that row and import the file again (the order is then imported whole)")
        return
    try:
        yield (_shopify if kind == SHOPIFY else _woocommerce)(key, group, index, zone)
    except RowError as exc:         # an item's value: said at the line of its row, not the order's first
        yield Problem(exc.line, f"order {key}: {exc}; the order was not imported")
    except ValueError as exc:
        yield Problem(line, f"order {key}: {exc}")


class RowError(ValueError):
    """A bad value in one row of an order: `line` is that row's."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line


def _on_line(line: int, read: Callable[[list[str], dict[str, int]], list[dict[str, Any]]], values: list[str],
             index: dict[str, int]) -> list[dict[str, Any]]:
    """`read(values, index)`, its ValueError raised as the RowError of `line`."""
    try:
        return read(values, index)
    except ValueError as exc:
        raise RowError(line, str(exc)) from None


def _shopify_items(values: list[str], index: dict[str, int], currency: str | None = None) -> list[dict[str, Any]]:
    """A Shopify row's line item (none when the row names no item)."""
    name = values[index["lineitem name"]].strip()
    if not name:
        return []
    item: dict[str, Any] = {"name": name}
    if "lineitem sku" in index and unquote(values[index["lineitem sku"]]):
        item["sku"] = unquote(values[index["lineitem sku"]])
    if "lineitem quantity" in index and values[index["lineitem quantity"]].strip():
        item["quantity"] = _quantity(values[index["lineitem quantity"]])
    if "lineitem price" in index:
        price = money(values[index["lineitem price"]], currency)
        if price is not None:
            item["price"] = price
    return [item]


def _woo_items(values: list[str], index: dict[str, int], currency: str | None = None) -> list[dict[str, Any]]:
    """A WooCommerce row's items: those of its `line_item_N` / `line_items` cells, or the row's own
    (one row per item)."""
    items: list[dict[str, Any]] = []
    cells = [values[i] for i in sorted(i for h, i in index.items()
                                       if h == "line_items" or re.fullmatch(r"line_item_\d+", h))]
    for cell in cells:
        items += [i for i in (_woo_item(t, currency) for t in cell.split(";") if t.strip()) if i]
    name = _row(values, index, "item_name", "item name")
    if name:                                                          # one row per item
        item: dict[str, Any] = {"name": name}
        sku = _row(values, index, "item_sku", "sku")
        if sku:
            item["sku"] = sku
        quantity = _row(values, index, "item_quantity", "quantity", "quantity (- refund)")
        if quantity:
            item["quantity"] = _quantity(quantity)
        for ours, theirs in (("total", ("item_total",)), ("price", ("item cost", "item_price"))):
            amount = money(_row(values, index, *theirs), currency)
            if amount is not None:
                item[ours] = amount
        items.append(item)
    return items


def _cell(group: list[tuple[int, list[str]]], index: dict[str, int], *names: str) -> str:
    """The first non-empty value of any of the columns `names` over the order's rows."""
    for name in names:
        column = index.get(name)
        if column is None:
            continue
        for _, values in group:
            if values[column].strip():
                return values[column].strip()
    return ""


def _split_name(full: str) -> tuple[str | None, str | None]:
    first, _, last = full.strip().partition(" ")
    return first or None, last.strip() or None


def _shopify(key: str, group: list[tuple[int, list[str]]], index: dict[str, int],
             zone: ZoneInfo) -> OrderIn | Skipped:
    line = group[0][0]
    if _cell(group, index, "cancelled at"):
        return Skipped(line, key, "was cancelled")
    status = _cell(group, index, "financial status").lower()
    if status in ("refunded", "voided", "expired"):
        return Skipped(line, key, f"is {status}")
    if status == "pending":     # never paid (yet), as WooCommerce's `pending`: a later export brings it once paid
        return Skipped(line, key, "is pending payment (never paid)")
    currency = _cell(group, index, "currency") or None
    total = money(_cell(group, index, "total"), currency) or 0.0
    refunded = money(_cell(group, index, "refunded amount"), currency) or 0.0
    if refunded and refunded >= total:
        return Skipped(line, key, "was refunded in full")
    when = _cell(group, index, "created at", "paid at")
    if not when:
        raise ValueError("has no 'Created at' time")
    items = [item for row_line, values in group
             for item in _on_line(row_line, partial(_shopify_items, currency=currency), values, index)]
    first, last = _split_name(_cell(group, index, "billing name", "shipping name"))
    return OrderIn(line, key, order_time(when, zone), round(total - refunded, 2), _cell(group, index, "currency") or None,
                   items, _cell(group, index, "email") or None,
                   _cell(group, index, "phone", "billing phone", "shipping phone") or None,
                   _cell(group, index, "billing country", "shipping country") or None, first, last,
                   refunded, SHOPIFY)


def _quantity(text: str) -> int:
    try:
        return int(float(unquote(text)))
    except ValueError:
        raise ValueError(f"quantity {text.strip()!r} is not a number") from None


_WOO_UNPAID = {"cancelled": "was cancelled", "refunded": "was refunded in full", "failed": "failed (never paid)",
               "pending": "is pending payment (never paid)", "checkout-draft": "is a checkout draft (never paid)",
               "trash": "is in the trash"}


def _woo_item(text: str, currency: str | None = None) -> dict[str, Any] | None:
    """One `name:Hoodie|product_id:40|quantity:1|total:45.00` item, as our item fields."""
    parts = dict(p.split(":", 1) for p in text.split("|") if ":" in p)
    if not parts.get("name", "").strip():
        return None
    item: dict[str, Any] = {"name": parts["name"].strip()}
    for ours, theirs in (("product_id", "product_id"), ("sku", "sku")):
        if parts.get(theirs, "").strip():
            item[ours] = parts[theirs].strip()
    if parts.get("quantity", "").strip():
        item["quantity"] = _quantity(parts["quantity"])
    total = money(parts.get("total", ""), currency)
    if total is not None:
        item["total"] = total
    return item


def _woocommerce(key: str, group: list[tuple[int, list[str]]], index: dict[str, int],
                 zone: ZoneInfo) -> OrderIn | Skipped:
    line = group[0][0]
    status = _cell(group, index, "status", "order_status", "order status").lower().removeprefix("wc-")
    status = {"pending payment": "pending", "draft": "checkout-draft"}.get(status, status)
    if status in _WOO_UNPAID:
        return Skipped(line, key, _WOO_UNPAID[status])
    currency = _cell(group, index, "order_currency", "currency", "order currency") or None
    total = money(_cell(group, index, "order_total", "order total amount"), currency) or 0.0
    refunded = money(_cell(group, index, "refunded_total", "order_refunded", "order refund amount"), currency) or 0.0
    refunds = _cell(group, index, "refund_items", "refunds")
    if not refunded and refunds:     # WebToffee: "amount:10.00|reason:…|date:…" per refund, ";" between
        refunded = sum(money(dict(p.split(":", 1) for p in r.split("|") if ":" in p).get("amount", ""), currency) or 0.0
                       for r in refunds.split(";"))
    if refunded and refunded >= total:
        return Skipped(line, key, "was refunded in full")
    when = _cell(group, index, "order_date", "date", "order date", "paid_date")
    if not when:
        raise ValueError("has no order_date")
    items = [item for row_line, values in group
             for item in _on_line(row_line, partial(_woo_items, currency=currency), values, index)]
    return OrderIn(line, key, order_time(when, zone), round(total - refunded, 2),
                   _cell(group, index, "order_currency", "currency", "order currency") or None, items,
                   _cell(group, index, "billing_email", "customer_email", "email (billing)") or None,
                   _cell(group, index, "billing_phone", "phone (billing)", "shipping_phone") or None,
                   _cell(group, index, "billing_country", "country code (billing)", "shipping_country") or None,
                   _cell(group, index, "billing_first_name", "first name (billing)") or None,
                   _cell(group, index, "billing_last_name", "last name (billing)") or None,
                   refunded, WOOCOMMERCE)


def _row(values: list[str], index: dict[str, int], *names: str) -> str:
    """This row's value of the first of the columns `names` the file has."""
    column = next((index[n] for n in names if n in index), None)
    return unquote(values[column]) if column is not None else ""
