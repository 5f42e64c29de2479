"""A local Twilio REST API (2010-04-01 Messages, Accounts, IncomingPhoneNumbers; Messaging v1 Services):
see tests/delivery/provider_servers.py for its sources and use."""
from __future__ import annotations

import base64
import json
import re
import secrets
import time
from typing import Any

from .http_fake import Behaviour, ProviderServer, Recorded, Reply

TWILIO_DOCS = "https://www.twilio.com/docs/errors/"

TWILIO_BEHAVIOURS: dict[str, Behaviour] = {
    "+15005550001": Behaviour("error", 400, 21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": Behaviour("error", 400, 21612, "The 'To' phone number: +15005550002, is not currently "
                              "reachable using the 'From' phone number via SMS."),
    "+15005550003": Behaviour("error", 400, 21408, "Permission to send an SMS has not been enabled for the "
                              "region indicated by the 'To' number: +15005550003."),
    "+15005550004": Behaviour("error", 400, 21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": Behaviour("error", 400, 21614, "'To' number is not a valid mobile number"),
    "+15550063016": Behaviour("error", 400, 63016, "Failed to send freeform message because you are outside "
                              "the allowed window. If you are using WhatsApp, please use a Message Template."),
    "+15550000429": Behaviour("retry", retry_after=7),
    "+15550000500": Behaviour("server_error"),
    "+15550000503": Behaviour("error", 503, 20503, "Service Unavailable"),
    "+15550000777": Behaviour("slow", delay=3.0),
    "+15550000666": Behaviour("drop"),
    "+15550030003": Behaviour(path=("queued", "sent", "undelivered"), error_code=30003),
    "+15550030008": Behaviour(path=("queued", "failed"), error_code=30008),
    "+15550000333": Behaviour(path=("queued", "sent", "delivered", "read")),
}
"""Recipients with a scripted fate (a test may add more with `script`)."""

_SID = re.compile(r"AC[0-9a-f]{32}")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def twilio_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits (SM… messages, AC… accounts, MG… services)."""
    return prefix + secrets.token_hex(16)


class FakeTwilio(ProviderServer):
    """Twilio's REST API, version 2010-04-01, for one account (`account_sid`, `auth_token`) owning the
    phone number `number`, the WhatsApp sender `whatsapp_number` and the Messaging Service
    `messaging_service_sid`; approved Content templates in `contents` (ContentSid → number of variables).
    Statuses after acceptance: SMS queued → sent → delivered, WhatsApp … → delivered → read."""

    def __init__(self) -> None:
        super().__init__()
        self.account_sid = twilio_sid("AC")
        self.auth_token = secrets.token_hex(16)
        self.number = "+15005550006"
        self.whatsapp_number = "+14155238886"
        self.messaging_service_sid = twilio_sid("MG")
        self.contents: dict[str, int] = {"HX" + "0" * 31 + "1": 2}
        self.behaviours = dict(TWILIO_BEHAVIOURS)
        self.messages: dict[str, dict[str, Any]] = {}
        self._paths: dict[str, tuple[list[str], int | None]] = {}

    # -- plumbing --

    def _error(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        return status, {"code": code, "message": message, "more_info": f"{TWILIO_DOCS}{code}",
                        "status": status}, headers or {}

    def _authorised(self, record: Recorded) -> bool:
        header = record.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def answer(self, record: Recorded) -> Reply | None:
        if not self._authorised(record):
            return self._error(401, 20003, "Authenticate")
        prefix = f"/2010-04-01/Accounts/{self.account_sid}"
        if record.path == f"{prefix}.json" and record.method == "GET":
            return 200, {"sid": self.account_sid, "friendly_name": "Corner Shop", "status": "active",
                         "type": "Full"}, {}
        if record.path == f"{prefix}/IncomingPhoneNumbers.json" and record.method == "GET":
            wanted = (record.query.get("PhoneNumber") or [""])[0]
            found = [{"sid": twilio_sid("PN"), "phone_number": n, "capabilities": {"sms": True}}
                     for n in (self.number,) if not wanted or n == wanted]
            return 200, {"incoming_phone_numbers": found, "page": 0, "page_size": 50}, {}
        if record.path == f"/v1/Services/{self.messaging_service_sid}" and record.method == "GET":
            return 200, {"sid": self.messaging_service_sid, "account_sid": self.account_sid,
                         "friendly_name": "Corner Shop notifications"}, {}
        if record.path.startswith("/v1/Services/"):
            return self._error(404, 20404, f"The requested resource {record.path} was not found")
        if record.path == f"{prefix}/Messages.json" and record.method == "POST":
            return self._create(record)
        match = re.fullmatch(re.escape(prefix) + r"/Messages/(\w+)\.json", record.path)
        if match and record.method == "GET":
            return self._fetch(match.group(1))
        if re.fullmatch(r"/2010-04-01/Accounts/\w+(\.json|/.*)", record.path):
            return self._error(404, 20404, f"The requested resource {record.path} was not found")
        return self._error(404, 20404, f"The requested resource {record.path} was not found")

    # -- Messages --

    def _create(self, record: Recorded) -> Reply | None:
        to, sender, service = record.one("To"), record.one("From"), record.one("MessagingServiceSid")
        body, content = record.one("Body"), record.one("ContentSid")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return self._error(400, 21603, "A 'From' phone number is required.")
        whatsapp = to.startswith("whatsapp:")
        number = to.removeprefix("whatsapp:")
        if not _E164.fullmatch(number) and number not in self.behaviours:
            return self._error(400, 21211, f"The 'To' number {number} is not a valid phone number.")
        if service and service != self.messaging_service_sid:
            return self._error(400, 21701, "The Messaging Service Sid is invalid.")
        if sender:
            own = f"whatsapp:{self.whatsapp_number}" if whatsapp else self.number
            if sender != own:
                return (self._error(400, 63007, "Twilio could not find a Channel with the specified From address")
                        if whatsapp else self._error(400, 21606, f"The From phone number {sender} is not a "
                                                     "valid, SMS-capable inbound phone number or short code for "
                                                     "your account."))
        if content:
            if not _CONTENT_SID.fullmatch(content) or content not in self.contents:
                return self._error(400, 21655, "The ContentSid is Invalid")
            try:
                variables = json.loads(record.one("ContentVariables") or "{}")
            except ValueError:
                return self._error(400, 21656, "The ContentVariables Parameter is invalid")
            wanted = {str(i) for i in range(1, self.contents[content] + 1)}
            if not isinstance(variables, dict) or set(variables) != wanted or not all(
                    isinstance(v, str) and v for v in variables.values()):
                return self._error(400, 21656, "The ContentVariables Parameter is invalid")
        elif record.one("ContentVariables") is not None:
            return self._error(400, 21654, "A ContentSid must be specified if ContentVariables are provided.")
        elif not body:
            return self._error(400, 21602, "Message body is required.")
        elif len(body) > 1600:
            return self._error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        behaviour = self.behaviour(number)
        if behaviour.kind == "error" and behaviour.code is not None:
            return self._error(behaviour.http_status, behaviour.code, behaviour.message)
        if behaviour.kind == "retry":
            return self._error(429, 20429, "Too Many Requests", self.retry_header(behaviour))
        if behaviour.kind == "server_error":
            return 500, {"code": 20500, "message": "Internal Server Error", "more_info": f"{TWILIO_DOCS}20500",
                         "status": 500}, {}
        if behaviour.kind == "drop":
            return None
        if behaviour.kind == "slow":
            self.pause(behaviour)
        sid = twilio_sid("SM")
        path = list(behaviour.path or (("queued", "sent", "delivered", "read") if whatsapp
                                       else ("queued", "sent", "delivered")))
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        resource = {"sid": sid, "account_sid": self.account_sid, "to": to, "from": sender or None,
                    "messaging_service_sid": service, "body": body or "", "status": path[0], "error_code": None,
                    "error_message": None, "num_segments": "1", "direction": "outbound-api",
                    "date_created": now, "date_updated": now, "date_sent": None, "api_version": "2010-04-01",
                    "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"}
        with self.lock:
            self.messages[sid] = resource
            self._paths[sid] = (path, behaviour.error_code)
        return 201, dict(resource), {}

    def _fetch(self, sid: str) -> Reply:
        with self.lock:
            resource = self.messages.get(sid)
            if resource is None:
                return self._error(404, 20404, f"The requested resource /Messages/{sid}.json was not found")
            path, code = self._paths[sid]
            at = path.index(resource["status"]) if resource["status"] in path else len(path) - 1
            if at + 1 < len(path):                  # each fetch moves the message one step on
                self._set(sid, path[at + 1], code)
            return 200, dict(resource), {}

    def _set(self, sid: str, status: str, code: int | None) -> None:
        resource = self.messages[sid]
        resource["status"] = status
        resource["date_updated"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        if status in ("undelivered", "failed"):
            resource["error_code"] = code or 30008
            resource["error_message"] = {30003: "Unreachable destination handset", 30005: "Unknown destination "
                                         "handset", 30008: "Unknown error"}.get(resource["error_code"], "Error")

    def advance(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Sets message `sid`'s status now (and its error code, for undelivered/failed); it stays there."""
        with self.lock:
            self._paths[sid] = ([status], error_code)
            self._set(sid, status, error_code)
