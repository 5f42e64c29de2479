"""The receiver's Starlette app: `create_app(db, engine_wakeup=None)`.

Endpoints (README, "The receiver"):

- `POST /v1/track`, `/v1/identify`, `/v1/batch` — Segment's HTTP tracking API; the receiver's token
  as the basic-auth user (Segment's `writeKey`) or a bearer token; each call keyed by `messageId`.
- `POST /hooks/shopify/{topic}` — Shopify webhooks, signed (`X-Shopify-Hmac-Sha256`), keyed by
  `X-Shopify-Webhook-Id`.
- `POST /hooks/woocommerce` — WooCommerce webhooks, signed (`X-WC-Webhook-Signature`), keyed by
  `X-WC-Webhook-Delivery-ID`.
- `POST /hooks/twilio/status`, `GET|POST /hooks/meta`, `GET|POST /u/{token}`, `GET /c/{token}`,
  `GET /o/{token}` — app/intake/callbacks.py.
- `GET /health` (token) — the receiver is up and its inbox's counts (and, under `journeys serve`,
  `engine`: running|waiting and the lease's `holder`).

Each accepted request is in the database before its 2xx (app/intake/inbox.py). `engine_wakeup` is
called after each commit so the intake job applies it at once. Refusals are JSON:
`{"success": false, "error": …, "pointer": …, "hint": …}` with 400 (not JSON, wrong types: the
JSON pointer of the field), 401 (token or signature, logged), 404 (unknown topic), 408 (a body too
slow), 413 (too big).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.engine.importers import event_from_data

from . import shopify, woocommerce
from .callbacks import click, meta_hook, meta_verify, open_pixel, twilio_status, unsubscribe
from .config import MAX_BATCH_BODY, MAX_BODY, SHOPIFY_SECRET, WOOCOMMERCE_SECRET, Config
from .http import Refused, json_of, read_body, refuse_unsigned, require_token, store
from .inbox import Inbox, InboxRow
from .signatures import shopify_valid, woocommerce_valid

T = TypeVar("T")
SEGMENT_CALLS = ("track", "identify")
SEGMENT_IGNORED = ("page", "screen", "group", "alias")       # accepted and answered, not stored
SEGMENT_TIMES = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")
RESERVED_IDS = ("link:", "run:", "shopify:", "woocommerce:", "twilio:", "meta:", "imap:", "test:", "test-run:")
"""Prefixes of the idempotency keys the app gives its own events (unsubscribe, click and open links, provider
statuses, shop webhooks): a Segment `messageId` becomes an event's key as it is, and a write key is often
public (it sits in a shop's pages), so a call must not take one of those keys and make the real event a repeat."""


def _config(request: Request) -> Config:
    return request.app.state.config


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


OFF_LOOP_BYTES = 64_000
"""A body larger than this is read and checked on a worker thread: a 4 MB batch of small calls takes
seconds to check, and the event loop must go on answering everyone else meanwhile."""


async def off_loop(body: bytes, work: Callable[[], T]) -> T:
    """`work()`, on a worker thread when `body` is big (see OFF_LOOP_BYTES), else here (cheaper)."""
    return await run_in_threadpool(work) if len(body) > OFF_LOOP_BYTES else work()


async def segment(request: Request) -> Response:
    call_type = request.url.path.rsplit("/", 1)[-1]
    require_token(request, _config(request).token_is, basic=True)
    body = await read_body(request, MAX_BATCH_BODY if call_type == "batch" else MAX_BODY)
    rows, ignored = await off_loop(body, lambda: _segment_rows(call_type, body))
    await store(request, rows)
    return JSONResponse({"success": True, **({"ignored": ignored} if ignored else {})})


def _segment_rows(call_type: str, body: bytes) -> tuple[list[InboxRow], int]:
    """The inbox rows of a Segment request's body and how many calls were ignored; raises Refused."""
    data = json_of(body)
    if not isinstance(data, dict):
        raise Refused(400, "the body must be a JSON object", pointer="")
    if call_type == "batch":
        calls = data.get("batch")
        if not isinstance(calls, list):
            raise Refused(400, "'batch' must be a JSON array of track and identify calls", pointer="/batch")
        where = "/batch/"
    else:
        calls, where = [data], ""
    now = datetime.now(timezone.utc)
    rows: list[InboxRow] = []
    ignored = 0
    for index, call in enumerate(calls):
        pointer = f"{where}{index}" if where else ""
        if not isinstance(call, dict):
            raise Refused(400, "each call must be a JSON object", pointer=pointer)
        kind = call.get("type", None if call_type == "batch" else call_type)
        if call_type != "batch" and kind != call_type:
            raise Refused(400, f"'type' must be {call_type!r} on /v1/{call_type}", pointer=f"{pointer}/type")
        if kind in SEGMENT_IGNORED:
            ignored += 1
            continue
        if kind not in SEGMENT_CALLS:
            raise Refused(400, f"'type' must be track or identify (page, screen, group and alias are ignored), "
                               f"not {kind!r:.40}", pointer=f"{pointer}/type")
        call = {**call, "type": kind}
        if all(call.get(name) is None for name in SEGMENT_TIMES):
            call["receivedAt"] = now.isoformat()       # as Segment's API does: the call happened when it came
        try:
            event_from_data(call, now)
        except ValueError as exc:
            raise Refused(400, str(exc), pointer=pointer + _field_named(str(exc), call),
                          hint="nothing in this request was stored; fix the call and send the request again") from None
        message_id = call.get("messageId")
        if isinstance(message_id, str) and message_id.strip().startswith(RESERVED_IDS):
            raise Refused(400, f"'messageId' {message_id.strip()[:60]!r} starts with {message_id.strip().split(':')[0]!r}:"
                               ", which the app keeps for its own events", pointer=f"{pointer}/messageId",
                          hint="send a messageId of your own, such as a UUID; nothing in this request was stored")
        key = f"segment:{message_id}" if isinstance(message_id, (str, int)) and str(message_id).strip() else \
            f"segment:sha256:{_digest(_compact(call).encode('utf-8'))}"
        rows.append(InboxRow("segment", kind, key, _compact(call)))
    return rows, ignored


_QUOTED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)'")


