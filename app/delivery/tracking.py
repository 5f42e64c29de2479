"""Open and click tracking for email: links through the public URL, a 1×1 open pixel.

Only when a public URL is configured (`DeliverySettings.public_url`, where the receiver is
reachable from the recipients' mail programs) and the journey's "Track opens and clicks" setting is
on (off by default). Applied when the engine queues the message (app/engine/sending.py), so the
outbox row holds exactly the HTML that was sent.

- Every `<a href>` / `<area href>` to an `http(s)` address becomes
  `PUBLIC_URL/c/TOKEN?u=<the address, percent-encoded>&s=<signature>`. The signature is an HMAC
  (SHA-256, truncated to 128 bits) of the token and the address under the installation's tracking
  secret, so the receiver redirects only to addresses this app wrote into a message: it cannot be
  used as an open redirect by someone who makes up a link.
- Left alone: `mailto:`, `tel:`, anchors and relative links, links to the public URL itself (the
  unsubscribe page and the receiver's other pages), any link whose address mentions "unsubscribe"
  (a third-party preference page: an unsubscribe link must work even when the receiver does not,
  and must never be counted as interest), links marked `data-no-track`, and the addresses in `keep`.
- `<img src="PUBLIC_URL/o/TOKEN" width="1" height="1" alt="">` goes before `</body>` (or at the end).

TOKEN names the message by its idempotency key (known before the outbox row has an id):
`base64url(key).base64url(HMAC(key))`, read back with `read_token`.

The HTML is edited in place — only the rewritten `href` values change, everything else stays byte
for byte — with the standard library's HTML tokenizer finding the tags (so links inside comments,
scripts or attribute values are not taken for links).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from html import escape
from html.parser import HTMLParser
from typing import Iterable
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.store.sql import insert_or_ignore
from app.store.tables import app_settings

SECRET_KEY = "tracking_secret"
"""app_settings key of the installation's tracking secret (64 hex digits, made on first use)."""
_SIGNATURE_BYTES = 16


def tracking_secret(conn: Connection) -> bytes:
    """The installation's tracking secret, created (in the caller's transaction) when there is none.
    Shared by every process on the database: the receiver checks what the engine signed."""
    query = select(app_settings.c.value).where(app_settings.c.key == SECRET_KEY)
    value = conn.execute(query).scalar()
    if not value:
        conn.execute(insert_or_ignore(app_settings, conn.dialect.name, ["key"]),
                     [{"key": SECRET_KEY, "value": secrets.token_hex(32)}])
        value = conn.execute(query).scalar()      # another writer's, if it was first
    return bytes.fromhex(str(value))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, *parts: str) -> str:
    digest = hmac.new(secret, "\x00".join(parts).encode("utf-8"), hashlib.sha256).digest()
    return _b64(digest[:_SIGNATURE_BYTES])


def make_token(key: str, secret: bytes) -> str:
    """The token naming the message whose idempotency key is `key` (URL-safe, no padding)."""
    return f"{_b64(key.encode('utf-8'))}.{_mac(secret, 'token', key)}"


def read_token(token: str, secret: bytes) -> str | None:
    """The idempotency key a token names, or None when it was not made with `secret` (forged, cut)."""
    encoded, _, signature = token.partition(".")
    try:
        key = _unb64(encoded).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return key if hmac.compare_digest(signature, _mac(secret, "token", key)) else None


def click_signature(token: str, target: str, secret: bytes) -> str:
    """The `s` parameter of a click link: binds the target address to the token."""
    return _mac(secret, "click", token, target)


def click_url(public_url: str, token: str, target: str, secret: bytes) -> str:
    """`PUBLIC_URL/c/TOKEN?u=TARGET&s=SIGNATURE` (TARGET percent-encoded whole, query string included)."""
    return (f"{public_url.rstrip('/')}/c/{token}?u={quote(target, safe='')}"
            f"&s={click_signature(token, target, secret)}")


