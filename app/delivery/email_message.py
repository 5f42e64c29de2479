"""An outbox message as an Internet message (RFC 5322, MIME RFC 2045-2049), built with the standard
library's `email` package — never by hand.

- `multipart/alternative` with a text/plain and a text/html part (RFC 2046 section 5.1.4: plain
  first, the richest last); the plain part is made from the HTML (`html_to_text`) when the step has
  none; only text/plain when there is no HTML.
- Non-ASCII display names and subjects are written as RFC 2047 encoded words by
  `email.headerregistry`; an IDN domain (``café.example``) is written in its ASCII form
  (``xn--caf-dma.example``, RFC 5890), which every server takes. A non-ASCII local part (``zoë@…``)
  needs SMTPUTF8 (RFC 6531): the message is then built for it, and `BuiltEmail.smtputf8` says so.
- `Message-ID` derives from the idempotency key (`message_id_for`): the same message sent again
  carries the same id, so a receiver (and the IMAP poller's bounce matching) recognises it.
- Line breaks in data (a name or subject carrying ``\\r\\nBcc: …``) become spaces before any header is
  made, and the `email` package refuses CR/LF in a header value besides; text shaped like an RFC 2047
  encoded word is kept as text (`header_text`), so it cannot decode into a line break either: no
  header injection.

Errors: `Permanent` for a message that can never go (an invalid recipient, a step's invalid From or
Reply-To); `NotConfigured` for settings that need fixing (no default sender, an invalid one).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy as email_policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .base import NotConfigured, Outgoing, Permanent
from .settings import EmailSettings

TEST_PREFIX = "[TEST] "
"""Put in front of a test send's subject."""

_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
# Headers the message builds itself: `Outgoing.headers` may add others (List-Unsubscribe, …), not these.
_OWN_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to", "sender",
                          "mime-version", "content-type", "content-transfer-encoding", "return-path"})


class _UrlListHeader(UnstructuredHeader, BaseHeader):
    """An RFC 2369 list header (``<mailto:…>, <https://…>``): folded after its commas, never turned into
    RFC 2047 encoded words (the `email` package does that to any word longer than a line, which would
    hide the URLs from every mail client)."""

    def fold(self, *, policy: Any) -> str:
        if not str(self).isascii():         # not a list of URLs (RFC 3986 URLs are ASCII): fold as text
            return str(super().fold(policy=policy))
        links = re.findall(r"<[^<>]*>", str(self)) or [str(self)]
        return f"{self.name}: " + ("," + policy.linesep + " ").join(links) + policy.linesep


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in ("list-unsubscribe", "list-help", "list-subscribe", "list-owner", "list-archive", "list-post"):
        registry.map_to_type(name, _UrlListHeader)
    return registry


POLICY = email_policy.SMTP.clone(header_factory=_registry())
"""The policy messages are built with: CRLF line ends, 78-character folding, RFC 2047 headers."""
POLICY_UTF8 = POLICY.clone(utf8=True)
"""For a message to a non-ASCII local part, sent with SMTPUTF8 (RFC 6532 headers)."""


@dataclass(frozen=True)
class BuiltEmail:
    """A message ready for SMTP: the MIME message, the envelope (MAIL FROM, RCPT TO, as ASCII as the
    addresses allow), its Message-ID, and whether it needs the server's SMTPUTF8."""

    message: EmailMessage
    envelope_from: str
    recipient: str
    message_id: str
    smtputf8: bool


@dataclass(frozen=True)
class Mailbox:
    """A checked address: its display name (one line), its address as sent, and its domain (ASCII)."""

    display_name: str
    address: str
    domain: str
    smtputf8: bool

    def header(self) -> Address:
        local, _, domain = self.address.rpartition("@")
        return Address(display_name=self.display_name, username=local, domain=domain)


def one_line(text: str) -> str:
    """`text` with every line break and control character turned into a space (runs of them into one)."""
    return _LINE_BREAKS.sub(" ", text).strip()


WORD_JOINER = "\u2060"