def _field_named(reason: str, call: dict[str, Any]) -> str:
    """"/field" for the first field of the call the import's reason names in quotes ("'userId' must be…"),
    so the refusal points at it; "" when it names none."""
    for name in _QUOTED.findall(reason):
        if name in call or name in ("userId", "anonymousId", "event", "timestamp"):
            return f"/{name}"
        for inner in ("properties", "traits"):
            if isinstance(call.get(inner), dict) and name in call[inner]:
                return f"/{inner}/{name}"
    return ""


async def shopify_hook(request: Request) -> Response:
    # Shopify names the delivery's topic in X-Shopify-Topic: it wins over the URL, so a URL pasted for the
    # wrong webhook never makes a checkout an order (the body is signed; an unsigned one is refused below).
    topic = (request.headers.get("x-shopify-topic") or "").strip() or request.path_params["topic"]
    if topic not in shopify.TOPICS:
        raise Refused(404, f"{topic!r:.60} is not a Shopify topic this receiver takes",
                      hint="subscribe to: " + ", ".join(shopify.TOPICS))
    body = await read_body(request, MAX_BODY)
    secret = _config(request).get(SHOPIFY_SECRET)
    if not secret or not shopify_valid(secret, body, request.headers.get("x-shopify-hmac-sha256")):
        refuse_unsigned(request, "no Shopify webhook secret is set" if not secret else
                        "X-Shopify-Hmac-Sha256 missing or wrong")
        raise Refused(401, "the request is not signed with this shop's webhook secret",
                      hint="set the secret Shopify shows under Settings → Notifications → Webhooks in "
                           "Settings → Receiver")
    data = await off_loop(body, lambda: json_of(body))
    fault = shopify.fault(topic, data)
    if fault is not None:
        raise Refused(400, fault[1], pointer=fault[0])
    delivery = request.headers.get("x-shopify-webhook-id") or request.headers.get("x-shopify-event-id") \
        or "sha256:" + _digest(body)
    await store(request, [InboxRow("shopify", topic, f"shopify:{delivery}",
                                   shopify.payload(topic, request.headers.get("x-shopify-shop-domain"), data))])
    return JSONResponse({"success": True})


