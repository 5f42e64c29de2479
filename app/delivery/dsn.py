"""Bounces: what a delivery-status notification says about the message it returns.

Two kinds are read:

- **Standard DSNs** (RFC 3464, "An Extensible Message Format for Delivery Status Notifications"):
  a `multipart/report; report-type=delivery-status` whose `message/delivery-status` part holds one
  block of per-message fields and one block per recipient (`Final-Recipient`, `Action`, `Status`,
  `Diagnostic-Code`); the returned message, or only its headers, follows as `message/rfc822` or
  `text/rfc822-headers` (RFC 6533's `message/global-delivery-status` and `message/global-headers`
  likewise). Gmail, Outlook/Microsoft 365, Postfix, Exim 4, Amazon SES and most others send these.
- **Older plain-text bounces** (qmail's "I'm afraid I wasn't able to deliver", Exim 3's "Mail
  delivery failed", Sendmail/Postfix without a report part): recognised only when the mail comes
  from a mailer daemon (`MAILER-DAEMON`, `postmaster`, an empty Return-Path) or says so in its
  subject, and only when the returned message's Message-ID can be found in it. Such a bounce is a
  failure only when it says so plainly: an enhanced status code of class 5 (RFC 3463), an SMTP reply
  code 5xx, or "permanent error"; one that says "delayed", "temporary" or class 4 is a delay.

The original message is named by the Message-ID of the returned message (or its headers), else
the `Original-Message-ID` / `X-Original-Message-ID` field some servers add. Message-IDs are compared
without their angle brackets (`message_ids`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

_ID = re.compile(r"<([^<>\s\x00-\x1f\x7f]+)>")     # no control characters: a database refuses NUL
_DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "maildaemon", "mailerdaemon"})
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|failed|has failed|problem|incomplete)"
    r"|returned mail|mail delivery (failed|system|subsystem)|failure notice|non[- ]?delivery"
    r"|could not be delivered|delivery notification", re.I)
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_CODE = re.compile(r"(?:^|[\s:;(])([245]\d\d)(?=[\s-])", re.M)
_PERMANENT_WORDS = re.compile(r"permanent (error|failure)|i've given up|not be delivered|user unknown"
                              r"|no such (user|mailbox)|does not exist|address rejected", re.I)
_DELAY_WORDS = re.compile(r"temporar|delayed|delay|will (keep|continue) (on )?(trying|retrying)|still trying"
                          r"|has not yet been delivered|will retry", re.I)
_QUOTED_ID = re.compile(r"^[ \t>]*(?:X-Original-)?Message-ID:[ \t]*(<[^<>\s]+>)", re.I | re.M)
_DIAGNOSTIC_LINE = 300       # characters of a diagnostic kept (what the user reads)


def readable(value: object) -> str:
    """`value` as text fit to store: the parser keeps undeclared 8-bit bytes (UTF-8 written into a
    header, RFC 6532) as lone surrogates, which no database accepts; they are decoded as UTF-8 here
    (what cannot be is replaced), and NUL characters are dropped."""
    text = "" if value is None else str(value)
    if any("\udc80" <= c <= "\udcff" for c in text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = text.encode("utf-8", "replace").decode("utf-8")       # any other lone surrogate: replaced
    return text.replace("\x00", "")                              # nor does any database store NUL


def message_ids(value: object) -> list[str]:
    """The Message-IDs in a header value (`<a@b> <c@d>` as in References, In-Reply-To), without their
    angle brackets, in order; a lone id without brackets is taken as it is."""
    value = readable(value)
    found = _ID.findall(value)
    bare = value.strip()
    if not found and bare and "@" in bare and not any(c.isspace() or ord(c) < 32 or c in "<>\x7f" for c in bare):
        found = [bare]
    return [i for i in found if len(i) <= 998]       # RFC 5322's line limit: longer is no Message-ID


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient's fate in a DSN: `action` (failed, delayed, delivered, relayed, expanded),
    `status` (RFC 3463 enhanced code, "5.1.1"), `diagnostic` (the remote server's words, type
    stripped: "550 5.1.1 user unknown")."""

    recipient: str
    action: str
    status: str
    diagnostic: str


