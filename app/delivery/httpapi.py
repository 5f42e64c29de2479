"""What the HTTP providers (Twilio, Meta) share: one kept-open client, how a failed request is
classified, `Retry-After`, and the DNS/connect/TLS steps of "Test connection".

Where a request failed decides whether the message may have left:
- before the request was handed over (DNS, connect refused, connect timeout, TLS handshake, no free
  connection, an error while writing it) → `Transient`: the provider cannot have acted on it;
- after it was handed over (a read timeout, the connection dropped before an answer) → `Uncertain`:
  it may have been sent, so it is never resent automatically.
(httpx's exception hierarchy: https://www.python-httpx.org/exceptions/)
"""
from __future__ import annotations

import socket
import ssl
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from .base import CheckResult, DeliveryFailure, NotConfigured, Transient, Uncertain

USER_AGENT = "JourneyStudio/1 (+https://github.com/journey-studio)"
DEFAULT_TIMEOUT = 15.0          # seconds to wait for an answer once the request is sent
CONNECT_TIMEOUT = 10.0
# A Retry-After longer than any retry limit (at most 720 hours) means "not within the limit" already;
# a bigger one (a provider's or proxy's mistake: 10**12 seconds, a date in the year 9999) would
# overflow the date arithmetic of the retry schedule.
MAX_RETRY_AFTER = 31 * 24 * 3600.0


def new_client(base_url: str, *, timeout: float = DEFAULT_TIMEOUT, auth: httpx.Auth | tuple[str, str] | None = None,
               headers: dict[str, str] | None = None) -> httpx.Client:
    """One client per channel object: its pool keeps the connection alive between messages (HTTP
    keep-alive), so a burst does not pay a TCP and TLS handshake per message."""
    return httpx.Client(
        base_url=base_url.rstrip("/"), auth=auth, headers={"User-Agent": USER_AGENT, **(headers or {})},
        timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=30.0))


def recipient_number(recipient: str) -> str:
    """A contact's phone number as the providers take it: E.164 ("+4915123456789") from what an import
    left in international form ("+49 151 2345-6789", "0049 151 23456789", "whatsapp:+49…"), read with
    libphonenumber. Anything else (a national number without its country code, "0151 23456789") is
    passed on as written, stripped: the provider judges it (Twilio answers 21211) — never a guessed
    country, which could text a stranger. (ITU-T E.164; "00" is the international call prefix in
    most of the world.)"""
    import phonenumbers

    value = recipient.strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:"):].strip()
    if value.startswith("00") and value[2:].lstrip()[:1].isdigit():
        value = "+" + value[2:].lstrip()
    if not value.startswith("+"):
        return value
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    if phonenumbers.is_possible_number(number):
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return value


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """The response's `Retry-After` in seconds (RFC 9110 section 10.2.3: delay-seconds or an HTTP
    date), None when absent or unreadable; never negative, never more than `MAX_RETRY_AFTER`."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return min(max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds()), MAX_RETRY_AFTER)


def transport_failure(exc: httpx.HTTPError, provider: str) -> DeliveryFailure:
    """The failure class of a request that got no answer (see the module's docstring). A certificate
    that cannot be verified is the set-up's (a proxy or antivirus inspecting HTTPS, a wrong system
    clock): no message went, and none should fail for it, so they wait (NotConfigured)."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        why = cause.verify_message or str(cause)
        return NotConfigured(f"the secure connection to {provider} could not be verified ({why}): a proxy or "
                             "antivirus that inspects HTTPS, or a wrong system clock, often causes this; messages "
                             "wait until it works", code="tls")
    if isinstance(exc, (httpx.LocalProtocolError, httpx.InvalidURL)):
        # The request could not even be built (a header value it cannot carry): nothing left, and the
        # set-up must change. Its own words may quote the header, i.e. the token: not repeated here.
        return NotConfigured(f"the request to {provider} could not be made from the settings (a value holds a "
                             "character that cannot be sent): check the token and addresses in Settings → Channels",
                             code="settings")
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError,
                        httpx.WriteTimeout, httpx.UnsupportedProtocol, httpx.ProxyError)):
        return Transient(f"could not reach {provider}: {_describe(exc)}", code="connect")
    if isinstance(exc, httpx.TimeoutException):
        return Uncertain(f"{provider} did not answer in time after the message was handed over: it may have "
                         "been sent", code="timeout")
    return Uncertain(f"the connection to {provider} broke after the message was handed over ({_describe(exc)}): "
                     "it may have been sent", code="dropped")


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def foreign_failure(response: httpx.Response, provider: str) -> Transient | NotConfigured:
    """The failure class of an HTTP error that carries no error of the provider's own (a proxy's or
    firewall's HTML page, an empty body): it says nothing about the message itself, so it never fails
    it. 401/403/407 (someone refused us), 404/405 (no such API at that address) mean the set-up needs
    fixing: the message waits; anything else passes (retried with back-off)."""
    status = response.status_code
    said = f"HTTP {status} {response.reason_phrase}".strip()
    if status in (401, 403, 404, 405, 407):
        return NotConfigured(f"{provider} could not be used ({said}, not an answer from {provider} itself): check "
                             f"the API address in Settings → Channels and any proxy or firewall", code=str(status))
    return Transient(f"{provider}: {said} (not an answer from {provider} itself: a proxy or network problem)",
                     code=str(status), retry_after=retry_after(response))