async def woocommerce_hook(request: Request) -> Response:
    body = await read_body(request, MAX_BODY)
    if request.headers.get("x-wc-webhook-signature") is None and body.startswith(b"webhook_id=") \
            and body[len(b"webhook_id="):].isdigit():
        return JSONResponse({"success": True, "ping": True})   # WooCommerce's unsigned ping when a webhook is saved
    secret = _config(request).get(WOOCOMMERCE_SECRET)
    if not secret or not woocommerce_valid(secret, body, request.headers.get("x-wc-webhook-signature")):
        refuse_unsigned(request, "no WooCommerce webhook secret is set" if not secret else
                        "X-WC-Webhook-Signature missing or wrong")
        raise Refused(401, "the request is not signed with this webhook's secret",
                      hint="set the webhook's secret (WooCommerce → Settings → Advanced → Webhooks) in "
                           "Settings → Receiver")
    topic = request.headers.get("x-wc-webhook-topic", "")
    if topic not in woocommerce.TOPICS:
        raise Refused(404, f"{topic!r:.60} is not a WooCommerce topic this receiver takes",
                      hint="choose one of: " + ", ".join(woocommerce.TOPICS))
    data = await off_loop(body, lambda: json_of(body))
    fault = woocommerce.fault(topic, data)
    if fault is not None:
        raise Refused(400, fault[1], pointer=fault[0])
    delivery = request.headers.get("x-wc-webhook-delivery-id") or "sha256:" + _digest(body)
    source = request.headers.get("x-wc-webhook-source", "")
    await store(request, [InboxRow("woocommerce", topic, f"woocommerce:{source}:{delivery}", _compact(data))])
    return JSONResponse({"success": True})


async def health(request: Request) -> Response:
    require_token(request, _config(request).token_is)
    db: Engine = request.app.state.db
    from app.store.tables import intake_requests

    with db.connect() as conn:
        counts: dict[str, int] = dict(conn.execute(select(intake_requests.c.status, func.count()).group_by(intake_requests.c.status))
                      .all())
    body: dict[str, Any] = {"status": "ok", "inbox": {k: int(v) for k, v in counts.items()}}
    engine_state = getattr(request.app.state, "engine_health", None)
    if engine_state is not None:          # under `journeys serve`: whether this process runs the engine
        body.update(engine_state())
    return JSONResponse(body)


def _guard(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            return refused.response()
    return run


async def _not_found(request: Request, exc: Exception) -> Response:
    return Refused(404, f"no endpoint {request.url.path!r:.80}", hint="see the README, \"The receiver\", for the "
                   "endpoints").response()


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return Refused(405, f"{request.method} is not taken at {request.url.path!r:.80}").response()


def create_app(db: Engine, engine_wakeup: Callable[[], None] | None = None, *,
               config: Config | None = None) -> Starlette:
    """The receiver (see the module's docstring) on `db`. The inbox writer starts and stops with the
    app's lifespan (uvicorn runs it; so does Starlette's TestClient used as a context manager)."""
    chosen = config or Config(db)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        chosen.start()
        app.state.inbox = Inbox(db, engine_wakeup)
        try:
            yield
        finally:
            app.state.inbox.close()
            chosen.stop()

    routes = [Route(f"/v1/{name}", _guard(segment), methods=["POST"]) for name in ("track", "identify", "batch")]
    routes += [
        Route("/hooks/shopify/{topic:path}", _guard(shopify_hook), methods=["POST"]),
        Route("/hooks/woocommerce", _guard(woocommerce_hook), methods=["POST"]),
        Route("/hooks/twilio/status", _guard(twilio_status), methods=["POST"]),
        Route("/hooks/meta", _guard(meta_verify), methods=["GET"]),
        Route("/hooks/meta", _guard(meta_hook), methods=["POST"]),
        Route("/u/{token}", _guard(unsubscribe), methods=["GET", "POST"]),
        Route("/c/{token}", _guard(click), methods=["GET"]),
        Route("/o/{token}", _guard(open_pixel), methods=["GET"]),
        Route("/health", _guard(health), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _not_found, 405: _not_allowed})
    app.state.db, app.state.config = db, chosen
    return app