def verify_click(token: str, target: str, signature: str, secret: bytes) -> bool:
    """Whether a click link's target is one this app signed for this token (the receiver redirects
    only then; anything else is an attempt to use it as an open redirect)."""
    return read_token(token, secret) is not None and hmac.compare_digest(
        signature, click_signature(token, target, secret))


def open_url(public_url: str, token: str) -> str:
    """`PUBLIC_URL/o/TOKEN`: the open pixel's address."""
    return f"{public_url.rstrip('/')}/o/{token}"


def tracked(url: str, public_url: str, keep: Iterable[str] = ()) -> bool:
    """Whether a link to `url` is rewritten (see the module's docstring)."""
    address = url.strip()
    if urlsplit(address).scheme.lower() not in ("http", "https"):
        return False
    base = public_url.rstrip("/").lower()
    if base and (address.lower() == base or address.lower().startswith(base + "/")):
        return False
    if "unsubscribe" in address.lower():
        return False
    return address not in set(keep)


class _Links(HTMLParser):
    """Finds the start tags of links: (offset in the source, raw tag text, href value)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        # Line starts as the tokenizer counts lines: at "\n" only (never str.splitlines, which also
        # splits at U+2028 and friends).
        self.starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.found: list[tuple[int, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("a", "area"):
            return
        values = dict(attrs)
        href = values.get("href")
        if href is None or "data-no-track" in values:
            return
        line, column = self.getpos()
        raw = self.get_starttag_text() or ""
        self.found.append((self.starts[line - 1] + column, raw, href))

    handle_startendtag = handle_starttag


_ATTRIBUTE = re.compile(r"""(?P<name>[^\s/>"'=]+)(?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s"'>]+))?""")


def _replace_href(raw: str, new: str) -> str:
    """The start tag `raw` with its href attribute's value replaced by `new` (escaped, double-quoted)."""
    name = re.match(r"<\s*[^\s/>]+", raw)
    position = name.end() if name else 1
    while True:
        found = _ATTRIBUTE.search(raw, position)
        if found is None:
            return raw
        if found.group("name").lower() == "href" and found.group("value") is not None:
            start, end = found.span("value")
            return raw[:start] + '"' + escape(new, quote=True) + '"' + raw[end:]
        position = found.end()


def rewrite_links(html: str, public_url: str, token: str, secret: bytes, keep: Iterable[str] = ()) -> str:
    """`html` with every tracked link (see `tracked`) going through the click address."""
    kept = list(keep)
    parser = _Links(html)
    try:
        parser.feed(html)
        parser.close()
    except Exception:      # noqa: BLE001 - HTML the tokenizer gives up on is sent as written, untracked
        return html
    pieces: list[str] = []
    done = 0
    for offset, raw, href in parser.found:
        if html[offset:offset + len(raw)] != raw or offset < done or not tracked(href, public_url, kept):
            continue
        pieces += [html[done:offset], _replace_href(raw, click_url(public_url, token, href.strip(), secret))]
        done = offset + len(raw)
    return "".join(pieces) + html[done:]


_BODY_END = re.compile(r"</body\s*>", re.I)


def add_open_pixel(html: str, public_url: str, token: str) -> str:
    """`html` with the 1×1 open pixel before its last `</body>` (or at its end)."""
    pixel = (f'<img src="{escape(open_url(public_url, token), quote=True)}" width="1" height="1" alt="" '
             'style="display:block;width:1px;height:1px;border:0" />')
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + pixel
    at = ends[-1].start()
    return html[:at] + pixel + html[at:]


def track_html(html: str, *, public_url: str, key: str, secret: bytes, keep: Iterable[str] = ()) -> str:
    """The HTML body as sent with tracking: links rewritten and the open pixel added, for the message
    whose idempotency key is `key`. `html` unchanged when there is no public URL or no HTML."""
    if not public_url or not html.strip():
        return html
    token = make_token(key, secret)
    return add_open_pixel(rewrite_links(html, public_url, token, secret, keep), public_url, token)
