"""WhatsApp through Meta's WhatsApp Cloud API.

One message is one `POST {api_base}/{api_version}/{phone_number_id}/messages` with the access token as
a bearer token and JSON:
    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915123456789",
     "type": "template", "template": {"name": "order_update", "language": {"code": "en_US"},
         "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ann"}, …]}]}}
or `"type": "text", "text": {"body": "…"}` for free text inside the 24-hour customer-service window.
Meta answers {"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid…"}]},
or {"error": {"message", "type", "code", "error_subcode", "error_data": {"details"}, "fbtrace_id"}}.

Sources: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages (request and
response), https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
(template components), https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
(codes and which to retry), https://developers.facebook.com/docs/graph-api/guides/error-handling.
"""
from __future__ import annotations

import re
from typing import Any

import httpx

from .base import CheckResult, NotConfigured, Outgoing, Permanent, Sent, Transient, Uncertain
from .httpapi import (check_reachable, connect_failure, foreign_failure, json_body, new_client, recipient_number,
                      redact, retry_after, scrubbed, token_problem, transport_failure)
from .settings import MetaSettings

# Throttling and Meta's own trouble: worth another try later (error-codes page, "Throttling errors").
TRANSIENT_CODES = frozenset({
    1,        # API unknown (often temporary)
    2,        # API service: temporary downtime
    4,        # application request limit reached
    80007,    # the WhatsApp Business Account's rate limit
    130429,   # Cloud API throughput reached
    131000,   # something went wrong (Meta's advice: retry)
    131016,   # service unavailable
    131048,   # spam rate limit hit
    131056,   # (business, consumer) pair rate limit: too many messages to the same number
    133004,   # server temporarily unavailable
})
# The set-up, not the message: a bad or expired token, missing permission, unregistered number, unpaid.
SETUP_CODES = frozenset({
    0,        # AuthException: the token expired or was invalidated
    3,        # capability or permission missing (answered with HTTP 500)
    10,       # permission denied
    33,       # the business phone number was deleted
    190,      # access token expired
    200,      # API permission (200-299)
    368,      # temporarily blocked for policy violations
    131005,   # access denied
    131031,   # the business account is locked
    131037,   # the number's display name awaits approval
    131042,   # payment problem
    131045,   # phone number registration error (incorrect certificate)
    133000,   # incomplete deregistration
    133006,   # the phone number needs verifying before registering
    133010,   # the phone number is not registered on the Cloud API
})
PERMISSION_CODES = range(200, 300)      # "API Permission": 200-299, all the set-up's
"""Every other error is the message's own (131026 undeliverable, 131047 re-engagement required outside
the 24-hour window, 131051 unsupported type, 132000 wrong number of template parameters, 132001 no such
template in that language, 100 an invalid parameter…): it fails at once with Meta's code and words."""
GRAPH_NO_OBJECT = 33
"""The Graph API's subcode for "Object with ID '…' does not exist" (code 100): a phone number ID that is
wrong or not this token's, so nothing can be sent from it until the settings are fixed."""


_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")      # a Twilio Content template's SID


def wa_number(recipient: str) -> str:
    """The recipient as the Cloud API takes it: the phone number's digits with the country code
    (`+49 151 2345-6789` → `4915123456789`, `0049…` too: `httpapi.recipient_number`)."""
    return "".join(c for c in recipient_number(recipient) if c.isdigit())


