"""What an incoming mail in the sender's mailbox is: a bounce, a reply, an auto-reply, an unsubscribe
request, or something else. Pure: bytes in, a verdict out (the mailbox poller matches it to messages).

Decided in this order, first match wins:

1. **Bounce** (app/delivery/dsn.py): `failed` when a recipient's delivery failed for good, `delayed`
   when it is only late (a warning, not a failure: nothing is recorded), `bounce` when a mailer
   daemon's mail does not say clearly (nothing is recorded either).
2. **Unsubscribe request**: a mail to the unsubscribe address (the `mailto:` of `List-Unsubscribe`,
   `EmailSettings.unsubscribe_address`, also with a `+tag`), or one whose subject is
   "unsubscribe TOKEN". When the unsubscribe address is also the shop's own From or Reply-To
   address, only a subject starting with "unsubscribe" counts, so an ordinary reply is not taken
   for an opt-out. An out-of-office answer sent to it is not a request.
3. **Auto-reply** (RFC 3834 `Auto-Submitted` other than `no`; `X-Autoreply`, `X-Autorespond`,
   `Precedence: auto_reply/bulk/junk/list`, Exchange's `X-Auto-Response-Suppress` with an
   "Automatic reply" subject, or an out-of-office subject): not a reply.
4. **Reply**: `In-Reply-To` or `References` name Message-IDs (the poller checks they are ours).

A mail whose MIME structure is broken is read as far as it goes (Python's `email` parser keeps
going and notes defects); it never raises here.
"""
from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.header import Header, decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr
from typing import Iterable

from .dsn import message_ids, read_bounce, readable

FAILED, DELAYED, BOUNCE, UNSUBSCRIBE, AUTO_REPLY, REPLY, OTHER = (
    "failed", "delayed", "bounce", "unsubscribe", "auto_reply", "reply", "other")

_RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")
_UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*(?:(?:re|aw|fwd?)\s*:\s*)*unsubscribe\b\s*(\S*)", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*[\[(]?\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response|responder)|auto:"
    r"|abwesenheit|automatische antwort|absence|réponse automatique|respuesta automática|resposta automática"
    r"|risposta automatica|automatisch antwoord|afwezig|autosvar|automaattinen vastaus|fuori sede"
    r"|on vacation|away from|自動応答|自动回复)", re.I)
_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk", "list"})


@dataclass(frozen=True)
class Incoming:
    """One incoming mail as the poller needs it.

    `kind`: one of FAILED, DELAYED, BOUNCE, UNSUBSCRIBE, AUTO_REPLY, REPLY, OTHER (see the module's
    docstring). `message_id`: the mail's own Message-ID without brackets ("" when it has none).
    `refers_to`: Message-IDs of the messages it may be about, most specific first (a bounce's
    returned message; a reply's In-Reply-To, then References newest first). `sender`: its From
    address, lower case. `token`: the unsubscribe token from the subject, if any (of a bounce: from
    the returned message's List-Unsubscribe, naming our message where the Message-ID was replaced). `code`, `error`:
    a failure's RFC 3463 status ("5.1.1") and the remote server's words."""

    kind: str
    message_id: str
    refers_to: tuple[str, ...] = ()
    sender: str = ""
    token: str = ""
    code: str = ""
    error: str = ""
    recipient: str = ""


def header(mail: Message, name: str) -> str:
    """A header's value decoded for reading (RFC 2047 words; unknown charsets kept as written), "" when
    absent. Never raises on a malformed header."""
    value = mail.get(name)
    if value is None:
        return ""
    return _decoded(value)


def _raw_text(value: object) -> str:
    """A header value as written, raw UTF-8 (RFC 6532) read as such; encoded words left as they are."""
    if isinstance(value, Header):
        # compat32 wraps a header with raw 8-bit bytes (UTF-8 written as it is, RFC 6532) in a Header of
        # charset "unknown-8bit", whose str() is replacement characters: read its bytes as UTF-8.
        value = "".join(part.decode("utf-8", "replace") if isinstance(part, bytes) else part
                        for part, _ in decode_header(value))
    return readable(value)


def _decoded(value: object) -> str:
    """One header value as text (see `header`)."""
    text = _raw_text(value)
    if "=?" not in text:
        return text     # no encoded words: as it is (raw UTF-8, RFC 6532, would be spoilt by decode_header)
    try:
        return readable(str(make_header(decode_header(text))))
    except (LookupError, ValueError, UnicodeError, AssertionError, TypeError):
        return text


