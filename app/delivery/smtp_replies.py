"""What an SMTP server's replies mean for a message (RFC 5321 section 4.2.1: 4yz transient, 5yz
permanent), with the exceptions where a reply is about the session, the sender or the account rather
than the message (those make every message wait: `NotConfigured`), and the Message-ID Amazon SES gives
a message in its reply. Used by app/delivery/smtp.py."""
from __future__ import annotations

import re

from .base import DeliveryFailure, NotConfigured, Permanent, Transient


def reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:500]


def by_code(code: int, text: str, during: str) -> DeliveryFailure:
    """The failure an SMTP reply code means (RFC 5321 section 4.2.1: 4yz transient, 5yz permanent)."""
    said = f"the server answered {during} with {code} {text}".strip()
    if code == 535 or code == 534 or code == 530:
        return NotConfigured(f"{said}; check the user name and password in Settings → Channels → Email",
                             code=str(code))
    if 400 <= code < 500:
        return Transient(said, code=str(code))
    if code >= 500:
        return Permanent(said, code=str(code))
    return Transient(f"the server gave the unexpected reply {code} {text} {during}", code=str(code))


class Refused(NotConfigured):
    """The server refused the connection itself (its greeting, EHLO or STARTTLS) with a 5xx reply: no
    message can go until that is resolved, so none fails for it (they wait, like for a wrong password).
    `stage` is where "Test connection" shows it: "connect" or "tls"."""

    def __init__(self, text: str, *, code: str, stage: str) -> None:
        super().__init__(text, code=code)
        self.stage = stage


def connection_refused(code: int, text: str, during: str, where: str, stage: str = "connect") -> DeliveryFailure:
    """A reply refusing the session rather than a message: 4xx is transient (try later); 5xx and anything
    unexpected concerns every message alike (RFC 5321 section 3.1: a 554 greeting means "no service here
    for you"; a blocked address, a wrong port), so the messages wait instead of failing one by one."""
    if 400 <= code < 500:
        return by_code(code, text, during)
    return Refused(f"the mail server {where} refused the connection at {during} with {code} {text}; no message "
                   "can go until this is resolved: check the host and port, or ask the provider (this computer's "
                   "address may be blocked)", code=str(code), stage=stage)


_SENDER_REFUSED = re.compile(
    r"\bnot verified|sendasdenied|\b5\.7\.60\b|\b5\.2\.252\b|not allowed to send as"
    r"|not owned by (the )?user|sender (address )?(is )?not (allowed|authori[sz]ed|permitted)"
    r"|sending (is )?(paused|suspended|disabled)|account (is |has been )?(suspended|disabled|blocked)", re.I)


def sender_refused(code: int, text: str, sender: str) -> NotConfigured | None:
    """A 5xx refusing the *sender* or the sending account rather than this message (Amazon SES "554
    Message rejected: Email address is not verified" or "Sending suspended for this account", Microsoft
    365 "5.7.60 SendAsDenied", Postfix "Sender address rejected: not owned by user"): every message
    would be refused alike, so none fails for it — they wait until the sender or account is put right.
    None for any other reply."""
    lower = text.lower()
    if code < 500 or not _SENDER_REFUSED.search(text):
        return None
    if "recipient" in lower and "identit" not in lower:
        return None             # the recipient's address (Postfix "Recipient address not verified")
    return NotConfigured(f"the mail server refuses the sender {sender} or the account ({code} {text}); verify "
                         "the address or "
                         "its domain with the provider (Amazon SES: a verified identity, and production access "
                         "to send to anyone; Microsoft 365: the mailbox or one it may send as), or choose "
                         "another sender; the messages wait", code=str(code))


_SES_HOST = re.compile(r"^email-smtp(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$", re.I)
_SES_ID = re.compile(r"^(?:ok\s+)?([0-9a-f]{16}-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}-[0-9a-f]{6})$", re.I)


def ses_message_id(host: str, answer: str) -> str | None:
    """The Message-ID Amazon SES gave the message, which replaces ours ("If you provide a Message-ID
    header, Amazon SES overrides it with its own value", SES developer guide, "Header fields"): bounces
    and replies name that one. SES says its id in the reply to the data ("250 Ok <id>"); the header is
    ``<id@email.amazonses.com>`` in us-east-1, ``<id@REGION.amazonses.com>`` elsewhere. None for any
    other server, or a reply without an id."""
    where, said = _SES_HOST.match(host.strip()), _SES_ID.match(answer.strip())
    if not where or not said:
        return None
    region = where.group(1).lower()
    domain = "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
    return f"<{said.group(1).lower()}@{domain}>"
