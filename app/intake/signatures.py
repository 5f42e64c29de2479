"""The providers' request signatures, each compared in constant time (`hmac.compare_digest`).

- Shopify: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(client secret, raw body))
  (shopify.dev/docs/apps/build/webhooks/subscribe/https, "Verify the webhook").
- WooCommerce: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(webhook secret, raw body))
  (WooCommerce REST API docs, "Webhooks"; WC_Webhook::generate_signature).
- Twilio: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, the full URL Twilio requested + each
  POST parameter's name and value, sorted by name)) (twilio.com/docs/usage/security#validating-requests).
- Meta: `X-Hub-Signature-256` = "sha256=" + hex(HMAC-SHA256(app secret, raw body))
  (developers.facebook.com/docs/graph-api/webhooks/getting-started, "Validate payloads").
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Iterable


def _base64_hmac(secret: str, body: bytes, digest: str = "sha256") -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, digest).digest()).decode("ascii")


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.strip().encode("utf-8", "replace"),
                                                     expected.encode("ascii"))


def shopify_signature(secret: str, body: bytes) -> str:
    return _base64_hmac(secret, body)


def shopify_valid(secret: str, body: bytes, header: str | None) -> bool:
    return _same(header, shopify_signature(secret, body))


woocommerce_signature = shopify_signature      # the same construction, under the webhook's own secret
woocommerce_valid = shopify_valid


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    return _base64_hmac(auth_token, data.encode("utf-8"), "sha1")


def twilio_valid(auth_token: str, urls: Iterable[str], params: list[tuple[str, str]], header: str | None) -> bool:
    """Whether `header` signs the request under any of `urls` (the address Twilio was given may be the
    public URL in front of the receiver, or the address it was reached at: both are tried)."""
    return any(_same(header, twilio_signature(auth_token, url, params)) for url in urls)


def meta_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def meta_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    return _same(header.lower() if header else None, meta_signature(app_secret, body))
