"""A WooCommerce-shaped REST API v3 on 127.0.0.1: `GET /wp-json/wc/v3/orders` and `/customers`,
answered in the documented shapes (woocommerce.github.io/woocommerce-rest-api-docs: the order and
customer properties, pagination with `page`/`per_page` and the X-WP-Total / X-WP-TotalPages headers,
errors as `{"code", "message", "data": {"status"}}`), HTTP Basic auth with the consumer key and
secret. Orders honour `modified_after` (with `dates_are_gmt`) and `orderby=modified`; customers, as
in WooCommerce today, ignore `modified_after`. `script` scripts refusals: "429" (Retry-After: 3), "500".
The builders follow the documentation's example order and customer."""
from __future__ import annotations

import base64
import math
from datetime import datetime, timedelta, timezone
from typing import Any

from .fake_http import FakeServer, Reply, Request

KEY = "ck_4e2ad8b7e5a0f3b1c9d8e7f6a5b4c3d2e1f0a9b8"
SECRET = "cs_0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"


def gmt(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def woo_order(number: int, email: str, total: str, created: datetime, modified: datetime | None = None, *,
              customer_id: int = 0, status: str = "processing", **extra: Any) -> dict[str, Any]:
    node = {"id": number, "parent_id": 0, "number": str(number), "order_key": f"wc_order_{number}",
            "created_via": "checkout", "status": status, "currency": "USD",
            "date_created": gmt(created), "date_created_gmt": gmt(created),
            "date_modified": gmt(modified or created), "date_modified_gmt": gmt(modified or created),
            "total": total, "customer_id": customer_id,
            "billing": {"first_name": "John", "last_name": "Doe", "company": "", "address_1": "969 Market",
                        "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US",
                        "email": email, "phone": "(555) 555-5555"},
            "line_items": [{"id": 315, "name": "Woo Single #1", "product_id": 93, "variation_id": 0,
                            "quantity": 2, "subtotal": "6.00", "total": "6.00", "sku": "", "price": 3}],
            "refunds": []}
    node.update(extra)
    return node


def woo_customer(number: int, email: str, modified: datetime, **extra: Any) -> dict[str, Any]:
    node = {"id": number, "date_created": gmt(modified), "date_created_gmt": gmt(modified),
            "date_modified": gmt(modified), "date_modified_gmt": gmt(modified), "email": email,
            "first_name": "John", "last_name": "Doe", "role": "customer", "username": f"john.doe{number}",
            "billing": {"first_name": "John", "last_name": "Doe", "country": "US", "email": email,
                        "phone": "(415) 555-2671"},
            "is_paying_customer": False}
    node.update(extra)
    return node


class FakeWoo(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.orders: list[dict[str, Any]] = []
        self.customers: list[dict[str, Any]] = []
        self.script: list[str] = []
        self.key, self.secret = KEY, SECRET
        self.on_request: Any = None       # called with each list request before it is answered
        self.header_stripped = False      # a host that drops the Authorization header (Apache with CGI/FastCGI)
        self.site_offset = timedelta(0)   # WordPress → Settings → General → Timezone (UTC+2: hours(2))

    def local(self, gmt_text: str) -> str:
        """A `_gmt` time as the site's local time (the fields without `_gmt`)."""
        at = datetime.fromisoformat(gmt_text).replace(tzinfo=timezone.utc) + self.site_offset
        return at.strftime("%Y-%m-%dT%H:%M:%S")

    def add_order(self, node: dict[str, Any]) -> dict[str, Any]:
        """Stores an order, its local dates written in the site's time zone as WooCommerce does."""
        for name in ("date_created", "date_modified"):
            node[name] = self.local(node[f"{name}_gmt"])
        with self.lock:
            self.orders.append(node)
        return node

    def date_query_value(self, value: str) -> str:
        """What WordPress compares a `modified_after` with (WP_Date_Query::build_mysql_datetime): a time
        with a zone (`Z`, `+02:00`) is converted to the SITE's local time; one without is taken as
        written. WooCommerce then compares it with `post_modified_gmt` when `dates_are_gmt` is true
        (abstract-wc-rest-crud-controller / class-wc-rest-orders-v2-controller: the column only
        changes), so a UTC time sent with `Z` is off by the site's offset."""
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if at.tzinfo is not None:
            at = (at.astimezone(timezone.utc) + self.site_offset).replace(tzinfo=None)
        return at.strftime("%Y-%m-%d %H:%M:%S")

    def answer(self, request: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        header = None if self.header_stripped else request.headers.get("authorization")
        by_query = (request.query.get("consumer_key"), request.query.get("consumer_secret")) == (self.key, self.secret)
        if header != expected and not (header is None and by_query):
            return 401, {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
                         "data": {"status": 401}}, {}
        with self.lock:
            step = self.script.pop(0) if self.script else None
        if step == "429":
            return 429, {"code": "too_many_requests", "message": "Too many requests", "data": {"status": 429}}, \
                {"Retry-After": "3"}
        if step == "500":
            return 500, {"code": "internal_server_error", "message": "Error", "data": {"status": 500}}, {}
        if self.on_request is not None:
            self.on_request(request)
        q = request.query
        if request.path == "/wp-json/wc/v3/orders":
            with self.lock:
                found = list(self.orders)
            if q.get("modified_after"):
                after = self.date_query_value(q["modified_after"])
                column = "date_modified_gmt" if q.get("dates_are_gmt") in ("true", "1") else "date_modified"
                found = [o for o in found if o[column].replace("T", " ") > after]
            if q.get("orderby") == "modified":
                found.sort(key=lambda o: (o["date_modified_gmt"], o["id"]))
            else:
                found.sort(key=lambda o: (o["date_created_gmt"], o["id"]), reverse=q.get("order", "desc") == "desc")
        elif request.path == "/wp-json/wc/v3/customers":
            with self.lock:
                found = sorted(self.customers, key=lambda c: c["id"])
        else:
            return 404, {"code": "rest_no_route", "message": "No route was found matching the URL and request method.",
                         "data": {"status": 404}}, {}
        per_page = int(q.get("per_page", 10))
        page = int(q.get("page", 1))
        pages = max(1, math.ceil(len(found) / per_page)) if found else 0
        body = found[(page - 1) * per_page: page * per_page]
        return 200, body, {"X-WP-Total": str(len(found)), "X-WP-TotalPages": str(pages)}