def header_text(text: str) -> str:
    """`text` as the words of a subject or display name: on one line (`one_line`), and with anything
    that looks like an RFC 2047 encoded word (``=?utf-8?b?…?=``) kept as text. The `email` package
    decodes such words when a header is set — ``=?utf-8?b?SGkNCkJjYzog…?=`` would become ``Hi``,
    a line break and a ``Bcc:`` header (CPython 3.11 writes it out as it stands) — and mail programs
    decode them when they show the header. An invisible WORD JOINER (U+2060) after the ``=`` stops both."""
    return one_line(text).replace("=?", "=" + WORD_JOINER + "?")


def parse_mailbox(text: str, what: str, failure: type[Permanent] | type[NotConfigured] = Permanent) -> Mailbox:
    """One mailbox from ``Name <address>`` or a bare address, checked with `email-validator`
    (syntax only, no DNS lookup). `what` names it in the error ("the recipient", "the sender (From)").

    Raises `failure` (Permanent by default) with a sentence naming the text and what is wrong."""
    raw = text.strip()
    if not raw:
        raise failure(f"{what} is empty")
    if _LINE_BREAKS.search(raw):
        raise failure(f"{what} {raw[:200]!r} contains a line break or control character")
    found = getaddresses([raw])
    if len(found) != 1 or not found[0][1]:
        raise failure(f"{what} {raw[:200]!r} is not one email address; write e.g. "
                      "hello@shop.example or Corner Shop <hello@shop.example>")
    name, address = found[0]
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise failure(f"{what} {raw[:200]!r} is not a valid email address: {exc}") from None
    ascii_domain = valid.ascii_domain or valid.domain
    if valid.ascii_email:       # an IDN domain goes out in its xn-- form, which every server takes
        return Mailbox(header_text(name), valid.ascii_email, ascii_domain, False)
    return Mailbox(header_text(name), f"{valid.local_part}@{ascii_domain}", ascii_domain, True)


def message_id_for(key: str, domain: str, salt: bytes | None = None) -> str:
    """The Message-ID (RFC 5322 section 3.6.4) of the message with idempotency key `key`, sent from
    `domain` (ASCII): ``<js.<40 hex digits>@domain>``, of SHA-256(key), or of HMAC-SHA256(salt, key)
    with the database's own secret `salt` (the unsubscribe signing key). The same key gives the same id;
    the key itself (run and step ids) is not disclosed to the recipient. The salt keeps ids unique
    between databases: keys are small run numbers and the journey file's step ids, so a shop that starts
    a new database with the same journey would otherwise repeat an old message's id, and mail services
    that drop repeats (Gmail) would silently hide the new message."""
    data = key.encode("utf-8")
    digest = (hmac.new(salt, data, hashlib.sha256) if salt else hashlib.sha256(data)).hexdigest()[:40]
    return f"<js.{digest}@{domain}>"


# -- the plain-text part -------------------------------------------------------------------------

def _link_start(state: Any, attrs: dict[str, Any]) -> None:
    href = str(attrs.get("href") or "").strip()
    # Anchors and scripts are no place a reader can go: only the text is kept.
    state.link_target = "" if href.startswith(("#", "javascript:")) else href


def _link_end(state: Any) -> None:
    if state.link_target:
        state.tags[-1].write(f" ({state.link_target})")
        state.link_target = ""


_SAME_LINK = re.compile(r"(?<![^\s(\[])(\S+) \((?:mailto:)?\1\)")


