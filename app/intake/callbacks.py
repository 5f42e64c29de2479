"""Provider callbacks and the links in emails (see app/intake/providers.py for what each becomes).

- `POST /hooks/twilio/status`: Twilio's status callback (a form), signed with `X-Twilio-Signature`
  over the URL Twilio was given — the public URL plus this path (set it as the Messaging Service's
  status callback URL) — or the address it reached the receiver at.
- `GET /hooks/meta`: Meta's subscription handshake: `hub.mode=subscribe`, `hub.verify_token` equal
  to the receiver's Meta verify token → `hub.challenge` echoed (200), else 403.
  `POST /hooks/meta`: WhatsApp webhooks signed with `X-Hub-Signature-256`; each status is stored.
- `GET /u/{token}`: a page with one button (a GET must never unsubscribe: mail scanners follow
  links); `POST /u/{token}`: the unsubscribe itself — RFC 8058's one-click POST
  (`List-Unsubscribe=One-Click`) from the mail program, or the page's button.
- `GET /c/{token}?u=…&s=…`: the click is stored, then a 302 to the address — only an address this
  app signed for this token (never an open redirect). `GET /o/{token}`: the open, a 1×1 GIF.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from html import escape

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from app.delivery import tracking
from app.delivery.secrets import TWILIO_AUTH_TOKEN
from app.delivery.unsubscribe import KEY_SETTING, read_token
from app.store.app_settings import get_setting

from .config import MAX_BODY, META_APP_SECRET, Config
from .http import Refused, json_of, read_body, refuse_unsigned, store
from .inbox import InboxRow
from .signatures import meta_valid, twilio_valid

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")    # 1×1 transparent GIF


def _config(request: Request) -> Config:
    return request.app.state.config


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


async def twilio_status(request: Request) -> Response:
    body = await read_body(request, MAX_BODY)
    config = _config(request)
    token = config.get(TWILIO_AUTH_TOKEN)
    from urllib.parse import parse_qsl

    try:
        params = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the body is not a form (application/x-www-form-urlencoded)") from None
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    urls = [str(request.url)]
    public = config.get("public_url")
    if public:
        urls.append(public + path)
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded:
        urls.append(f"{request.headers.get('x-forwarded-proto', 'https')}://{forwarded}{path}")
    if not token or not twilio_valid(token, urls, params, request.headers.get("x-twilio-signature")):
        refuse_unsigned(request, "no Twilio auth token is set" if not token else "X-Twilio-Signature missing or wrong")
        raise Refused(401, "the request is not signed with this account's auth token")
    form = dict(params)
    sid, status = form.get("MessageSid") or form.get("SmsSid"), form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        raise Refused(400, "a status callback needs MessageSid and MessageStatus",
                      pointer="/MessageSid" if not sid else "/MessageStatus")
    await store(request, [InboxRow("twilio", "status", f"twilio:{sid}:{status}",
                                   json.dumps(form, ensure_ascii=False))])
    return Response(status_code=204)


async def meta_verify(request: Request) -> Response:
    query = request.query_params
    wanted = _config(request).get("meta_verify")
    given = query.get("hub.verify_token")
    if query.get("hub.mode") == "subscribe" and wanted and given is not None and \
            hmac.compare_digest(given.encode(), wanted.encode()):
        return PlainTextResponse(query.get("hub.challenge", ""))
    refuse_unsigned(request, "Meta verification with a wrong or missing verify token")
    raise Refused(403, "the verify token is not this receiver's", hint="copy it from Settings → Receiver")


async def meta_hook(request: Request) -> Response:
    body = await read_body(request, MAX_BODY)
    secret = _config(request).get(META_APP_SECRET)
    if not secret or not meta_valid(secret, body, request.headers.get("x-hub-signature-256")):
        refuse_unsigned(request, "no Meta app secret is set" if not secret else "X-Hub-Signature-256 missing or wrong")
        raise Refused(401, "the request is not signed with this app's secret")
    data = json_of(body)
    entries = data.get("entry") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise Refused(400, "'entry' must be a JSON array", pointer="/entry")
    rows = []
    for i, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for j, change in enumerate(changes if isinstance(changes, list) else []):
            value = change.get("value") if isinstance(change, dict) else None
            statuses = value.get("statuses") if isinstance(value, dict) else None
            for k, status in enumerate(statuses if isinstance(statuses, list) else []):
                if not isinstance(status, dict) or not isinstance(status.get("id"), str) \
                        or not isinstance(status.get("status"), str):
                    raise Refused(400, "a status needs its message 'id' and 'status' as text",
                                  pointer=f"/entry/{i}/changes/{j}/value/statuses/{k}")
                rows.append(InboxRow("meta", "status", f"meta:{status['id']}:{status['status']}",
                                     json.dumps(status, ensure_ascii=False)))
            # A reply (`messages[]`): kept for its opt-out, if it is one (app/intake/providers.py).
            replies = value.get("messages") if isinstance(value, dict) else None
            for k, reply in enumerate(replies if isinstance(replies, list) else []):
                if not isinstance(reply, dict) or not isinstance(reply.get("id"), str) \
                        or not isinstance(reply.get("from"), str):
                    raise Refused(400, "a message needs its 'id' and its sender 'from' as text",
                                  pointer=f"/entry/{i}/changes/{j}/value/messages/{k}")
                rows.append(InboxRow("meta", "message", f"meta:{reply['id']}:received",
                                     json.dumps(reply, ensure_ascii=False)))
    await store(request, rows)
    return JSONResponse({"success": True})


def _message_key(request: Request, token: str, secret_key: str) -> str | None:
    db: Engine = request.app.state.db
    with db.connect() as conn:
        stored = get_setting(conn, secret_key)
    if not stored:
        return None
    try:
        secret = bytes.fromhex(stored)
    except ValueError:
        return None
    return read_token(token, secret) if secret_key == KEY_SETTING else tracking.read_token(token, secret)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width"><title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;
margin:4rem auto;padding:0 1rem;color:#222}}button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head>
<body><h1>{title}</h1><p>{text}</p>{form}</body></html>"""


