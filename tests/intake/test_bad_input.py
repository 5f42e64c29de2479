"""Bad input, one class per test: each gets its 4xx (saying what and where) or is cut off, nothing of
it is stored, and the receiver keeps serving everyone else."""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
from typing import Iterator

import pytest

from app.intake import http as intake_http
from app.intake.runner import protocol_class

from .conftest import Receiver, start
from .fixtures.shopify import CHECKOUT, ORDER, fresh
from .shop import post_shopify, post_woo
from .test_segment import TRACK, basic


def still_serving(receiver: Receiver, message_id: str) -> None:
    """A good request from someone else is taken (and stored) meanwhile."""
    with receiver.client() as http:
        answer = http.post("/v1/track", json={**TRACK, "messageId": message_id}, headers=basic(receiver.token))
    assert answer.status_code == 200


@pytest.mark.parametrize("body, where", [
    (b'{"userId": "u1", "event": "Order Completed",', "line 1"),           # cut short
    (b"{'userId': 'u1'}", "line 1"),                                        # not JSON quotes
    (b'{"userId": "u1", "event": "x", "timestamp": NaN}', "/timestamp"),    # a value JSON data does not hold
    (b"\xff\xfe{}", "UTF-8"),
    (b"", "empty"),
])
def test_malformed_json_is_400_saying_where(receiver: Receiver, body: bytes, where: str) -> None:
    with receiver.client() as http:
        answer = http.post("/v1/track", content=body, headers={**basic(receiver.token),
                                                               "Content-Type": "application/json"})
    assert answer.status_code == 400
    said = answer.json()
    assert said["success"] is False and where in json.dumps(said)
    still_serving(receiver, "after-malformed")
    assert receiver.inbox() == 1


def test_malformed_json_in_a_signed_shopify_webhook_is_400(receiver: Receiver) -> None:
    with receiver.client() as http:
        answer = post_shopify(http, "orders/create", b'{"id": 1, "line_items": [}')
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]
    assert receiver.inbox() == 0


@pytest.mark.parametrize("call, pointer, words", [
    ({**TRACK, "properties": "total=27.5"}, "/properties", "'properties' must be a JSON object"),
    ({**TRACK, "timestamp": 1772359200}, "/timestamp", "timestamp"),
    ({**TRACK, "event": ["Order Completed"]}, "/event", "'event' name"),
    ({**TRACK, "properties": {**TRACK["properties"], "total": "lots"}}, "/properties/total",
     "'total' must be a non-negative number"),
])
def test_wrong_types_in_a_segment_call_are_400_and_nothing_of_the_batch_is_stored(
        receiver: Receiver, call: dict, pointer: str, words: str) -> None:
    with receiver.client() as http:
        single = http.post("/v1/track", json=call, headers=basic(receiver.token))
        batch = http.post("/v1/batch", json={"batch": [{**TRACK, "messageId": "ok-1"}, call]},
                          headers=basic(receiver.token))
        not_a_list = http.post("/v1/batch", json={"batch": {"0": TRACK}}, headers=basic(receiver.token))
    assert single.status_code == batch.status_code == not_a_list.status_code == 400
    assert words in single.json()["error"] and single.json()["pointer"] == pointer
    assert batch.json()["pointer"] == "/batch/1" + pointer            # which call of the batch, which field
    assert not_a_list.json()["pointer"] == "/batch"
    assert receiver.inbox() == 0
    still_serving(receiver, "after-types")


@pytest.mark.parametrize("topic, body, pointer", [
    ("checkouts/create", fresh(CHECKOUT, total_price={"amount": "398.00"}), "/total_price"),
    ("orders/create", fresh(ORDER, line_items=[{"title": "x", "price": "-5.00"}]), "/line_items/0/price"),
    ("orders/create", fresh(ORDER, line_items="Aviator sunglasses"), "/line_items"),
    ("customers/update", {"id": 1, "email": ["a@b.c"]}, "/email"),
    ("orders/paid", fresh(ORDER, customer={**ORDER["customer"], "email": 42}), "/customer/email"),
])
def test_wrong_types_in_a_webhook_are_400_with_the_json_pointer(receiver: Receiver, topic: str, body: dict,
                                                                pointer: str) -> None:
    with receiver.client() as http:
        answer = post_shopify(http, topic, body)
    assert answer.status_code == 400 and answer.json()["pointer"] == pointer
    assert receiver.inbox() == 0
    still_serving(receiver, "after-webhook-types")


def test_wrong_types_in_a_woocommerce_order_are_400(receiver: Receiver) -> None:
    with receiver.client() as http:
        answer = post_woo(http, "order.created", {"id": 727, "total": True, "billing": {"email": "a@b.c"}})
    assert answer.status_code == 400 and answer.json()["pointer"] == "/total"


def _chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b" " * 65536
        sent += 65536


