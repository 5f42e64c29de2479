"""SMS and WhatsApp through Twilio's Messages API.

One message is one `POST {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, with
HTTP basic auth (account SID : auth token): `To`, `From` (or `MessagingServiceSid`), and `Body` — or, for
a WhatsApp template, `ContentSid` (the approved Content template's HX… SID) and `ContentVariables`
(JSON {"1": "…", "2": "…"}). WhatsApp addresses are written `whatsapp:+E164`. Twilio answers 201 with
the Message resource (`sid`, `status`: queued/accepted), or an error body
{"code": 21211, "message": "…", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}.

Sources: https://www.twilio.com/docs/messaging/api/message-resource (create, fetch, statuses),
https://www.twilio.com/docs/usage/twilios-response (error body), https://www.twilio.com/docs/api/errors
(codes), https://www.twilio.com/docs/content/send-templates-created-with-the-content-template-builder
(ContentSid/ContentVariables), twilio-python's `twilio/base/exceptions.py` (TwilioRestException: status,
code, msg, more_info) and `twilio/rest/api/v2010/account/message/__init__.py` (the resource paths).
"""
from __future__ import annotations

import json
import re
from typing import Any

import httpx

from .base import CheckResult, NotConfigured, Outgoing, Permanent, Sent, Transient, Uncertain
from .httpapi import (check_reachable, connect_failure, foreign_failure, json_body, new_client, recipient_number,
                      redact, retry_after, scrubbed, token_problem, transport_failure)
from .settings import TwilioSettings

API_VERSION = "2010-04-01"
PRODUCTION_API = "https://api.twilio.com"
PRODUCTION_MESSAGING_API = "https://messaging.twilio.com"
WHATSAPP_SANDBOX = "+14155238886"          # Twilio's shared WhatsApp sandbox sender

# Errors that are the shop's set-up, not the message's: the message waits until the settings are fixed.
SETUP_CODES = frozenset({
    20003,   # authentication failed (wrong SID or token)
    20005,   # the account is not active (suspended, closed)
    20008,   # test credentials cannot send: use the live ones
    20404,   # the account (SID) does not exist
    21210,   # the From number is not verified for this (trial) account
    21212,   # invalid From number
    21603,   # no From given
    21606,   # From is not an SMS-capable number of this account
    21659,   # From is not a Twilio number (or not of the To number's country)
    21660,   # From belongs to another account
    21701,   # invalid Messaging Service SID
    21703,   # the Messaging Service has no senders
    63001,   # WhatsApp: the channel could not authenticate the request
    63007,   # no WhatsApp channel for the From address
    63020,   # WhatsApp: the Business Manager has not accepted Twilio's invitation
})
# Errors that pass: too many requests, queues full, daily limits, Twilio's own trouble.
TRANSIENT_CODES = frozenset({
    14107,   # SMS rate limit exceeded
    20429,   # too many requests
    20500,   # internal server error
    20503,   # service unavailable
    21611,   # the From number's queue of messages is full
    30001,   # queue overflow
    63018,   # WhatsApp: rate limit exceeded for the channel
    63038,   # the account's daily message limit is reached
})
"""Every other 4xx error is the message's own (21211 invalid number, 21610 the recipient replied STOP,
21614 not a mobile number, 63016 outside the WhatsApp window, 21408/21612 unreachable region, 21655 a
bad Content SID…): it fails at once with Twilio's code and words."""

_ACCOUNT_CODES = frozenset({20003, 20005, 20008, 20404})     # the account or its credentials, not the sender
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


def whatsapp_address(number: str) -> str:
    """`whatsapp:+E164` (a number given with the prefix already keeps it)."""
    number = number.strip()
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