def html_to_text(html: str) -> str:
    """The plain-text rendering of an HTML body (inscriptis: layout kept — paragraphs, lists, tables),
    each link written as ``text (url)``, or as the bare URL when its text is the URL itself."""
    if not html.strip():
        return ""
    from inscriptis import get_text
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig
    from inscriptis.model.tag import CustomHtmlTagHandlerMapping

    config = ParserConfig(css=CSS_PROFILES["strict"], display_images=False,
                          custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(
                              start_tag_mapping={"a": _link_start}, end_tag_mapping={"a": _link_end}))
    # inscriptis runs inline text straight into a table that follows it ("Shop<table>…a…" → "Shopa"):
    # an empty block before each table ends the line first (and adds nothing where one was ended).
    html = re.sub(r"(?i)<table\b", "<div></div><table", html)
    try:
        text = get_text(html, config)
    except Exception:  # noqa: BLE001 - lxml refuses some inputs (a lone comment, bytes it cannot decode)
        text = re.sub(r"<[^>]*>", " ", html)
    lines = [line.rstrip() for line in _SAME_LINK.sub(r"\1", text).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


# -- the message -----------------------------------------------------------------------------------

def _sender(message: Outgoing, settings: EmailSettings) -> Mailbox:
    if message.sender and message.sender.strip():
        return parse_mailbox(message.sender, "the step's sender (From)")
    if not settings.sender.strip():
        raise NotConfigured("no sender is set: give the step a From, or set the default sender in "
                            "Settings → Channels → Email")
    return parse_mailbox(settings.sender, "the default sender (From) in Settings → Channels → Email", NotConfigured)


def _reply_to(message: Outgoing, settings: EmailSettings) -> Mailbox | None:
    if message.reply_to and message.reply_to.strip():
        return parse_mailbox(message.reply_to, "the message's Reply-To")
    if settings.reply_to.strip():
        return parse_mailbox(settings.reply_to, "the Reply-To in Settings → Channels → Email", NotConfigured)
    return None


def build_message(message: Outgoing, settings: EmailSettings, *, extra_headers: dict[str, str] | None = None,
                  now: datetime | None = None, id_salt: bytes | None = None) -> BuiltEmail:
    """The email for `message`: From (the step's sender, else `settings.sender`), To, optional
    Reply-To (the message's, else the settings'), Subject (``[TEST] `` in front for a test send), Date
    (`now`, default the current UTC time), Message-ID (`message_id_for` its idempotency key and the
    sender's domain, salted with `id_salt`), then `extra_headers` and `message.headers` (List-Unsubscribe, …; the message's
    win), then the body parts.

    Raises Permanent (invalid recipient, step sender or Reply-To) or NotConfigured (no or an invalid
    default sender or Reply-To in the settings), each naming the address and the fault."""
    recipient = parse_mailbox(message.recipient, "the recipient")
    sender = _sender(message, settings)
    reply_to = _reply_to(message, settings)
    smtputf8 = recipient.smtputf8 or sender.smtputf8 or bool(reply_to and reply_to.smtputf8)

    email = EmailMessage(policy=POLICY_UTF8 if smtputf8 else POLICY)
    email["From"] = sender.header()
    email["To"] = Address(username=recipient.address.rpartition("@")[0], domain=recipient.domain)
    if reply_to is not None:
        email["Reply-To"] = reply_to.header()
    subject = header_text(message.subject or "")
    if message.test and not subject.startswith(TEST_PREFIX.strip()):
        subject = TEST_PREFIX + subject
    email["Subject"] = subject
    email["Date"] = format_datetime(now or datetime.now(timezone.utc))
    message_id = message_id_for(message.idempotency_key, sender.domain, id_salt)
    email["Message-ID"] = message_id
    headers: dict[str, tuple[str, str]] = {}      # by lower-case name: header names ignore case
    for name, value in [*(extra_headers or {}).items(), *message.headers.items()]:
        name = name.strip()
        if name.lower() in _OWN_HEADERS or not re.fullmatch(r"[!-9;-~]+", name):
            continue        # not a header name (RFC 5322 section 2.2), or one the message sets itself
        headers[name.lower()] = (name, value)
    for name, value in headers.values():
        email[name] = header_text(value)

    html = message.body_html or ""
    text = message.body_text or ""
    if html.strip() and not text.strip():
        text = html_to_text(html)
    for name, value in email.items():
        # The last guard: whatever a header holds once the `email` package has read it is one line.
        if _LINE_BREAKS.search(str(value)):
            raise Permanent(f"the {name} header would carry a line break: the message was not sent")
    email.set_content(text, subtype="plain", charset="utf-8")
    if html.strip():
        email.add_alternative(html, subtype="html", charset="utf-8")
    return BuiltEmail(email, sender.address, recipient.address, message_id, smtputf8)
