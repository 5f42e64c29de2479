"""Shopify: orders, customers and abandoned checkouts polled from the GraphQL Admin API.

A custom app's Admin API access token (scopes read_orders, read_customers, and for abandoned
checkouts read_checkouts / the manage_abandoned_checkouts permission) and the shop's
`<name>.myshopify.com` address are all it needs; no public URL.

Each resource is read with Shopify's search syntax, `updated_at:>='<time>'`, page by page
(`first`/`after` with `pageInfo { hasNextPage endCursor }`), orders and customers sorted by
UPDATED_AT, checkouts by ID (their only stable sort key with an update filter). The cursor of a
resource is `{"since": time or null, "after": endCursor or null, "high": newest updatedAt seen}`:
mid-poll it names the page to read next (a crash resumes exactly there), and when the last page is
in, `since` moves to `high` less OVERLAP (Shopify's search index can lag a little behind a write;
what is read twice is keyed and changes nothing). The first poll (`since` null) reads everything:
the shop's history, applied in history mode by the poller.

Mapping (records.py): an order → `order_placed` with `order_id` = the order's name ("#1001", as the
order export's `Name`, so file and API agree), `shopify_order_id`, `total` (current total: after
refunds), `currency`, `items`; cancelled, voided, expired and fully refunded orders are left out.
An abandoned checkout → `checkout_started` with `checkout_id`, `items`, `total`, `currency`,
`cart_url` (abandonedCheckoutUrl); one completed already is left out. A customer → traits (email,
phone, first/last name, tags, `shopify_customer_id`) and consent (emailMarketingConsent,
smsMarketingConsent: SUBSCRIBED / UNSUBSCRIBED with consentUpdatedAt).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from .addresses import shopify_address
from .errors import AuthFailed
from .graphql import GraphQL
from .records import Page, Person, Record, iso, money, obj, parse_time, text

WINDOW = 20_000
"""Objects read down one list before the walk starts a new one (Shopify pages 25,000 deep at most)."""
RESOURCES = ("customers", "orders", "checkouts")
"""In this order: a poll knows the customers' consent before their orders and checkouts arrive."""
OVERLAP = timedelta(minutes=5)
LINE_ITEMS = 25
"""Line items read per order or checkout (a cart email shows the first few)."""
PAGE_SIZE = {"orders": 10, "customers": 100, "checkouts": 10}
# Each query's requested cost (shopify.dev, "GraphQL Admin API rate limits": an object 1, a connection
# 2 + `first`, what a connection's nodes select once per node) must stay under the single-query limit
# of 1,000, or Shopify refuses it before it runs (MAX_COST_EXCEEDED): orders(first: 10) with
# lineItems(first: 25) ask for about 880, customers(first: 100) about 700. The bucket is waited for
# this much before each query (the answer's actual cost is usually far less and refunded).
COST = {"orders": 900.0, "customers": 720.0, "checkouts": 900.0}

_MONEY = "shopMoney { amount currencyCode }"
_ITEMS = f"lineItems(first: {LINE_ITEMS}) {{ nodes {{ title quantity sku originalUnitPriceSet {{ {_MONEY} }} }} }}"
_PERSON = "id firstName lastName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber }"
_ADDRESS = "firstName lastName phone countryCodeV2"
QUERIES = {
    "orders": f"""query Orders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ id name createdAt updatedAt cancelledAt displayFinancialStatus email phone currencyCode
      currentTotalPriceSet {{ {_MONEY} }} totalPriceSet {{ {_MONEY} }}
      customer {{ {_PERSON} }} billingAddress {{ {_ADDRESS} }} {_ITEMS} }}
  }}
}}""",
    "customers": """query Customers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id firstName lastName updatedAt tags
      defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } defaultAddress { countryCodeV2 }
      emailMarketingConsent { marketingState consentUpdatedAt }
      smsMarketingConsent { marketingState consentUpdatedAt } }
  }
}""",
    "checkouts": f"""query Checkouts($first: Int!, $after: String, $query: String) {{
  abandonedCheckouts(first: $first, after: $after, query: $query, sortKey: ID) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ id name abandonedCheckoutUrl createdAt updatedAt completedAt totalPriceSet {{ {_MONEY} }}
      customer {{ {_PERSON} }} billingAddress {{ {_ADDRESS} }} {_ITEMS} }}
  }}
}}""",
}
_FIELD = {"orders": "orders", "customers": "customers", "checkouts": "abandonedCheckouts"}
SHOP_QUERY = "query Shop { shop { name myshopifyDomain currencyCode } " \
             "currentAppInstallation { accessScopes { handle } } }"
