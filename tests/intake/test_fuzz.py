"""Fuzzing the receiver's doors: Segment calls and signed Shopify and WooCommerce webhooks built from the
examples, mutated as tests/fuzz_inputs.py mutates files (keys dropped or retyped, odd values, characters
inserted, other encodings). Every answer is a 2xx or a clear 4xx — never a 5xx or a traceback — and the
intake job applies what was taken or sets it aside with a reason, without raising."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from app.engine.engine import JourneyEngine
from app.intake.apply import apply_pending
from app.intake.config import Config, receiver_token
from app.intake.server import create_app
from app.intake.signatures import shopify_signature, woocommerce_signature
from app.store.db import open_database
from tests.fuzz_inputs import _dumps, encode, mutate_data, mutate_text

from .conftest import SECRETS
from .fixtures.shopify import CHECKOUT, CUSTOMER, EMAIL_CONSENT, ORDER
from .fixtures.woocommerce import ORDER as WOO_ORDER
from .test_segment import TRACK

SHOPIFY = [("checkouts/create", CHECKOUT), ("orders/create", ORDER), ("customers/update", CUSTOMER),
           ("customers_email_marketing_consent/update", EMAIL_CONSENT)]
IDENTIFY = {"type": "identify", "userId": "u7", "traits": {"email": "ann@example.com", "firstName": "Ann"},
            "timestamp": "2026-03-01T10:00:00Z", "messageId": "id-7"}
TAKEN = {200, 204, 400, 401, 404, 413}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """(kind, body, topic) of one mutated request."""
    kind = draw(st.sampled_from(["segment", "shopify", "woocommerce"]))
    if kind == "segment":
        data: Any = {"batch": [mutate_data(draw, json.loads(json.dumps(c)), draw(st.integers(1, 3)))
                               for c in (TRACK, IDENTIFY)]}
        topic = ""
    elif kind == "shopify":
        topic, example = draw(st.sampled_from(SHOPIFY))
        data = mutate_data(draw, json.loads(json.dumps(example)), draw(st.integers(1, 3)))
    else:
        topic, data = "order.created", mutate_data(draw, json.loads(json.dumps(WOO_ORDER)), draw(st.integers(1, 3)))
    text = _dumps(draw, data)
    if draw(st.booleans()):
        text = mutate_text(draw, text)
    return kind, encode(draw, text), topic


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(found=st.lists(requests(), min_size=1, max_size=4))
def test_mutated_requests_get_2xx_or_a_clear_4xx_and_never_break_the_intake_job(tmp_path: Path,
                                                                                found: list) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'fuzz.sqlite3'}")
    token = receiver_token(db)
    auth = {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}
    try:
        with TestClient(create_app(db, config=Config(db, secret_reader=SECRETS.get))) as http:
            for kind, body, topic in found:
                if kind == "segment":
                    answer = http.post("/v1/batch", content=body, headers=auth)
                elif kind == "shopify":
                    answer = http.post(f"/hooks/shopify/{topic}", content=body, headers={
                        "X-Shopify-Hmac-Sha256": shopify_signature(SECRETS["shopify_webhook_secret"], body),
                        "X-Shopify-Webhook-Id": str(hash(body))})
                else:
                    answer = http.post("/hooks/woocommerce", content=body, headers={
                        "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Delivery-ID": str(hash(body)),
                        "X-WC-Webhook-Signature": woocommerce_signature(SECRETS["woocommerce_webhook_secret"], body)})
                assert answer.status_code in TAKEN, (answer.status_code, answer.text[:300])
                if answer.status_code >= 400:
                    said = answer.json()
                    assert said["success"] is False and said["error"] and "Traceback" not in answer.text
        apply_pending(JourneyEngine(db))         # applied, or set aside with a reason: never raises
    finally:
        db.dispose()