async def unsubscribe(request: Request) -> Response:
    token = request.path_params["token"]
    key = _message_key(request, token, KEY_SETTING)
    if key is None:
        return HTMLResponse(_PAGE.format(title="This link is not valid", text="The unsubscribe link is incomplete "
                                         "or was changed. Reply to the email and ask to be removed.", form=""),
                            status_code=404)
    if request.method == "GET":
        form = f'<form method="post" action="/u/{escape(token)}"><button type="submit">Unsubscribe</button></form>'
        return HTMLResponse(_PAGE.format(title="Unsubscribe?", text="You will get no more of these emails.", form=form))
    await read_body(request, 10_000)       # RFC 8058: "List-Unsubscribe=One-Click", or the page's empty form
    # Keyed with its time: every use counts (a contact who signed up again may use the old link again);
    # a repeated opt-out changes nothing and the message is stamped once, so a retried POST is harmless.
    at = _now()
    await store(request, [InboxRow("link", "unsubscribe", f"link:unsubscribe:{key}:{at}",
                                   json.dumps({"kind": "unsubscribe", "key": key, "at": at}))])
    return HTMLResponse(_PAGE.format(title="You are unsubscribed", text="You will get no more of these emails.",
                                     form=""))


async def click(request: Request) -> Response:
    token = request.path_params["token"]
    target, signature = request.query_params.get("u", ""), request.query_params.get("s", "")
    key = _message_key(request, token, tracking.SECRET_KEY)
    db: Engine = request.app.state.db
    with db.connect() as conn:
        stored = get_setting(conn, tracking.SECRET_KEY)
    if key is None or not stored or not tracking.verify_click(token, target, signature, bytes.fromhex(stored)):
        raise Refused(400, "this link is not one this app wrote (its signature does not match)")
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:24]
    await store(request, [InboxRow("link", "click", f"link:click:{key}:{digest}",
                                   json.dumps({"kind": "click", "key": key, "url": target, "at": _now()}))])
    return RedirectResponse(target, status_code=302)


async def open_pixel(request: Request) -> Response:
    token = request.path_params["token"]
    key = _message_key(request, token, tracking.SECRET_KEY)
    if key is not None:
        await store(request, [InboxRow("link", "open", f"link:open:{key}",
                                       json.dumps({"kind": "open", "key": key, "at": _now()}))])
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})