def test_a_10_mb_body_is_413_whether_its_length_is_declared_or_not(receiver: Receiver) -> None:
    ten_mb = b'{"batch": [' + b" " * (10 * 1024 * 1024) + b"]}"
    with receiver.client() as http:
        declared = http.post("/v1/batch", content=ten_mb, headers=basic(receiver.token))
        streamed = http.post("/v1/batch", content=_chunks(10 * 1024 * 1024), headers=basic(receiver.token))
        webhook = post_shopify(http, "orders/create", b'{"id": 1, "note": "' + b"x" * (10 * 1024 * 1024) + b'"}')
    assert declared.status_code == streamed.status_code == webhook.status_code == 413
    assert "at most" in declared.json()["error"] or "over" in declared.json()["error"]
    still_serving(receiver, "after-10mb")
    assert receiver.inbox() == 1


@pytest.mark.parametrize("path", ["/hooks/shopify/orders/delete", "/hooks/shopify/app/uninstalled", "/hooks/nope"])
def test_an_unknown_topic_or_endpoint_is_404(receiver: Receiver, path: str) -> None:
    with receiver.client() as http:
        answer = http.post(path, content=b"{}", headers={"X-Shopify-Hmac-Sha256": "x"})
        woo = post_woo(http, "coupon.created", {"id": 1})
    assert answer.status_code == 404 and answer.json()["success"] is False
    assert woo.status_code == 404 and "order.created" in woo.json()["hint"]
    assert receiver.inbox() == 0
    still_serving(receiver, "after-unknown-topic")


def test_a_wrong_or_missing_signature_is_401_and_logged(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    with receiver.client() as http:
        wrong_secret = post_shopify(http, "orders/create", ORDER, secret="someone-elses")
        unsigned = post_shopify(http, "orders/create", ORDER, signature="")
        # A body changed after signing: the signature is of other bytes.
        tampered = http.post("/hooks/shopify/orders/create", content=json.dumps(fresh(ORDER, total_price="1.00")),
                             headers={"X-Shopify-Hmac-Sha256": post_shopify.__globals__["shopify_signature"](
                                 "shpss_test_secret", json.dumps(ORDER).encode())})
        woo = post_woo(http, "order.created", {"id": 1}, secret="wrong")
        meta = http.post("/hooks/meta", content=b'{"entry": []}', headers={"X-Hub-Signature-256": "sha256=00"})
        twilio = http.post("/hooks/twilio/status", data={"MessageSid": "SM1", "MessageStatus": "delivered"},
                           headers={"X-Twilio-Signature": base64.b64encode(b"nope").decode()})
    assert {r.status_code for r in (wrong_secret, unsigned, tampered, woo, meta, twilio)} == {401}
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refusals) == 6 and all("127.0.0.1" in line for line in refusals)
    assert receiver.inbox() == 0
    still_serving(receiver, "after-signatures")


def _slow_client(port: int, first: bytes, closed: list[bool], hold: float) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(first)
        conn.settimeout(hold)
        try:
            closed.append(conn.recv(1024) == b"")
        except (socket.timeout, ConnectionResetError):
            closed.append(False)            # still open after `hold` seconds: not cut off


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_slow_clients_are_cut_off_while_others_are_served(receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
                                                          parser: str) -> None:
    if parser == "h11":         # the pure-Python parser uvicorn falls back to without httptools
        from uvicorn.protocols.http.h11_impl import H11Protocol

        from app.intake.runner import _guarded

        base = _guarded(H11Protocol)
    else:
        base = protocol_class()
    slow_headers = type("Slow", (base,), {"header_seconds": 1.0})
    monkeypatch.setattr(intake_http, "BODY_SECONDS", 1.0)
    server, thread, url = start(receiver.db, http=slow_headers)
    port = int(url.rsplit(":", 1)[1])
    try:
        closed: list[bool] = []
        # Slowloris: headers begun, never finished; and a body promised, never sent.
        clients = [threading.Thread(target=_slow_client, args=(port, b"POST /v1/track HTTP/1.1\r\nHost: x\r\n", closed, 20))
                   for _ in range(20)]
        promised = (b"POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + receiver.token.encode() +
                    b"\r\nContent-Length: 500\r\n\r\n{")
        answers: list[bytes] = []

        def body_never_comes() -> None:
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(promised)
                conn.settimeout(20)
                answers.append(conn.recv(4096))

        clients.append(threading.Thread(target=body_never_comes))
        for client in clients:
            client.start()
        time.sleep(0.2)
        import httpx

        with httpx.Client(base_url=url, timeout=10) as http:     # someone else, meanwhile
            ok = http.post("/v1/track", json={**TRACK, "messageId": "during-slowloris"}, headers=basic(receiver.token))
        assert ok.status_code == 200
        for client in clients:
            client.join(timeout=30)
        assert closed == [True] * 20                            # each slow-headers connection was closed
        assert answers and answers[0].startswith(b"HTTP/1.1 408")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert receiver.inbox() == 1