def payload(message: Outgoing) -> dict[str, Any]:
    """The JSON body for `message` (see the module's docstring)."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": wa_number(message.recipient)}
    template = message.whatsapp_template
    if template:
        spec: dict[str, Any] = {"name": str(template.get("name") or ""),
                                "language": {"code": str(template.get("language") or "en_US")}}
        variables = template.get("variables") or []
        if variables:
            spec["components"] = [{"type": "body", "parameters": [
                {"type": "text", "text": str(v)} for v in variables]}]
        body.update(type="template", template=spec)
    else:
        text = message.body_text or ""
        if message.test and not text.startswith("[TEST]"):
            text = f"[TEST] {text}"
        body.update(type="text", text={"preview_url": False, "body": text})
    return body


class MetaChannel:
    """Sends WhatsApp messages from one business phone number; keeps one HTTP client open until `close()`.
    Raises `NotConfigured` at once when the phone number id or the access token is missing."""

    def __init__(self, settings: MetaSettings, access_token: str, *, timeout: float = 15.0) -> None:
        if not settings.configured:
            raise NotConfigured("WhatsApp (Meta) is not set up: fill in the phone number ID in Settings → "
                                "Channels", code="settings")
        access_token = (access_token or "").strip()     # a paste often brings a line break along
        if not access_token:
            raise NotConfigured("the Meta access token is missing: store it in Settings → Channels, or set "
                                "JOURNEYS_META_ACCESS_TOKEN", code="settings")
        problem = token_problem(access_token, "Meta access token")
        if problem is not None:
            raise NotConfigured(problem, code="settings")
        self.settings, self.timeout = settings, timeout
        self._token = access_token
        self._client: httpx.Client | None = None
        self._path = f"/{settings.api_version}/{settings.phone_number_id}/messages"

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = new_client(self.settings.api_base, timeout=self.timeout,
                                      headers={"Authorization": f"Bearer {self._token}"})
        return self._client

    def send(self, message: Outgoing) -> Sent:
        """Sends one WhatsApp message; `Sent.provider_id` is Meta's message id (wamid…).

        Raises Transient (throttling codes, 429 with its Retry-After, 5xx, connection trouble before the
        request left), Permanent (the message's own error, with Meta's code and text), NotConfigured
        (token and permission errors), Uncertain (no answer after the request left)."""
        data = payload(message)
        if data["type"] == "text" and not data["text"]["body"].strip():
            raise Permanent("the message has no text", code="empty")
        if data["type"] == "template" and not data["template"]["name"]:
            raise Permanent("the WhatsApp step names no template", code="template")
        try:
            response = self._http().post(self._path, json=data)
        except httpx.HTTPError as exc:
            if isinstance(exc, (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError)):
                self.close()
            raise transport_failure(exc, "Meta (WhatsApp)") from exc
        if response.is_success:            # any 2xx: the request was taken
            body = json_body(response)
            found = body.get("messages") if isinstance(body, dict) else None
            if isinstance(found, list) and found and isinstance(found[0], dict) and isinstance(found[0].get("id"), str):
                return Sent(provider_id=found[0]["id"], status=str(found[0].get("message_status") or "accepted"))
            if not isinstance(body, dict):
                # A success page that is not the Graph API's (a filtering proxy's HTML): whether the request
                # reached Meta is not known, so it must be neither counted sent nor resent by itself.
                raise Uncertain(f"Meta (WhatsApp) answered {response.status_code} with something that is not the Graph "
                                "API's answer (a proxy's page?): the message may or may not have been sent",
                                code="unreadable")
            return Sent(provider_id=None, status="accepted")
        failure = scrubbed(classify(response), self._token)
        template = str(data["template"]["name"]) if data["type"] == "template" else ""
        if failure.code == "132001" and _CONTENT_SID.fullmatch(template):
            # A Twilio Content SID means nothing to Meta: say what it wants instead.
            failure = Permanent(f"{failure.text} — the step names the Twilio Content SID {template!r}, but Meta "
                                "names templates as WhatsApp Manager shows them (e.g. order_update); or choose "
                                "Twilio as the WhatsApp provider", code=failure.code)
        raise failure

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def error_of(response: httpx.Response) -> tuple[int | None, str]:
    """Meta's error code and its words (the message, plus `error_data.details` when it says more)."""
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, response.reason_phrase or f"HTTP {response.status_code}"
    number = _number(error.get("code"))
    text = str(error.get("message") or error.get("error_user_msg") or f"HTTP {response.status_code}")
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    if isinstance(details, str) and details and details not in text:
        text = f"{text} — {details}"
    return number, text


