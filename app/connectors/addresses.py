"""A shop's address as people type or paste it, made into the one form a connection is stored and
called under — so "corner-shop", "https://Corner-Shop.myshopify.com/" and the admin's own browser
address "https://admin.shopify.com/store/corner-shop/orders" are one shop, not three connections.

Secrets never travel in clear text: a shop's token or keys are sent over https only. Plain http is
kept for this computer alone (127.0.0.1, localhost: a local test server); any other http address is
refused for WooCommerce (whose REST API takes keys over https only) and made https for Shopify
(which serves its Admin API over https only).
"""
from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_ADMIN_STORE = re.compile(r"^/store/([a-z0-9][a-z0-9-]*)", re.IGNORECASE)


def _split(value: str, example: str) -> SplitResult:
    found = value.strip()
    if not found:
        raise ValueError(f"give the shop's address, such as {example}")
    if any(c.isspace() for c in found):
        raise ValueError(f"“{found}” is not a web address (it has a space): give it as {example}")
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", found):
        found = "https://" + found
    try:
        parts = urlsplit(found)
        parts.port        # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"“{value.strip()}” is not a web address: give it as {example}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"“{value.strip()}” is not a web address (it starts with {parts.scheme}://): give it "
                         f"as {example}")
    host = (parts.hostname or "").lower()
    if not host or not (_HOST.match(host) or host == "::1"):
        raise ValueError(f"“{value.strip()}” names no shop this computer can reach: give it as {example}")
    return parts


def _netloc(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port}" if parts.port else host


def local(parts: SplitResult) -> bool:
    return (parts.hostname or "").lower() in LOOPBACK


def shopify_address(value: str) -> str:
    """"corner", "corner.myshopify.com", "HTTPS://Corner.myshopify.com/admin", "http://corner.myshopify.com",
    "https://admin.shopify.com/store/corner/orders" → "corner.myshopify.com". An http:// address on this
    computer (a local test server) is kept as a URL. Raises ValueError saying what is wrong."""
    example = "corner-shop.myshopify.com"
    parts = _split(value, example)
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() == "http" and local(parts):
        return f"http://{_netloc(parts)}"
    if host == "admin.shopify.com":
        store = _ADMIN_STORE.match(parts.path)
        if store is None:
            raise ValueError(f"“{value.strip()}” is the Shopify admin, not a shop: give the shop's address, such "
                             f"as {example} (Settings → Domains shows it)")
        return f"{store.group(1).lower()}.myshopify.com"
    if "." not in host and not parts.port:
        return f"{host}.myshopify.com"            # the shop's handle alone
    return _netloc(parts)


def woocommerce_address(value: str) -> str:
    """"shop.example", "HTTPS://Shop.Example/", "https://shop.example/wp-admin/admin.php?page=wc-settings",
    "https://shop.example/wp-json/wc/v3" → "https://shop.example" (a WordPress in a folder keeps it:
    "https://example.com/shop/wp-admin/" → "https://example.com/shop"). Raises ValueError for an empty
    or unusable address, and for http:// other than on this computer: WooCommerce takes REST API keys
    over https only, and over http they would travel readable by anyone on the way."""
    example = "https://shop.example"
    parts = _split(value, example)
    scheme = parts.scheme.lower()
    if scheme == "http" and not local(parts):
        raise ValueError(f"“{value.strip()}” is a plain http:// address: WooCommerce takes REST API keys over "
                         "https:// only (over http they could be read on the way). Give the store's https:// address")
    path = re.split(r"/(?:wp-admin|wp-json|wp-login\.php|index\.php)(?:/|$|\?)", parts.path + "/", maxsplit=1)[0]
    return f"{scheme}://{_netloc(parts)}{path.rstrip('/')}"


def moved(location: str, kind: str) -> str | None:
    """The address to connect with instead, from a redirect's Location (a shop answering 301 for
    another host: "shop.example" → "https://www.shop.example/wp-json/…"); None when unreadable."""
    try:
        return shopify_address(location) if kind == "shopify" else woocommerce_address(location)
    except ValueError:
        return None


def redirected(address: str, status: int, location: str, kind: str) -> str:
    """What to say when the shop sends a request elsewhere (HTTP 3xx; httpx follows no redirect, so a
    token never goes to a host it was not given for): which address to connect with instead."""
    instead = moved(location, kind) if location else None
    if instead and instead != address:
        return f"{address} sends its API to another address (HTTP {status}): give {instead} instead"
    return f"{address} answered HTTP {status} (moved elsewhere): check the shop's address"