def _addresses(mail: Message, names: Iterable[str]) -> list[str]:
    # Not decoded: an encoded word in a display name must not turn into another address.
    values = [_raw_text(v) for name in names for v in (mail.get_all(name) or [])]
    return [a.lower() for _, a in getaddresses(values) if a]


def _same_mailbox(address: str, wanted: str) -> bool:
    """`address` is `wanted` (case-insensitive), also with a `+tag` after its local part."""
    local, _, domain = address.rpartition("@")
    w_local, _, w_domain = wanted.rpartition("@")
    return _ascii_domain(domain) == _ascii_domain(w_domain) and (local == w_local or local.startswith(w_local + "+"))


def _ascii_domain(domain: str) -> str:
    """An international domain in its xn-- form (the app writes the mailto: link so), else as it is."""
    if domain.isascii():
        return domain.lower()
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.lower()


def _is_auto_reply(mail: Message, subject: str) -> bool:
    submitted = header(mail, "Auto-Submitted").strip().lower()
    if submitted and not submitted.startswith("no"):
        return True
    if any(mail.get(name) is not None for name in ("X-Autoreply", "X-Autorespond", "X-Autogenerated",
                                                     "X-Auto-Generated", "X-AutoReply-From", "X-Mail-Autoreply")):
        return True
    if "autoresponder" in header(mail, "X-POST-MessageClass").lower() + header(mail, "Delivered-To").lower():
        return True
    if header(mail, "Precedence").strip().lower() in _AUTO_PRECEDENCE:
        return True
    return bool(_AUTO_SUBJECT.search(subject))


def _reply_ids(mail: Message) -> tuple[str, ...]:
    """In-Reply-To first, then References newest (last) first."""
    ids = message_ids(header(mail, "In-Reply-To")) + list(reversed(message_ids(header(mail, "References"))))
    return tuple(dict.fromkeys(ids))


def parse(raw: bytes) -> Message:
    """The mail in `raw` (RFC 5322 bytes), parsed leniently (compat32: a broken header never raises)."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def classify(raw: bytes, *, unsubscribe_address: str = "", own_addresses: Iterable[str] = ()) -> Incoming:
    """What the mail in `raw` is (see the module's docstring).

    `unsubscribe_address`: the List-Unsubscribe mailto: address ("" when none is set);
    `own_addresses`: the shop's From and Reply-To addresses."""
    mail = parse(raw)
    own_ids = message_ids(header(mail, "Message-ID"))
    mid = own_ids[0] if own_ids else ""
    subject = " ".join(header(mail, "Subject").split())
    sender = parseaddr(header(mail, "From"))[1].lower()
    if any(ord(c) < 32 or c == "\x7f" for c in sender) or len(sender) > 320:
        sender = ""            # not an address any contact can have (and NUL no database stores)
    try:
        bounce = read_bounce(mail)
    except Exception:     # noqa: BLE001 - a mail too broken to read as a bounce is still read as a mail
        bounce = None
    if bounce is not None:
        failure = bounce.failure
        if failure is not None:
            return Incoming(FAILED, mid, bounce.original_ids, sender, token=bounce.token, code=failure.status,
                            error=failure.diagnostic, recipient=failure.recipient)
        return Incoming(DELAYED if bounce.delayed else BOUNCE, mid, bounce.original_ids, sender, token=bounce.token)

    if mail.get_content_type() == "multipart/report":
        # A read receipt (RFC 8098 disposition-notification) or a spam-complaint report (RFC 5965), often
        # with References naming our message: a machine's report, never a customer's reply.
        return Incoming(OTHER, mid, (), sender)
    wanted = unsubscribe_address.strip().lower()
    wanted = parseaddr(wanted)[1] or wanted
    own = {parseaddr(a)[1].lower() for a in own_addresses if a}
    asked = _UNSUBSCRIBE_SUBJECT.match(subject)
    auto = _is_auto_reply(mail, subject)
    to_unsubscribe = bool(wanted) and any(_same_mailbox(a, wanted) for a in _addresses(mail, _RECIPIENT_HEADERS))
    if to_unsubscribe and wanted in own and not asked:
        to_unsubscribe = False           # the shop's own address: only "unsubscribe …" is a request
    token = asked.group(1).strip("<>\"'") if asked else ""
    if (to_unsubscribe or (asked and token)) and not (auto and not asked):
        return Incoming(UNSUBSCRIBE, mid, _reply_ids(mail), sender, token=token)
    if auto:
        return Incoming(AUTO_REPLY, mid, _reply_ids(mail), sender)
    refers = _reply_ids(mail)
    if refers:
        return Incoming(REPLY, mid, refers, sender)
    return Incoming(OTHER, mid, (), sender)
