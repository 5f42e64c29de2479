"""What every endpoint shares: refusals as clear JSON 4xx, the body read within its size and time
limits, the token check, and storing rows before answering."""
from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from app.journey.jsonvalues import JsonFault, parse

from .inbox import Inbox, InboxRow

log = logging.getLogger("app.intake")

BODY_SECONDS = 15.0
"""A body must arrive within this (slow clients, slowloris): a request still sending is answered 408."""


class Refused(Exception):
    """A request the receiver does not take: its status, what is wrong (with the JSON pointer when
    about a field) and what to do."""

    def __init__(self, status: int, error: str, *, pointer: str | None = None, hint: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.pointer, self.hint, self.headers = status, error, pointer, hint, headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"success": False, "error": self.error}
        if self.pointer is not None:
            body["pointer"] = self.pointer
        if self.hint:
            body["hint"] = self.hint
        return JSONResponse(body, status_code=self.status, headers=self.headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 past `limit` bytes (by Content-Length before reading, else while
    reading) and with 408 when it does not arrive within BODY_SECONDS."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"the body is {int(declared):,} bytes; this endpoint takes at most {limit:,}",
                      hint="send fewer events per request")
    chunks: list[bytes] = []
    size = 0

    async def gather() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"the body is over {limit:,} bytes, the most this endpoint takes",
                              hint="send fewer events per request")
            chunks.append(chunk)

    try:
        async with asyncio.timeout(BODY_SECONDS):       # no task of its own (wait_for makes one per request)
            await gather()
    except TimeoutError:
        raise Refused(408, f"the body did not arrive within {BODY_SECONDS:g} seconds") from None
    except ClientDisconnect:
        raise Refused(400, "the client went away before sending the whole body") from None
    return b"".join(chunks)


def json_of(body: bytes) -> Any:
    """The body as JSON data, refused with 400 (naming where) when it is not JSON the store keeps."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"the body is not UTF-8 text (byte {exc.start})", hint="send JSON encoded as UTF-8") from None
    if not text.strip():
        raise Refused(400, "the body is empty; send a JSON object")
    try:
        return parse(text)
    except JsonFault as exc:
        raise Refused(400, f"the body {exc.message}" if not exc.pointer else exc.message,
                      pointer=exc.pointer or "", hint="send one valid JSON object") from None


def require_token(request: Request, token_is: Callable[[str], bool], *, basic: bool = False) -> None:
    """The receiver's token as `Authorization: Bearer TOKEN`, `?token=TOKEN`, or (with `basic`, Segment's
    way) as the basic-auth user name (the `writeKey`), as `token_is` (app/intake/config.py Config.token_is)
    judges it; 401 otherwise, logged."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    given = None
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic" and basic:
        try:
            given = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            given = None
    given = given if given is not None else request.query_params.get("token")
    if given is None or not token_is(given):
        refuse_unsigned(request, "no valid receiver token" if given is None else "a wrong receiver token")
        raise Refused(401, "this endpoint needs the receiver's token", headers={"WWW-Authenticate": 'Basic realm="journeys"'}
                      if basic else {"WWW-Authenticate": "Bearer"},
                      hint="Settings → Receiver shows it; Segment-compatible tools send it as the write key")


def refuse_unsigned(request: Request, why: str) -> None:
    """Logs a request refused for its credentials (what, from where), never the credentials themselves."""
    client = request.client.host if request.client else "?"
    log.warning("refused %s %s from %s: %s", request.method, request.url.path, client, why)


async def store(request: Request, rows: list[InboxRow]) -> None:
    """Commits `rows` to the inbox (with every other request waiting at this moment) before the
    caller answers; a database failure is a 503 (the sender retries; nothing was taken)."""
    if not rows:
        return
    inbox: Inbox = request.app.state.inbox
    try:
        await inbox.stored(rows)
    except Exception as exc:  # noqa: BLE001 - the sender is told to retry; the cause is in the log
        raise Refused(503, f"the request could not be stored ({type(exc).__name__}); nothing was taken",
                      hint="retry later", headers={"Retry-After": "5"}) from None
