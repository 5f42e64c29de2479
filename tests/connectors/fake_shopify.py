"""A Shopify-shaped GraphQL Admin API on 127.0.0.1: `orders`, `customers`, `abandonedCheckouts` and
`shop`, answered in the documented shapes (shopify.dev GraphQL Admin API reference: Order, Customer,
AbandonedCheckout, PageInfo; "GraphQL Admin API rate limits": extensions.cost.throttleStatus and the
THROTTLED error). Search filter `updated_at:>='…'`, cursor pagination (`first`/`after`, keyset cursors
like Shopify's opaque ones), sort keys UPDATED_AT and ID. `script` scripts refusals: "throttled"
(200 with a THROTTLED error), "throttled429" (the same as HTTP 429), "429" (Retry-After: 2), "500".
The node builders follow the reference's example objects (gids, MoneyBag, line item connections)."""
from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from .fake_http import FakeServer, Reply, Request

TOKEN = "shpat_0123456789abcdef0123456789abcdef"
START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def z(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: str, currency: str = "EUR") -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency},
            "presentmentMoney": {"amount": amount, "currencyCode": currency}}


def line_items(*items: tuple[str, int, str]) -> dict[str, Any]:
    return {"nodes": [{"title": t, "quantity": q, "sku": f"SKU-{i}", "originalUnitPriceSet": money(p)}
                      for i, (t, q, p) in enumerate(items, 1)]}


def order(number: int, email: str | None, total: str, created: datetime, updated: datetime | None = None,
          **extra: Any) -> dict[str, Any]:
    node = {"id": f"gid://shopify/Order/{450789469 + number}", "name": f"#{1000 + number}",
            "createdAt": z(created), "updatedAt": z(updated or created), "cancelledAt": None,
            "displayFinancialStatus": "PAID", "email": email, "phone": None, "currencyCode": "EUR",
            "currentTotalPriceSet": money(total), "totalPriceSet": money(total),
            "customer": {"id": f"gid://shopify/Customer/{207119551 + number}", "firstName": "Bob",
                         "lastName": "Norman", "defaultEmailAddress": {"emailAddress": email},
                         "defaultPhoneNumber": None} if email else None,
            "billingAddress": {"firstName": "Bob", "lastName": "Norman", "phone": "+1(613)555-1212",
                               "countryCodeV2": "CA"},
            "lineItems": line_items(("IPod Nano - 8GB", 1, total))}
    node.update(extra)
    return node


