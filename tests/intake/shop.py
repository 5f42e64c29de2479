"""Posting signed webhooks as Shopify and WooCommerce do."""
from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from app.intake.signatures import shopify_signature, woocommerce_signature

from .conftest import SECRETS


def post_shopify(http: httpx.Client, topic: str, body: dict[str, Any] | bytes, *, webhook_id: str | None = None,
                 secret: str | None = None, signature: str | None = None) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sign = signature if signature is not None else shopify_signature(secret or SECRETS["shopify_webhook_secret"], raw)
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sign,
               "X-Shopify-Shop-Domain": "example.myshopify.com", "X-Shopify-API-Version": "2025-01",
               "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4())}
    return http.post(f"/hooks/shopify/{topic}", content=raw, headers=headers)


def post_woo(http: httpx.Client, topic: str, body: dict[str, Any] | bytes, *, delivery: str | None = None,
             secret: str | None = None) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic,
               "X-WC-Webhook-Resource": topic.split(".")[0], "X-WC-Webhook-Event": topic.split(".")[1],
               "X-WC-Webhook-Source": "https://shop.example/", "X-WC-Webhook-ID": "7",
               "X-WC-Webhook-Delivery-ID": delivery or uuid.uuid4().hex,
               "X-WC-Webhook-Signature": woocommerce_signature(secret or SECRETS["woocommerce_webhook_secret"], raw)}
    return http.post("/hooks/woocommerce", content=raw, headers=headers)