@dataclass(frozen=True)
class Bounce:
    """What a bounce says: whether it is an RFC 3464 report (`standard`), each recipient's status,
    and the Message-IDs naming the returned (original) message."""

    standard: bool
    recipients: tuple[RecipientStatus, ...]
    original_ids: tuple[str, ...]
    token: str = ""         # the unsubscribe token in the returned message's List-Unsubscribe, if any

    @property
    def failure(self) -> RecipientStatus | None:
        """The first recipient whose delivery failed for good, if any."""
        return next((r for r in self.recipients if r.action == "failed"), None)

    @property
    def delayed(self) -> bool:
        return self.failure is None and any(r.action == "delayed" for r in self.recipients)


def _strip_type(value: str) -> str:
    """`rfc822; bob@example.org` → `bob@example.org`; `smtp; 550 …` → `550 …` (RFC 3464 typed fields)."""
    kind, sep, rest = value.partition(";")
    return " ".join((rest if sep and " " not in kind.strip() else value).split())


def _status_blocks(part: Message) -> list[Message]:
    """The blocks of fields of a delivery-status part (Python's parser makes one sub-message per block
    of `message/delivery-status`; the RFC 6533 global variant arrives as text)."""
    payload = part.get_payload()
    if isinstance(payload, list) and part.get_content_type() == "message/delivery-status":
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, list):      # message/global-delivery-status: parsed as one message, blocks in its body
        text = b"".join(p.as_bytes() for p in payload if isinstance(p, Message)).decode("utf-8", "replace")
    else:
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload or "")
    blocks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    return [HeaderParser().parsestr(block + "\n") for block in blocks if block.strip()]


def _parts(message: Message) -> list[Message]:
    """Every part of `message` (depth first), not descending into the fields of a delivery-status part
    nor into a returned message (whose own parts are not the bounce's)."""
    found = [message]
    if message.get_content_type() in ("message/delivery-status", "message/global-delivery-status",
                                      "message/rfc822", "message/global"):
        return found
    payload = message.get_payload()
    if message.is_multipart() and isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                found.extend(_parts(part))
    return found


def _returned_headers(part: Message) -> Message | None:
    """The headers of the returned message in a message/rfc822 or text/rfc822-headers part."""
    kind = part.get_content_type()
    if kind in ("message/rfc822", "message/global"):
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
    if kind in ("text/rfc822-headers", "message/global-headers"):
        payload = part.get_payload()
        if isinstance(payload, list):            # message/global-headers: parsed as a message already
            return payload[0] if payload and isinstance(payload[0], Message) else None
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())
        return HeaderParser().parsestr(text.lstrip())
    return None