def customer(number: int, email: str, updated: datetime, *, email_state: str = "NOT_SUBSCRIBED",
             sms_state: str | None = None, consent_at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    node = {"id": f"gid://shopify/Customer/{207119551 + number}", "firstName": "Bob", "lastName": "Norman",
            "updatedAt": z(updated), "tags": ["loyal"], "defaultEmailAddress": {"emailAddress": email},
            "defaultPhoneNumber": None, "defaultAddress": {"countryCodeV2": "CA"},
            "emailMarketingConsent": {"marketingState": email_state, "marketingOptInLevel": "SINGLE_OPT_IN",
                                      "consentUpdatedAt": z(consent_at) if consent_at else None},
            "smsMarketingConsent": {"marketingState": sms_state, "consentUpdatedAt": z(consent_at) if consent_at
                                    else None} if sms_state else None}
    node.update(extra)
    return node


def checkout(number: int, email: str, total: str, created: datetime, **extra: Any) -> dict[str, Any]:
    node = {"id": f"gid://shopify/AbandonedCheckout/{900000 + number}", "name": f"#{900000 + number}",
            "abandonedCheckoutUrl": f"https://corner.myshopify.com/123/checkouts/ac/{number}/recover?key=k{number}",
            "createdAt": z(created), "updatedAt": z(created), "completedAt": None, "totalPriceSet": money(total),
            "customer": {"id": f"gid://shopify/Customer/{207119551 + number}", "firstName": "Ann",
                         "lastName": "Lee", "defaultEmailAddress": {"emailAddress": email},
                         "defaultPhoneNumber": None},
            "billingAddress": None, "lineItems": line_items(("Blue mug", 2, "12.50"))}
    node.update(extra)
    return node


def _cursor(sort: str, number: int) -> str:
    return base64.b64encode(json.dumps({"last_id": number, "last_value": sort}).encode()).decode()


def _number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


class FakeShopify(FakeServer):
    """The shop's data in `orders`, `customers`, `checkouts` (GraphQL nodes); `available` is the
    bucket's level reported after each answer (restore rate 50 points/s, maximum 1,000)."""

    def __init__(self) -> None:
        super().__init__()
        self.orders: list[dict[str, Any]] = []
        self.customers: list[dict[str, Any]] = []
        self.checkouts: list[dict[str, Any]] = []
        self.script: list[str] = []
        self.available = 1000.0
        self.token = TOKEN
        self.graphql: list[dict[str, Any]] = []       # variables and root field of each query answered
        self.scopes = ["read_orders", "read_customers", "read_checkouts"]     # the token's access scopes
        self.max_depth = 25_000           # objects a cursor may page past ("Shopify API limits": pagination)

    def cost(self, requested: float, actual: float | None) -> dict[str, Any]:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": self.available,
                                            "restoreRate": 50.0}}}

    def answer(self, request: Request) -> Reply:
        if not re.fullmatch(r"/admin/api/\d{4}-\d{2}/graphql\.json", request.path) or request.method != "POST":
            return 404, {"errors": "Not Found"}, {}
        if request.headers.get("x-shopify-access-token") != self.token:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, {}
        with self.lock:
            step = self.script.pop(0) if self.script else None
        throttled = {"errors": [{"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": self.cost(752.0, None)}
        if step == "throttled":
            return 200, throttled, {}
        if step == "throttled429":
            return 429, throttled, {}
        if step == "429":
            return 429, {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                                   "uninterrupted service."}, {"Retry-After": "2.0"}
        if step == "500":
            return 500, {"errors": "Internal Server Error"}, {}
        body = request.json or {}
        text = body.get("query", "")
        variables = body.get("variables") or {}
        for field, store, sort in (("abandonedCheckouts", self.checkouts, "ID"), ("orders", self.orders, "UPDATED_AT"),
                                   ("customers", self.customers, "UPDATED_AT")):
            if re.search(rf"\b{field}\(", text):
                cost = requested_cost(text, variables)
                if cost > MAX_QUERY_COST:
                    return 200, {"errors": [{
                        "message": f"Query cost is {cost}, which exceeds the single query max cost limit "
                                   f"({MAX_QUERY_COST}).",
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST,
                                       "documentation": "https://shopify.dev/api/usage/rate-limits"}}]}, {}
                with self.lock:
                    self.graphql.append({"field": field, **variables})
                    try:
                        data = self._connection(store, variables, sort)
                    except DeepPage:
                        return 200, {"errors": [{"message": f"Pagination is limited to {self.max_depth} objects: "
                                                            "narrow the search with a filter",
                                                 "extensions": {"code": "BAD_REQUEST"}}],
                                     "extensions": self.cost(float(cost), None)}, {}
                return 200, {"data": {field: data}, "extensions": self.cost(float(cost), 20.0)}, {}
        if "shop" in text:
            return 200, {"data": {"shop": {"name": "Corner Shop", "myshopifyDomain": "corner.myshopify.com",
                                           "currencyCode": "EUR"},
                                  "currentAppInstallation": {"accessScopes": [
                                      {"handle": h} for h in self.scopes]}},
                         "extensions": self.cost(2.0, 2.0)}, {}
        return 200, {"errors": [{"message": "Field 'nope' doesn't exist on type 'QueryRoot'"}]}, {}

    def _connection(self, store: list[dict[str, Any]], variables: dict[str, Any], sort: str) -> dict[str, Any]:
        found = list(store)
        match = re.search(r"updated_at:>=?'?([0-9TZ:\-]+)'?", variables.get("query") or "")
        if match:
            since = datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
            found = [n for n in found if datetime.fromisoformat(n["updatedAt"].replace("Z", "+00:00")) >= since]
        above = re.search(r"\bid:>(\d+)", variables.get("query") or "")
        if above:
            found = [n for n in found if _number(n["id"]) > int(above.group(1))]

        def key(node: dict[str, Any]) -> tuple[str, int]:
            return (node["updatedAt"] if sort == "UPDATED_AT" else "", _number(node["id"]))
        found.sort(key=key)
        after = variables.get("after")
        listed = len(found)
        if after:
            last = json.loads(base64.b64decode(after))
            found = [n for n in found if key(n) > (last["last_value"], last["last_id"])]
        if after and listed - len(found) > self.max_depth:
            raise DeepPage()
        first = int(variables.get("first") or 50)
        page, more = found[:first], len(found) > first
        end = _cursor(key(page[-1])[0], key(page[-1])[1]) if page else None
        return {"nodes": page, "pageInfo": {"hasNextPage": more, "endCursor": end,
                                            "hasPreviousPage": bool(after), "startCursor": None}}

    def touch(self, node: dict[str, Any], at: datetime) -> None:
        """The shop changed the node at `at` (an order fulfilled, a customer edited)."""
        with self.lock:
            node["updatedAt"] = z(at)


MAX_QUERY_COST = 1000
"""A single query whose requested cost is more is refused before it runs ("GraphQL Admin API rate limits":
single query limit), whatever the bucket holds."""


def requested_cost(text: str, variables: dict[str, Any]) -> int:
    """A query's requested cost by the documented rules (shopify.dev, "GraphQL Admin API rate limits",
    Cost calculation): a scalar or enum costs 0, an object 1, a connection 2 plus the number of objects
    asked for (`first`), and what is selected inside a connection's nodes counts once per object."""
    tokens = re.findall(r"\$?\w+|[{}():,!]", re.sub(r"#[^\n]*", "", text))
    at = tokens.index("{")            # the operation's selection set (after its name and variables)

    def selection(i: int) -> tuple[int, int]:       # tokens[i] == "{" → (cost, index after "}")
        total, i = 0, i + 1
        while tokens[i] != "}":
            name, i = tokens[i], i + 1
            args: dict[str, str] = {}
            if tokens[i] == "(":
                i += 1
                while tokens[i] != ")":
                    key, value = tokens[i], tokens[i + 2]
                    args[key] = value
                    i += 3 + (tokens[i + 3] == ",")
                i += 1
            if tokens[i] != "{":
                continue                                                # a scalar or an enum
            inner, i = selection(i)
            if "first" in args:
                first = args["first"]
                count = int(variables.get(first[1:], 0) if first.startswith("$") else first)
                total += 2 + count + count * inner
            elif name in ("nodes", "node", "edges"):
                total += inner                                          # counted by its connection
            else:
                total += 1 + inner
        return total, i + 1

    return selection(at)[0]


class DeepPage(Exception):
    """A cursor deeper into one list than Shopify pages."""


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