NEEDED_SCOPES = ("read_orders", "read_customers")


def normalise_address(value: str) -> str:
    """The shop's address as stored ("corner.myshopify.com"; app/connectors/addresses.py). Raises ValueError."""
    return shopify_address(value)


class ShopifySource:
    """Reads one shop's pages (`page`) and tests the connection (`check`)."""

    kind = "shopify"
    resources: tuple[str, ...] = RESOURCES

    def __init__(self, address: str, token: str, *, sleep: Callable[[float], None] | None = None,
                 api_version: str | None = None) -> None:
        options: dict[str, Any] = {}
        if sleep is not None:
            options["sleep"] = sleep
        if api_version:
            options["api_version"] = api_version
        self.api = GraphQL(address, token, **options)
        self.address = address
        self.window = WINDOW

    def close(self) -> None:
        self.api.close()

    def check(self) -> str:
        """Asks for the shop's name and the token's scopes; returns "Connected to <name> …". Raises
        ConnectorError subclasses saying what failed (AuthFailed for a scope the polls need missing)."""
        data = self.api.query(SHOP_QUERY)
        shop = obj(data.get("shop"))
        granted = obj(data.get("currentAppInstallation")).get("accessScopes")
        scopes = {s.get("handle") for s in (granted if isinstance(granted, list) else []) if isinstance(s, dict)}
        missing = [s for s in NEEDED_SCOPES if scopes and s not in scopes]
        name = f"{shop.get('name') or self.address} ({shop.get('myshopifyDomain') or self.address})"
        if missing:
            # Every poll would fail with ACCESS_DENIED: not a connection worth saving.
            raise AuthFailed(f"{name} accepted the token, but it lacks {' and '.join(missing)}: add "
                             f"{'them' if len(missing) > 1 else 'it'} to the custom app's Admin API scopes "
                             "(Configuration → Admin API integration), save, and install the app again")
        return f"Connected to {name}"

    def page(self, resource: str, cursor: dict[str, Any], now: datetime) -> Page:
        """The next page of `resource` after `cursor`, its records and the cursor after it.

        Shopify pages at most 25,000 objects deep into one list (shopify.dev, "Shopify API limits":
        pagination limits); a bigger shop's first import would stop there for good. So after
        WINDOW objects the walk starts a new list where it stands: orders and customers (sorted by
        UPDATED_AT) from the newest `updatedAt` read (`>=`: what shares that second is read again,
        keyed), checkouts (sorted by ID) after the last id read (`id:>`)."""
        since = cursor.get("since")
        terms = [f"updated_at:>='{since}'"] if since else []
        if cursor.get("from_id"):
            terms.append(f"id:>{cursor['from_id']}")
        variables = {"first": PAGE_SIZE[resource], "after": cursor.get("after"), "query": " ".join(terms) or None}
        data = self.api.query(QUERIES[resource], variables, cost=COST[resource])
        found = obj(data.get(_FIELD[resource]))
        listed = found.get("nodes")
        nodes = [n for n in listed if isinstance(n, dict)] if isinstance(listed, list) else []
        info = obj(found.get("pageInfo"))
        high = parse_time(cursor.get("high"))
        records: list[Record] = []
        skipped = 0
        for node in nodes:
            updated = parse_time(node.get("updatedAt"))
            if updated is not None and (high is None or updated > high):
                high = updated
            item = READERS[resource](node)
            if item is None:
                skipped += 1
            else:
                records.append(item)
        high_text = iso(high) if high else None
        if info.get("hasNextPage") and info.get("endCursor"):
            deep = int(cursor.get("n") or 0) + len(nodes)
            if deep < self.window or not nodes:
                return Page(records, {"since": since, "after": info["endCursor"], "high": high_text, "n": deep,
                                      "from_id": cursor.get("from_id")}, False, skipped)
            if resource == "checkouts":      # a new list after the last id read (sorted by ID)
                return Page(records, {"since": since, "after": None, "high": high_text, "n": 0,
                                      "from_id": _numeric(nodes[-1].get("id"))}, False, skipped)
            return Page(records, {"since": high_text, "after": None, "high": high_text, "n": 0}, False, skipped)
        settled = iso(high - OVERLAP) if high else since
        return Page(records, {"since": settled, "after": None, "high": high_text}, True, skipped)


def _numeric(gid: Any) -> str:
    """"gid://shopify/Order/450789469" → "450789469"."""
    return str(gid).rsplit("/", 1)[-1] if gid else ""


def _amount(money_set: Any) -> tuple[float | None, str | None]:
    shop = obj(money_set).get("shopMoney")
    if not isinstance(shop, dict):
        return None, None
    return money(shop.get("amount")), text(shop.get("currencyCode"))