def _text_of(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:           # a charset Python does not know: keep what can be read
        return raw.decode("latin-1")


def _original_ids(mail: Message, parts: list[Message], own: set[str]) -> list[str]:
    ids: list[str] = []
    for part in parts:
        headers = _returned_headers(part)
        if headers is not None:
            ids.extend(message_ids(headers.get("Message-ID")))
    for part in parts:       # per-message fields of a DSN may name it too
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            for block in _status_blocks(part):
                for name in ("Original-Message-ID", "X-Original-Message-ID"):
                    ids.extend(message_ids(block.get(name)))
    for name in ("Original-Message-ID", "X-Original-Message-ID"):
        ids.extend(message_ids(mail.get(name)))
    return [i for i in dict.fromkeys(ids) if i not in own]


_TOKEN_IN_LINK = re.compile(r"(?:subject=unsubscribe(?:%20|\+|\s)|/u/)([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", re.I)


def _returned_token(parts: list[Message]) -> str:
    """The unsubscribe token (app/delivery/unsubscribe.py) in the List-Unsubscribe header of the returned
    message: it names our message even where a provider replaced our Message-ID (Amazon SES does)."""
    for part in parts:
        headers = _returned_headers(part)
        if headers is not None:
            found = _TOKEN_IN_LINK.search(" ".join(readable(headers.get("List-Unsubscribe", "")).split()))
            if found:
                return found.group(1)
    return ""


def _from_daemon(mail: Message) -> bool:
    sender = parseaddr(str(mail.get("From", "")))[1].lower()
    local = sender.rpartition("@")[0] if "@" in sender else sender
    return_path = str(mail.get("Return-Path", "x")).strip()
    return local in _DAEMONS or return_path in ("<>", "") or bool(_BOUNCE_SUBJECT.search(str(mail.get("Subject", ""))))


def _standard(mail: Message, parts: list[Message], own: set[str]) -> Bounce | None:
    reports = [p for p in parts if p.get_content_type() in ("message/delivery-status",
                                                            "message/global-delivery-status")]
    if not reports:
        return None
    recipients = []
    for report in reports:
        for block in _status_blocks(report):       # the per-message block has no Action: passed over
            action = str(block.get("Action", "")).strip().lower().split(" ")[0]
            status = readable(block.get("Status", "")).strip().split(" ")[0]
            recipient = _strip_type(readable(block.get("Final-Recipient") or block.get("Original-Recipient") or ""))
            if not action and recipient and _ENHANCED.fullmatch(status):
                # Some gateways leave out the (required) Action: the Status class says it (RFC 3463:
                # 5 permanent failure, 4 persistent transient = still trying, 2 success).
                action = {"5": "failed", "4": "delayed"}.get(status[0], "")
            if not action:
                continue                  # the per-message block (no recipient), or a block saying nothing
            recipient = recipient.strip("<>")
            recipients.append(RecipientStatus(
                recipient=recipient, action=action, status=status[:32],
                diagnostic=_strip_type(readable(block.get("Diagnostic-Code", "")))[:_DIAGNOSTIC_LINE]))
    return Bounce(True, tuple(recipients), tuple(_original_ids(mail, parts, own)), _returned_token(parts))


def _plain(mail: Message, parts: list[Message], own: set[str]) -> Bounce | None:
    """An older plain-text bounce (see the module's docstring), or None when it is not clearly one."""
    if not _from_daemon(mail):
        return None
    texts = [_text_of(p) for p in parts if p.get_content_type() == "text/plain"]
    text = "\n".join(texts)
    ids = _original_ids(mail, parts, own)
    ids += [i for m in _QUOTED_ID.findall(text) for i in message_ids(m) if i not in own and i not in ids]
    token = _returned_token(parts)
    if not ids and not token:
        return None
    # Judge by the bounce's own words, not by the returned copy below them.
    words = re.split(r"^-{2,}.*(copy of|original message|returned message|below this line|undelivered message)",
                     text, maxsplit=1, flags=re.I | re.M)[0]
    enhanced = _ENHANCED.search(words)
    smtp = _SMTP_CODE.search(words)
    status = ".".join(enhanced.groups()) if enhanced else ""
    klass = status[:1] or (smtp.group(1)[:1] if smtp else "")
    line = ""
    for found in (enhanced, smtp):
        if found is not None:
            start = words.rfind("\n", 0, found.start()) + 1
            end = words.find("\n", found.end())
            line = " ".join(words[start:end if end >= 0 else None].split())
            break
    if klass == "5" or (not klass and _PERMANENT_WORDS.search(words)):
        action = "failed"
    elif klass == "4" or _DELAY_WORDS.search(words):
        action = "delayed"
    else:
        return Bounce(False, (), tuple(ids), token)      # a daemon's mail that does not say: not a failure
    recipient = next((a for _, a in getaddresses(re.findall(r"<([^<>@\s]+@[^<>\s]+)>", words)) if a), "")
    return Bounce(False, (RecipientStatus(recipient, action, status or (smtp.group(1) if smtp else ""),
                                          line[:_DIAGNOSTIC_LINE]),), tuple(ids), token)


def read_bounce(mail: Message) -> Bounce | None:
    """The bounce `mail` is (see the module's docstring), or None when it is not one.

    A standard DSN is read whatever its sender; a plain-text one only when it comes from a mailer
    daemon and names the returned message's Message-ID. Never raises on a malformed mail: what
    cannot be read is left out."""
    parts = _parts(mail)
    own = set(message_ids(mail.get("Message-ID")))
    kind = mail.get_content_type()
    report_type = str(mail.get_param("report-type", "") or "").lower()
    if kind == "multipart/report" and report_type not in ("", "delivery-status", "global-delivery-status"):
        return None              # a disposition (read receipt) or feedback report, not a bounce
    return _standard(mail, parts, own) or _plain(mail, parts, own)
