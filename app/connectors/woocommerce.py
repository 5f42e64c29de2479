"""WooCommerce: orders and customers polled from the REST API v3 (`/wp-json/wc/v3/`).

REST API keys (WooCommerce → Settings → Advanced → REST API, permission Read) are sent with HTTP
Basic auth, which WooCommerce accepts over HTTPS. (woocommerce.github.io/woocommerce-rest-api-docs:
Authentication; Pagination: `page`, `per_page` up to 100, headers X-WP-Total and X-WP-TotalPages.)

Orders: `GET orders?modified_after=…&dates_are_gmt=true&orderby=modified&order=asc&per_page=100`, the
time in UTC without a zone suffix (`gmt_filter`: WordPress would move a `Z` time to the site's zone).
Pages are read by time, not by number: each request starts at the newest `date_modified_gmt` of the
page before (less a second, for orders changed within the same second; read twice, they are keyed
and change nothing), so an order modified while a poll runs, which moves to the end of the list,
never pushes an unread one out of its page. The cursor is `{"after": time or null, "page": n}`; `page`
goes past 1 only while more than a page of orders share one second. Orders never paid or undone
(pending, failed, cancelled, refunded in full, checkout-draft, trash) are left out until their
status changes; a partly refunded order counts what was kept. `order_id` is the order's `number`
(its id unless a sequential-numbers plugin renames orders; the receiver's `order.created` webhook and
the order exports' `order_number` use the same, app/intake/woocommerce.py and app/engine/order_files.py,
so an export, a webhook and a poll of one order are one order), else its id (`woocommerce_order_id`).
Guest orders (customer_id 0) are matched by email.

Customers: WooCommerce's customers endpoint has no `modified_after` yet (woocommerce/woocommerce
issue 41371; it is sent anyway, for when it does), so customers are walked by id (a stable order)
every CUSTOMER_EVERY at most, and only those modified since the last walk are applied. WooCommerce
keeps no marketing consent of its own: customers bring names, email and phone only.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx

from app.delivery.httpapi import new_client, retry_after

from .addresses import redirected, woocommerce_address
from .errors import AuthFailed, ConnectorError, Throttled, Unreachable
from .records import Page, Person, Record, iso, money, obj, parse_time, text

RESOURCES = ("customers", "orders")
PER_PAGE = 100
ATTEMPTS = 6
MAX_WAIT = 60.0
TIE = timedelta(seconds=1)
CUSTOMER_EVERY = timedelta(minutes=15)
SKIPPED_STATUSES = frozenset({"pending", "failed", "cancelled", "refunded", "checkout-draft", "trash"})


def normalise_address(value: str) -> str:
    """The store's URL as stored ("https://shop.example"; app/connectors/addresses.py). Raises ValueError."""
    return woocommerce_address(value)