def classify(response: httpx.Response) -> Transient | Permanent | NotConfigured:
    """The failure class of a Cloud API error response (see `TRANSIENT_CODES`, `SETUP_CODES`)."""
    status = response.status_code
    code, text = error_of(response)
    shown = str(code) if code is not None else str(status)
    if code in TRANSIENT_CODES:
        return Transient(f"Meta (WhatsApp): {text}", code=shown, retry_after=retry_after(response))
    if code in SETUP_CODES or code in PERMISSION_CODES or (code == 100 and _no_such_object(response)):
        return NotConfigured(f"Meta refused the set-up: {text} (check the access token and phone number ID in "
                             "Settings → Channels; use a system user's permanent token)", code=shown)
    if status == 429 or status >= 500:
        return Transient(f"Meta (WhatsApp): {text}", code=shown, retry_after=retry_after(response))
    if code is None:
        # Not a Graph API error (a proxy's page, an empty answer): nothing was said about the message.
        return foreign_failure(response, "Meta (WhatsApp)")
    if status == 401:
        return NotConfigured(f"Meta refused the set-up: {text} (check the access token and phone number ID in "
                             "Settings → Channels; use a system user's permanent token)", code=shown)
    return Permanent(text, code=shown)


def _no_such_object(response: httpx.Response) -> bool:
    """Whether a code-100 error is the Graph API's "Object with ID … does not exist" (subcode 33, type
    GraphMethodException): the phone number ID in the URL is wrong, not the message."""
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    return _number(error.get("error_subcode")) == GRAPH_NO_OBJECT or error.get("type") == "GraphMethodException"


def check_meta(settings: MetaSettings, access_token: str | None) -> CheckResult:
    """"Test connection" for the WhatsApp Cloud API: the settings, DNS, connect/TLS, then
    `GET /{version}/{phone_number_id}?fields=display_phone_number,verified_name`, which proves the token
    (auth) and that it may use that business number (sender). Never raises; sends no message."""
    number_id = settings.phone_number_id.strip()
    if not number_id.isdigit():
        return CheckResult(False, "settings", "The phone number ID is missing or not a number: copy it from the "
                           "Meta app dashboard → WhatsApp → API Setup (it is not the phone number itself).")
    access_token = (access_token or "").strip()
    if not access_token:
        return CheckResult(False, "settings", "The access token is missing: paste a system user's permanent token in "
                           "Settings → Channels (kept in the system keyring), or set JOURNEYS_META_ACCESS_TOKEN.")
    problem_text = token_problem(access_token, "Meta access token")
    if problem_text is not None:
        return CheckResult(False, "settings", problem_text)
    problem = check_reachable(settings.api_base, "Meta")
    if problem is not None:
        return problem
    host = httpx.URL(settings.api_base).host
    try:
        with new_client(settings.api_base, timeout=15.0, headers={"Authorization": f"Bearer {access_token}"}) as c:
            response = c.get(f"/{settings.api_version}/{number_id}",
                             params={"fields": "display_phone_number,verified_name"})
    except httpx.HTTPError as exc:
        return connect_failure(exc, host, "Meta")
    code, text = error_of(response)
    text = redact(text, access_token)
    if response.status_code == 200:
        body = json_body(response)
        if not isinstance(body, dict):
            return CheckResult(False, "connect", f"{host} answered, but not as the Graph API does (a proxy's or "
                               "captive portal's page?): check the Graph API address and any proxy.")
        info = body
        shown = info.get("display_phone_number") or number_id
        name = info.get("verified_name")
        return CheckResult(True, "sender", f"Connected to the WhatsApp Cloud API; sending from {shown}"
                           + (f" ({name})." if name else "."))
    if response.status_code == 401 or code == 190:
        return CheckResult(False, "auth", f"Meta refused the access token ({text}). Temporary tokens expire after "
                           "24 hours: create a system user's permanent token (Business settings → System users).")
    if code in (100, 803) or response.status_code == 404:
        return CheckResult(False, "sender", f"Meta knows no phone number ID {number_id} for this token ({text}). "
                           "Check the ID in WhatsApp → API Setup, and that the system user was given the WhatsApp "
                           "account as an asset.")
    if code in (10, 200, 3):
        return CheckResult(False, "auth", f"The token lacks a permission ({text}): give it whatsapp_business_messaging "
                           "and whatsapp_business_management.")
    return CheckResult(False, "connect", f"Meta answered {response.status_code} ({text}); try again later.")