def _items(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    lines = obj(node.get("lineItems")).get("nodes")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict) or not text(line.get("title")):
            continue
        item: dict[str, Any] = {"name": line["title"].strip()}
        if isinstance(line.get("quantity"), int):
            item["quantity"] = line["quantity"]
        price, _ = _amount(line.get("originalUnitPriceSet"))
        if price is not None:
            item["price"] = price
        if text(line.get("sku")):
            item["sku"] = line["sku"].strip()
        found.append(item)
    return found


def _person(node: dict[str, Any], ref: str) -> Person:
    customer = obj(node.get("customer"))
    address = obj(node.get("billingAddress"))
    email = text(node.get("email")) or text(obj(customer.get("defaultEmailAddress")).get("emailAddress"))
    phone = (text(node.get("phone")) or text(obj(customer.get("defaultPhoneNumber")).get("phoneNumber"))
             or text(address.get("phone")))
    return Person(email, phone, text(customer.get("firstName")) or text(address.get("firstName")),
                  text(customer.get("lastName")) or text(address.get("lastName")),
                  text(address.get("countryCodeV2")), ref)


def order_record(node: dict[str, Any]) -> Record | None:
    """An order as an `order_placed` record; None for one left out (cancelled, voided, expired, refunded)."""
    status = str(node.get("displayFinancialStatus") or "").upper()
    at = parse_time(node.get("createdAt"))
    if node.get("cancelledAt") or status in ("VOIDED", "EXPIRED", "REFUNDED") or at is None:
        return None
    name = text(node.get("name")) or _numeric(node.get("id"))
    total, currency = _amount(node.get("currentTotalPriceSet"))
    if total is None:
        total, currency = _amount(node.get("totalPriceSet"))
    properties: dict[str, Any] = {"order_id": name, "shopify_order_id": _numeric(node.get("id")),
                                  "total": total or 0.0, "items": _items(node), "source": "shopify"}
    if currency or text(node.get("currencyCode")):
        properties["currency"] = currency or text(node.get("currencyCode"))
    return Record(_person(node, f"Shopify order {name}"), at, "order_placed", properties)


def checkout_record(node: dict[str, Any]) -> Record | None:
    """An abandoned checkout as a `checkout_started` record; None when it was completed already."""
    at = parse_time(node.get("createdAt"))
    if node.get("completedAt") or at is None:
        return None
    number = _numeric(node.get("id"))
    total, currency = _amount(node.get("totalPriceSet"))
    properties: dict[str, Any] = {"checkout_id": number, "items": _items(node), "total": total or 0.0,
                                  "source": "shopify"}
    if currency:
        properties["currency"] = currency
    if text(node.get("abandonedCheckoutUrl")):
        properties["cart_url"] = node["abandonedCheckoutUrl"].strip()
    return Record(_person(node, f"Shopify checkout {number}"), at, "checkout_started", properties,
                  f"shopify:checkout:{number}")


_STATES = {"SUBSCRIBED": "subscribed", "UNSUBSCRIBED": "unsubscribed"}


def customer_record(node: dict[str, Any]) -> Record | None:
    """A customer as traits and consent (no event)."""
    at = parse_time(node.get("updatedAt"))
    if at is None:
        return None
    number = _numeric(node.get("id"))
    email = text(obj(node.get("defaultEmailAddress")).get("emailAddress"))
    phone = text(obj(node.get("defaultPhoneNumber")).get("phoneNumber"))
    country = text(obj(node.get("defaultAddress")).get("countryCodeV2"))
    person = Person(email, phone, text(node.get("firstName")), text(node.get("lastName")), country,
                    f"Shopify customer {number}")
    traits: dict[str, Any] = {"shopify_customer_id": number}
    for name, value in (("email", email), ("phone", phone), ("firstName", person.first_name),
                        ("lastName", person.last_name)):
        if value:
            traits[name] = value
    tags = node.get("tags")
    if isinstance(tags, list) and tags:
        traits["tags"] = [t for t in tags if isinstance(t, str)]
    consent: dict[str, tuple[str, datetime | None]] = {}
    for channel, name in (("email", "emailMarketingConsent"), ("sms", "smsMarketingConsent")):
        given = obj(node.get(name))
        state = _STATES.get(str(given.get("marketingState") or "").upper())
        if state:
            consent[channel] = (state, parse_time(given.get("consentUpdatedAt")))
    return Record(person, at, None, traits=traits, consent=consent)


READERS: dict[str, Callable[[dict[str, Any]], Record | None]] = {
    "orders": order_record, "customers": customer_record, "checkouts": checkout_record}