class TwilioChannel:
    """Sends SMS (`whatsapp=False`) or WhatsApp (`whatsapp=True`) through one Twilio account; keeps
    one HTTP client (and its kept-alive connection) until `close()`. Raises `NotConfigured` at once
    when the settings or the token are missing."""

    def __init__(self, settings: TwilioSettings, auth_token: str, *, whatsapp: bool,
                 timeout: float = 15.0, status_callback: str | None = None) -> None:
        if not settings.configured:
            raise NotConfigured("Twilio is not set up: fill in the account SID and a sender number or "
                                "Messaging Service SID in Settings → Channels", code="settings")
        auth_token = (auth_token or "").strip()         # a paste often brings a line break along
        if not auth_token:
            raise NotConfigured("the Twilio auth token is missing: store it in Settings → Channels, or set "
                                "JOURNEYS_TWILIO_AUTH_TOKEN", code="settings")
        problem = token_problem(auth_token, "Twilio auth token")
        if problem is not None:
            raise NotConfigured(problem, code="settings")
        self.settings, self.whatsapp, self.timeout = settings, whatsapp, timeout
        # Where Twilio posts each status as it changes (the receiver, app/intake), when a public URL is set;
        # polling (status_poll.py) still runs, and a status seen both ways counts once.
        self.status_callback = status_callback
        self._token = auth_token
        self._client: httpx.Client | None = None
        self._path = f"/{API_VERSION}/Accounts/{settings.account_sid}/Messages.json"

    @property
    def provider(self) -> str:
        return "Twilio (WhatsApp)" if self.whatsapp else "Twilio"

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = new_client(self.settings.api_base, timeout=self.timeout,
                                      auth=(self.settings.account_sid, self._token))
        return self._client

    def form(self, message: Outgoing) -> dict[str, str]:
        """The form fields of `message`'s request (see the module's docstring)."""
        data: dict[str, str] = {}
        to = recipient_number(message.recipient)       # E.164 when written in international form
        data["To"] = whatsapp_address(to) if self.whatsapp else to
        if self.settings.messaging_service_sid:
            # The service picks a sender from its pool and handles STOP replies for the whole pool.
            data["MessagingServiceSid"] = self.settings.messaging_service_sid
        else:
            data["From"] = whatsapp_address(self.settings.sender) if self.whatsapp else self.settings.sender
        template = message.whatsapp_template if self.whatsapp else None
        if template:
            data["ContentSid"] = str(template.get("name") or "")
            variables = template.get("variables") or []
            if variables:
                data["ContentVariables"] = json.dumps({str(i): str(v) for i, v in enumerate(variables, 1)},
                                                      ensure_ascii=False)
        else:
            body = message.body_text or ""
            if message.test and not body.startswith("[TEST]"):
                body = f"[TEST] {body}"
            data["Body"] = body
        if self.status_callback:
            data["StatusCallback"] = self.status_callback
        return data

    def send(self, message: Outgoing) -> Sent:
        """Sends one SMS or WhatsApp message; `Sent.provider_id` is Twilio's message SID (SM…).

        Raises Transient (429 with its Retry-After, 5xx, connection trouble before the request left),
        Permanent (the message's own error, with Twilio's code and text), NotConfigured (authentication
        and sender errors: the settings need fixing), Uncertain (no answer after the request left)."""
        data = self.form(message)
        if "Body" in data and not data["Body"].strip():
            raise Permanent("the message has no text", code="empty")
        try:
            response = self._http().post(self._path, data=data)
        except httpx.HTTPError as exc:
            if isinstance(exc, (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError)):
                self.close()            # the connection's state is unknown: the next message opens a new one
            raise transport_failure(exc, self.provider) from exc
        if response.is_success:            # any 2xx: the request was taken
            body = json_body(response)
            if isinstance(body, dict) and isinstance(body.get("sid"), str):
                return Sent(provider_id=body["sid"], status=str(body.get("status") or "queued"))
            if not isinstance(body, dict):
                # A success page that is not Twilio's (a filtering proxy's HTML): whether the request ever
                # reached Twilio is not known, so it must be neither counted sent nor resent by itself.
                raise Uncertain(f"{self.provider} answered {response.status_code} with something that is not "
                                "Twilio's answer (a proxy's page?): the message may or may not have been sent",
                                code="unreadable")
            # Twilio's JSON without the resource: the message left, its SID is unknown.
            return Sent(provider_id=None, status="queued")
        failure = scrubbed(classify(response, self.provider), self._token)
        template = str((message.whatsapp_template or {}).get("name") or "") if self.whatsapp else ""
        if failure.code == "21655" and template and not _CONTENT_SID.fullmatch(template):
            # A Meta template name ("order_update") means nothing to Twilio: say what it wants instead.
            failure = Permanent(f"{failure.text} — the step names the template {template!r}, but through Twilio a "
                                "template is named by its Content SID (HX…, Console → Messaging → Content Template "
                                "Builder); or choose Meta as the WhatsApp provider", code=failure.code)
        raise failure

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def error_of(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio's error code and message from an error response (None and the HTTP reason when the body is
    not Twilio's error JSON, e.g. a proxy's page)."""
    body = json_body(response)
    if isinstance(body, dict):
        code = body.get("code")
        text = body.get("message")
        number = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
        if isinstance(text, str) and text:
            return number, text
        return number, response.reason_phrase or f"HTTP {response.status_code}"
    return None, response.reason_phrase or f"HTTP {response.status_code}"


def classify(response: httpx.Response, provider: str = "Twilio") -> Transient | Permanent | NotConfigured:
    """The failure class of a Twilio error response (see `SETUP_CODES`, `TRANSIENT_CODES`)."""
    status = response.status_code
    code, text = error_of(response)
    shown = str(code) if code is not None else str(status)
    if status == 429 or status >= 500 or code in TRANSIENT_CODES:
        return Transient(f"{provider}: {text}", code=shown, retry_after=retry_after(response))
    if code is None:
        # Not Twilio's error body (a proxy's page, an empty answer): nothing was said about the message.
        return foreign_failure(response, provider)
    if status in (401, 403) or code in SETUP_CODES:
        hint = ("check the account SID and auth token in Settings → Channels" if status in (401, 403) or code in
                _ACCOUNT_CODES else "check the sender number or Messaging Service in Settings → Channels")
        return NotConfigured(f"{provider} refused the set-up: {text} ({hint})", code=shown)
    return Permanent(text, code=shown)


def messaging_api(settings: TwilioSettings) -> str:
    """Where Messaging Services live: messaging.twilio.com for the real API, the same base for a test server."""
    base = settings.api_base.rstrip("/")
    return PRODUCTION_MESSAGING_API if base == PRODUCTION_API else base


def check_twilio(settings: TwilioSettings, auth_token: str | None, *, whatsapp: bool = False) -> CheckResult:
    """"Test connection" for Twilio: the settings, DNS, connect/TLS, authentication (GET the Account
    resource), then the sender (the number among the account's IncomingPhoneNumbers, or the Messaging
    Service). Returns what failed and what to do; never raises. Sends no message."""
    if not _ACCOUNT_SID.fullmatch(settings.account_sid.strip()):
        return CheckResult(False, "settings", "The account SID is missing or malformed: copy it from the Twilio "
                           "Console (Account info; it starts with AC and has 34 characters).")
    auth_token = (auth_token or "").strip()
    if not auth_token:
        return CheckResult(False, "settings", "The auth token is missing: paste it in Settings → Channels (it is "
                           "kept in the system keyring), or set JOURNEYS_TWILIO_AUTH_TOKEN.")
    problem_text = token_problem(auth_token, "Twilio auth token")
    if problem_text is not None:
        return CheckResult(False, "settings", problem_text)
    service = settings.messaging_service_sid.strip()
    if not service and not settings.sender.strip():
        return CheckResult(False, "settings", "No sender: enter your Twilio phone number (+E.164) or a Messaging "
                           "Service SID (MG…).")
    if service and not _SERVICE_SID.fullmatch(service):
        return CheckResult(False, "settings", f"The Messaging Service SID {service!r} is malformed: it starts with "
                           "MG and has 34 characters (Console → Messaging → Services).")
    problem = check_reachable(settings.api_base, "Twilio")
    if problem is not None:
        return problem
    host = httpx.URL(settings.api_base).host
    account = settings.account_sid.strip()
    try:
        with new_client(settings.api_base, timeout=15.0, auth=(account, auth_token)) as client:
            response = client.get(f"/{API_VERSION}/Accounts/{account}.json")
            if response.status_code in (401, 403):
                code, text = error_of(response)
                text = redact(text, auth_token)
                return CheckResult(False, "auth", f"Twilio refused the account SID and auth token ({code or 401} "
                                   f"{text}). Copy both again from the Twilio Console → Account info; a token "
                                   "that was rotated stops working.")
            if response.status_code == 404:
                return CheckResult(False, "auth", f"Twilio has no account {account}: check the account SID.")
            if response.status_code == 200 and not isinstance(json_body(response), dict):
                return CheckResult(False, "connect", f"{host} answered, but not as Twilio does (a proxy's or "
                                   "captive portal's page?): check the Twilio API address and any proxy.")
            if response.status_code != 200:
                code, text = error_of(response)
                text = redact(text, auth_token)
                return CheckResult(False, "connect", f"Twilio answered {response.status_code} ({text}); try again "
                                   "later, or see https://status.twilio.com.")
            if service:
                with new_client(messaging_api(settings), timeout=15.0, auth=(account, auth_token)) as messaging:
                    found = messaging.get(f"/v1/Services/{service}")
                if found.status_code != 200:
                    return CheckResult(False, "sender", f"The Messaging Service {service} is not one of this "
                                       "account's: check the SID in Console → Messaging → Services.")
                return CheckResult(True, "sender", f"Connected to Twilio account {account}; Messaging Service "
                                   f"{service} found.")
            number = settings.sender.strip().removeprefix("whatsapp:")
            listed = client.get(f"/{API_VERSION}/Accounts/{account}/IncomingPhoneNumbers.json",
                                params={"PhoneNumber": number})
            if listed.status_code != 200:
                # The look-up failed: that says nothing about the number, so do not blame it.
                _code, text = error_of(listed)
                return CheckResult(False, "connect", f"Signed in to Twilio, but looking up {number} failed "
                                   f"({listed.status_code} {redact(text, auth_token)}); try again later, or see "
                                   "https://status.twilio.com.")
            body = json_body(listed)
            numbers = body.get("incoming_phone_numbers") if isinstance(body, dict) else None
    except httpx.HTTPError as exc:
        return connect_failure(exc, host, "Twilio")
    if numbers:
        return CheckResult(True, "sender", f"Connected to Twilio account {account}; {number} is one of its numbers.")
    if whatsapp and number == WHATSAPP_SANDBOX:
        return CheckResult(True, "sender", f"Connected to Twilio account {account}; sending from the WhatsApp "
                           "sandbox, which reaches only phones that joined it.")
    where = ("a WhatsApp sender must be a Twilio number registered for WhatsApp (Console → Messaging → Senders → "
             "WhatsApp senders)" if whatsapp else "buy or port it in Console → Phone Numbers, or use a Messaging "
             "Service")
    return CheckResult(False, "sender", f"{number} is not a phone number of Twilio account {account}: {where}.")


def message_resource(client: httpx.Client, account_sid: str, sid: str) -> dict[str, Any] | None:
    """GET …/Messages/{sid}.json: the Message resource, or None when Twilio has no such message."""
    response = client.get(f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json")
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise classify(response)
    body = json_body(response)
    return body if isinstance(body, dict) else None