def token_problem(token: str, what: str) -> str | None:
    """Why `token` (already stripped of surrounding white space) cannot be a provider's token, in one
    sentence that never quotes it; None when it can. Tokens are printable ASCII without spaces: a line
    break, a space or a curly quote inside comes from a bad paste, and would otherwise break the request
    in ways that quote the token back (httpx's "Illegal header value b'Bearer …'")."""
    if token.isascii() and token.isprintable() and not any(c.isspace() for c in token):
        return None
    return (f"The {what} holds a character no token has (a space, a line break, a curly quote or another "
            "non-ASCII character): copy it again from the provider's console and paste it alone.")


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` (a token, a password) replaced by "[redacted]": some
    provider errors quote what they were sent ("Malformed access token EAAG…"), and what a failure says
    is stored with the message, logged and shown, where a secret must never go."""
    if not secret or len(secret) < 4:
        return text
    return text.replace(secret, "[redacted]")


F = TypeVar("F", bound=DeliveryFailure)


def scrubbed(failure: F, secret: str | None) -> F:
    """`failure` with `secret` redacted from its text (see `redact`)."""
    text = redact(failure.text, secret)
    if text == failure.text:
        return failure
    return type(failure)(text, code=failure.code, retry_after=failure.retry_after)


def json_body(response: httpx.Response) -> object:
    """The response's JSON, or None when it has none (a proxy's HTML error page, an empty body)."""
    try:
        return response.json()
    except ValueError:
        return None


def check_reachable(api_base: str, provider: str) -> CheckResult | None:
    """The DNS step of "Test connection": None when the API's host resolves, else what failed."""
    parts = urlsplit(api_base)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return CheckResult(False, "settings", f"The {provider} API address {api_base!r} is not a web address: "
                           "leave it at its default unless you test against a local server.")
    try:
        socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return CheckResult(False, "dns", f"Cannot find {host} (DNS: {exc.strerror or exc}). Check this computer's "
                           "internet connection and any proxy or firewall.")
    return None


def connect_failure(exc: httpx.HTTPError, host: str, provider: str) -> CheckResult:
    """What "Test connection" says when a request got no answer: TLS, connect or timeout."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLError):
        return CheckResult(False, "tls", f"The secure connection to {host} failed ({cause.reason or cause}). "
                           "A proxy or antivirus that inspects HTTPS, or a wrong system clock, often causes this.")
    if isinstance(exc, httpx.TimeoutException):
        return CheckResult(False, "connect", f"{provider} ({host}) did not answer in time. Check the internet "
                           "connection and that no firewall blocks outgoing HTTPS (port 443).")
    return CheckResult(False, "connect", f"Could not connect to {provider} at {host} ({_describe(exc)}). Check the "
                       "internet connection and that no firewall blocks outgoing HTTPS (port 443).")
