"""Shopify's GraphQL Admin API over HTTP: one POST per query, its cost-based rate limit honoured.

Every answer carries `extensions.cost` (`requestedQueryCost`, `actualQueryCost` and `throttleStatus`:
`maximumAvailable`, `currentlyAvailable`, `restoreRate` points per second). A query whose cost is
more than what is available is refused with an error whose `extensions.code` is `THROTTLED` (HTTP 200
with `errors`, or 429): we wait until the bucket holds the cost again and ask once more. Before a
query we wait, too, when the last answer left less than that query's cost, so a long import keeps
under the limit instead of running into it. HTTP 429 with `Retry-After` waits what it says.
(shopify.dev, "GraphQL Admin API rate limits"; "API rate limits": the leaky bucket.)

`sleep` is injectable: the tests record the waits rather than spend them.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import httpx

from app.delivery.httpapi import new_client, retry_after

from .addresses import redirected
from .errors import AuthFailed, ConnectorError, Throttled, Unreachable

API_VERSION = "2025-07"
"""The Admin API version asked for (Shopify supports each for a year; the README says how to move on)."""
ATTEMPTS = 8             # answers refused for the rate limit before the poll gives up until next time
SERVER_ERRORS = 3        # 5xx answers or lost connections in a row before the poll gives up
MAX_WAIT = 60.0          # seconds: no single wait is longer (the next poll comes anyway)


def admin_url(address: str, api_version: str = API_VERSION) -> str:
    """The GraphQL endpoint of a shop: https://<shop>/admin/api/<version>/graphql.json (an address
    given with its scheme, such as a local test server's http://127.0.0.1:8080, keeps it)."""
    base = address if address.startswith(("http://", "https://")) else f"https://{address}"
    return f"{base.rstrip('/')}/admin/api/{api_version}/graphql.json"


class GraphQL:
    """Runs queries against one shop with its Admin API access token (header X-Shopify-Access-Token)."""

    def __init__(self, address: str, token: str, *, api_version: str = API_VERSION,
                 sleep: Callable[[float], None] = time.sleep, client: httpx.Client | None = None) -> None:
        self.url = admin_url(address, api_version)
        self.address = address
        self.sleep = sleep
        self.client = client or new_client(self.url.rsplit("/admin/", 1)[0], timeout=30.0,
                                           headers={"X-Shopify-Access-Token": token})
        self.available: float | None = None      # points left after the last answer
        self.restore_rate: float = 50.0          # points per second
        self.waited: list[float] = []            # every wait, in seconds (what the tests read)

    def close(self) -> None:
        self.client.close()

    def _wait(self, seconds: float) -> None:
        seconds = min(MAX_WAIT, max(0.0, seconds))
        self.waited.append(seconds)
        self.sleep(seconds)

    def _note_cost(self, body: dict[str, Any]) -> tuple[float | None, float | None]:
        """Remembers the bucket's level; returns (requested cost, points available)."""
        cost = (body.get("extensions") or {}).get("cost") if isinstance(body.get("extensions"), dict) else None
        if not isinstance(cost, dict):
            return None, None
        status = cost.get("throttleStatus") or {}
        available = status.get("currentlyAvailable")
        rate = status.get("restoreRate")
        if isinstance(rate, (int, float)) and rate > 0:
            self.restore_rate = float(rate)
        if isinstance(available, (int, float)):
            self.available = float(available)
        requested = cost.get("requestedQueryCost")
        return (float(requested) if isinstance(requested, (int, float)) else None), self.available

    def query(self, text: str, variables: dict[str, Any] | None = None, cost: float = 0.0) -> dict[str, Any]:
        """The `data` of the query. `cost`: its expected cost in points (waited for first when the
        last answer left less). Raises AuthFailed (401/403), Unreachable (no answer after retries),
        Throttled (refused for the rate limit ATTEMPTS times) or ConnectorError (the shop's errors)."""
        if cost and self.available is not None and self.available < cost:
            self._wait((cost - self.available) / self.restore_rate)
        failures = 0
        for attempt in range(ATTEMPTS):
            try:
                response = self.client.post(self.url, json={"query": text, "variables": variables or {}})
            except httpx.HTTPError as exc:
                failures += 1
                if failures >= SERVER_ERRORS:
                    raise Unreachable(f"{self.address} did not answer ({type(exc).__name__}: {exc}); "
                                      "check the shop's address and this computer's connection") from None
                self._wait(2.0 ** failures)
                continue
            if 300 <= response.status_code < 400:
                location = response.headers.get("Location", "")
                raise ConnectorError(redirected(self.address, response.status_code,
                                                str(response.url.join(location)) if location else "", "shopify"))
            if response.status_code in (401, 403):
                raise AuthFailed(f"{self.address} refused the Admin API access token (HTTP {response.status_code}): "
                                 "copy it again from the custom app (Settings → Apps and sales channels → Develop "
                                 "apps → your app → API credentials) and check its scopes")
            if response.status_code == 404:
                raise ConnectorError(f"{self.url} was not found (HTTP 404): is {self.address} the shop's "
                                     "myshopify.com address?")
            if response.status_code == 429:
                self._wait(retry_after(response) or min(MAX_WAIT, 2.0 ** (attempt + 1)))
                continue
            if response.status_code >= 500:
                failures += 1
                if failures >= SERVER_ERRORS:
                    raise Unreachable(f"{self.address} answered HTTP {response.status_code} {failures} times in a row; "
                                      "the next poll tries again")
                self._wait(2.0 ** failures)
                continue
            try:
                body = response.json()
            except ValueError:
                raise ConnectorError(f"{self.address} answered HTTP {response.status_code} without JSON; "
                                     "is it a Shopify shop?") from None
            if not isinstance(body, dict):
                raise ConnectorError(f"{self.address} answered with JSON that is not an object")
            requested, available = self._note_cost(body)
            errors = body.get("errors")
            if errors:
                if _throttled(errors):
                    needed = (requested or cost or 1.0) - (available or 0.0)
                    self._wait(max(1.0, needed / self.restore_rate))
                    continue
                raise ConnectorError(f"{self.address} refused the query: {_messages(errors)}")
            data = body.get("data")
            if not isinstance(data, dict):
                raise ConnectorError(f"{self.address} answered without data")
            return data
        raise Throttled(f"{self.address} still refused for its rate limit after {ATTEMPTS} waits; "
                        "the next poll goes on from where this one stopped")


def _throttled(errors: Any) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and isinstance(e.get("extensions"), dict) and e["extensions"].get("code") == "THROTTLED"
        for e in errors)


def _messages(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)[:500]
    return str(errors)[:500]