class WooSource:
    """Reads one store's pages (`page`) and tests the connection (`check`)."""

    kind = "woocommerce"
    resources: tuple[str, ...] = RESOURCES

    def __init__(self, address: str, key: str, secret: str, *, sleep: Callable[[float], None] = time.sleep,
                 client: httpx.Client | None = None) -> None:
        self.address = address
        self.sleep = sleep
        self.client = client or new_client(f"{address}/wp-json/wc/v3", timeout=30.0, auth=(key, secret))
        self.waited: list[float] = []
        # The keys as query parameters too, once a 401 suggested the host dropped the Authorization header.
        self._keys = {"consumer_key": key, "consumer_secret": secret}
        self.keys_in_query = False

    def close(self) -> None:
        self.client.close()

    def _wait(self, seconds: float) -> None:
        seconds = min(MAX_WAIT, max(0.0, seconds))
        self.waited.append(seconds)
        self.sleep(seconds)

    def get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        """One GET, waiting out 429 (Retry-After) and retrying 5xx and lost connections a few times.
        Raises AuthFailed, Unreachable, Throttled or ConnectorError."""
        failures = 0
        for attempt in range(ATTEMPTS):
            try:
                response = self.client.get(path, params={**params, **self._keys} if self.keys_in_query else params)
            except httpx.HTTPError as exc:
                failures += 1
                if failures >= 3:
                    raise Unreachable(f"{self.address} did not answer ({type(exc).__name__}: {exc}); check the "
                                      "store's address and this computer's connection") from None
                self._wait(2.0 ** failures)
                continue
            if 300 <= response.status_code < 400:
                raise ConnectorError(redirected(self.address, response.status_code, _location(response), "woocommerce"))
            if response.status_code == 401 and not self.keys_in_query:
                # Hosts running PHP as CGI/FastCGI often drop the Authorization header, and WooCommerce
                # answers 401 as for wrong keys; over HTTPS its documentation's remedy is the keys as
                # query parameters (woocommerce-rest-api-docs, Authentication over HTTPS). Once.
                self.keys_in_query = True
                continue
            if response.status_code in (401, 403):
                raise AuthFailed(f"{self.address} refused the REST API keys (HTTP {response.status_code}"
                                 f"{_code(response)}): create a key with Read permission under WooCommerce → "
                                 "Settings → Advanced → REST API and enter its consumer key and secret")
            if response.status_code == 404:
                raise ConnectorError(f"{self.address} has no WooCommerce REST API at /wp-json/wc/v3/{path} "
                                     "(HTTP 404): is WooCommerce active and are permalinks other than “Plain”?")
            if response.status_code == 429:
                self._wait(retry_after(response) or min(MAX_WAIT, 2.0 ** (attempt + 1)))
                continue
            if response.status_code >= 500:
                failures += 1
                if failures >= 3:
                    raise Unreachable(f"{self.address} answered HTTP {response.status_code} {failures} times in a "
                                      "row; the next poll tries again")
                self._wait(2.0 ** failures)
                continue
            if response.status_code >= 400:
                raise ConnectorError(f"{self.address} refused the request (HTTP {response.status_code}"
                                     f"{_code(response)})")
            return response
        raise Throttled(f"{self.address} still answered 429 (too many requests) after {ATTEMPTS} waits; "
                        "the next poll goes on from where this one stopped")

    def _list(self, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        response = self.get(path, params)
        try:
            body = response.json()
        except ValueError:
            if "html" in response.headers.get("Content-Type", "").lower():
                # WordPress with "Plain" permalinks answers /wp-json/… with its home page (HTTP 200).
                raise ConnectorError(f"{self.address} answered with a web page instead of WooCommerce's REST API: "
                                     "in WordPress → Settings → Permalinks choose any setting but “Plain”, and "
                                     "check that WooCommerce is active") from None
            raise ConnectorError(f"{self.address} answered without JSON for {path}; is it a WooCommerce store?") \
                from None
        if not isinstance(body, list):
            raise ConnectorError(f"{self.address} answered {path} with something other than a list")
        try:
            pages = int(response.headers.get("X-WP-TotalPages", "0"))
        except ValueError:
            pages = 0
        return [b for b in body if isinstance(b, dict)], pages

    def check(self) -> str:
        """Reads one order and one customer; returns "Connected to <url>: N orders, M customers"."""
        counts = []
        for path in ("orders", "customers"):
            response = self.get(path, {"per_page": 1})
            self._list(path, {"per_page": 1})        # really the REST API: a JSON list, not a web page
            counts.append(response.headers.get("X-WP-Total", "?"))
        return f"Connected to {self.address}: {counts[0]} orders, {counts[1]} customers"

    def page(self, resource: str, cursor: dict[str, Any], now: datetime) -> Page:
        return self._orders(cursor) if resource == "orders" else self._customers(cursor, now)

    def _orders(self, cursor: dict[str, Any]) -> Page:
        after = parse_time(cursor.get("after"))
        page = int(cursor.get("page") or 1)
        params: dict[str, Any] = {"per_page": PER_PAGE, "page": page, "orderby": "modified", "order": "asc",
                                  "dates_are_gmt": "true"}
        if after is not None:
            params["modified_after"] = gmt_filter(after - TIE)
        nodes, pages = self._list("orders", params)
        records, skipped, high = [], 0, after
        for node in nodes:
            modified = parse_time(node.get("date_modified_gmt"))
            if modified is not None and (high is None or modified > high):
                high = modified
            item = order_record(node)
            if item is None:
                skipped += 1
            else:
                records.append(item)
        last = len(nodes) < PER_PAGE or (pages and page >= pages)
        if last:
            return Page(records, {"after": iso(high) if high else None, "page": 1}, True, skipped)
        if high is not None and (after is None or high > after):
            return Page(records, {"after": iso(high), "page": 1}, False, skipped)
        return Page(records, {"after": cursor.get("after"), "page": page + 1}, False, skipped)   # one busy second

    def _customers(self, cursor: dict[str, Any], now: datetime) -> Page:
        page = int(cursor.get("page") or 1)
        walked = parse_time(cursor.get("walked_at"))
        if page == 1 and walked is not None and now - walked < CUSTOMER_EVERY:
            return Page([], dict(cursor), True)             # walked a moment ago: not yet again
        since = parse_time(cursor.get("since"))
        params: dict[str, Any] = {"per_page": PER_PAGE, "page": page, "orderby": "id", "order": "asc"}
        if since is not None:
            params["modified_after"] = gmt_filter(since - TIE)
        nodes, pages = self._list("customers", params)
        high = parse_time(cursor.get("high")) or since
        records = []
        for node in nodes:
            modified = parse_time(node.get("date_modified_gmt")) or parse_time(node.get("date_created_gmt"))
            if modified is not None and (high is None or modified > high):
                high = modified
            if since is not None and modified is not None and modified < since - TIE:
                continue                # unchanged since the last walk
            item = customer_record(node, modified or now)
            if item is not None:
                records.append(item)
        high_text = iso(high) if high else None
        if len(nodes) < PER_PAGE or (pages and page >= pages):
            return Page(records, {"since": high_text, "page": 1, "high": high_text, "walked_at": iso(now)}, True)
        return Page(records, {"since": cursor.get("since"), "page": page + 1, "high": high_text,
                              "walked_at": cursor.get("walked_at")}, False)


def _location(response: httpx.Response) -> str:
    location = response.headers.get("Location", "")
    return str(response.url.join(location)) if location else ""


def gmt_filter(at: datetime) -> str:
    """A time for `modified_after` with `dates_are_gmt=true`: UTC written WITHOUT a zone
    ("2026-11-30T10:00:00"). WordPress turns a time that carries a zone ("…Z", "+00:00") into the
    site's local time before comparing it with the GMT column (WP_Date_Query::build_mysql_datetime;
    WooCommerce only switches the column to `post_modified_gmt`), so "…Z" on a site at UTC+2 would
    skip two hours of orders; a time without a zone is compared as written."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return f": {body.get('code')} — {body.get('message')}" if isinstance(body, dict) and body.get("code") else ""


def _billing(node: dict[str, Any], ref: str) -> Person:
    billing = obj(node.get("billing"))
    return Person(text(billing.get("email")) or text(node.get("email")), text(billing.get("phone")),
                  text(billing.get("first_name")) or text(node.get("first_name")),
                  text(billing.get("last_name")) or text(node.get("last_name")), text(billing.get("country")), ref)


def order_record(node: dict[str, Any]) -> Record | None:
    """An order as an `order_placed` record; None for one never paid or undone (see the module)."""
    status = str(node.get("status") or "").lower().removeprefix("wc-")
    at = parse_time(node.get("date_created_gmt")) or parse_time(node.get("date_created"))
    if status in SKIPPED_STATUSES or at is None or node.get("id") is None:
        return None
    total = money(node.get("total")) or 0.0
    refunds = node.get("refunds")
    refunded = sum(abs(money(r.get("total")) or 0.0) for r in (refunds if isinstance(refunds, list) else [])
                   if isinstance(r, dict))
    if refunded and refunded >= total:
        return None
    items = []
    lines = node.get("line_items")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict) or not text(line.get("name")):
            continue
        item: dict[str, Any] = {"name": line["name"].strip()}
        if isinstance(line.get("quantity"), int):
            item["quantity"] = line["quantity"]
        price = money(line.get("price"))
        if price is not None:
            item["price"] = price
        if text(line.get("sku")):
            item["sku"] = line["sku"].strip()
        if line.get("product_id"):
            item["product_id"] = str(line["product_id"])
        items.append(item)
    number = text(node.get("number")) or str(node["id"])      # as the webhook (app/intake/woocommerce.py)
    properties: dict[str, Any] = {"order_id": number, "total": round(total - refunded, 2), "items": items,
                                  "source": "woocommerce", "woocommerce_order_id": str(node["id"])}
    if text(node.get("currency")):
        properties["currency"] = node["currency"].strip()
    if refunded:
        properties["refunded"] = round(refunded, 2)
    return Record(_billing(node, f"WooCommerce order {number}"), at, "order_placed", properties)


def customer_record(node: dict[str, Any], at: datetime) -> Record | None:
    """A customer as traits for the contact (no consent: WooCommerce keeps none)."""
    if node.get("id") is None:
        return None
    person = _billing(node, f"WooCommerce customer {node['id']}")
    # The account's own email and names before the billing address's.
    person.email = text(node.get("email")) or person.email
    person.first_name = text(node.get("first_name")) or person.first_name
    person.last_name = text(node.get("last_name")) or person.last_name
    traits: dict[str, Any] = {"woocommerce_customer_id": str(node["id"])}
    for name, value in (("email", person.email), ("phone", person.phone), ("firstName", person.first_name),
                        ("lastName", person.last_name)):
        if value:
            traits[name] = value
    return Record(person, at, None, traits=traits)
