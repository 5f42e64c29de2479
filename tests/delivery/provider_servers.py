"""Local stand-ins for Twilio's Messages API and Meta's WhatsApp Cloud API, on 127.0.0.1.

Real HTTP servers (the standard library's ThreadingHTTPServer, one thread per connection, HTTP/1.1
keep-alive) that check requests as the providers document them and answer with their shapes, status
codes and error bodies. Tests, the kill test and the benchmark point `TwilioSettings.api_base` /
`MetaSettings.api_base` at `server.url`.

    with FakeTwilio() as twilio:            # binds 127.0.0.1 on a port the OS picks
        settings = TwilioSettings(account_sid=twilio.account_sid, sender=twilio.number, api_base=twilio.url)
        ...
        twilio.requests                     # every request received (`Recorded`), in order

What a recipient number does is scripted (`BEHAVIOURS`, or `server.script(number, Behaviour(...))`):
an error with the provider's code, 429 with Retry-After, 500, a slow answer (for client timeouts), a
dropped connection (read the request, close without answering). A message that was accepted walks a
status path (Twilio: queued → sent → delivered, or → undelivered/failed with a code, or → read on
WhatsApp) one step each time its Message resource is fetched; `advance(sid, status)` sets one.

Sources of the shapes:
- Twilio Message resource and its statuses: https://www.twilio.com/docs/messaging/api/message-resource
- Twilio error body {code, message, more_info, status}: https://www.twilio.com/docs/usage/twilios-response
  and twilio-python's `TwilioRestException` (twilio/base/exceptions.py); codes: https://www.twilio.com/docs/api/errors
  (the magic numbers +15005550001…9 are Twilio's test-credential numbers with those same errors).
- Meta Cloud API messages: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
  and errors {"error": {message, type, code, error_subcode, error_data, fbtrace_id}}:
  https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, Self
from urllib.parse import parse_qs, urlsplit

import pytest

from app.delivery.settings import MetaSettings, TwilioSettings


@dataclass(frozen=True)
class Behaviour:
    """What the server does for one recipient.

    kind: "ok" (accept; the message then walks `path`), "error" (answer `http_status` with the
    provider's `code` and `message`), "retry" (429 with `Retry-After: retry_after`), "server_error"
    (500), "slow" (answer after `delay` seconds), "drop" (close the connection without answering)."""

    kind: str = "ok"
    http_status: int = 400
    code: int | None = None
    message: str = ""
    retry_after: int = 1
    retry_after_as_date: bool = False   # Retry-After as an HTTP date (RFC 9110 10.2.3) instead of seconds
    delay: float = 2.0
    path: tuple[str, ...] = ()          # statuses after acceptance; () = the server's default path
    error_code: int | None = None       # Twilio: the Message resource's error_code once undelivered/failed


OK = Behaviour()


@dataclass
class Recorded:
    """One request as received: method, path, query and form (lists of values), headers, raw body, JSON."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None

    def one(self, name: str) -> str | None:
        """The first value of form field `name` (Twilio), or None."""
        values = self.form.get(name)
        return values[0] if values else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"        # keep-alive, as the providers speak it
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:      # noqa: A002 - stdlib's name
        pass                                                       # quiet tests

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        record = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        kind = self.headers.get("Content-Type", "")
        if "x-www-form-urlencoded" in kind:
            record.form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        elif "json" in kind and body:
            try:
                record.json = json.loads(body)
            except ValueError:
                record.json = None
        with self.server.owner.lock:
            self.server.owner.requests.append(record)
        reply = self.server.owner.answer(record)
        if reply is None:                 # "drop": the request was read; no answer ever comes
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        status, payload, headers = reply
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:                  # the client gave up waiting (a "slow" answer): nothing to tell
            self.close_connection = True

    do_GET = do_POST = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False               # a "slow" answer still sleeping must not hold up shutdown
    owner: "ProviderServer"


Reply = tuple[int, Any, dict[str, str]]


class ProviderServer:
    """A provider on 127.0.0.1:<free port>, started by `start()` (or `with`), stopped by `stop()`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.behaviours: dict[str, Behaviour] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        # A short poll interval: stop() waits for the serving loop to notice, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, recipient: str, behaviour: Behaviour) -> None:
        """Makes `recipient` (E.164, without any `whatsapp:` prefix) behave so from now on."""
        self.behaviours[recipient] = behaviour

    def behaviour(self, recipient: str) -> Behaviour:
        return self.behaviours.get(recipient, OK)

    def posts(self) -> list[Recorded]:
        """The message sends received (POSTs), in order."""
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]

    def answer(self, record: Recorded) -> Reply | None:
        raise NotImplementedError

    @staticmethod
    def pause(behaviour: Behaviour) -> None:
        time.sleep(behaviour.delay)

    @staticmethod
    def retry_header(behaviour: Behaviour) -> dict[str, str]:
        if behaviour.retry_after_as_date:
            return {"Retry-After": formatdate(time.time() + behaviour.retry_after, usegmt=True)}
        return {"Retry-After": str(behaviour.retry_after)}


# --- Twilio ----------------------------------------------------------------------------------------

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


# --- Meta WhatsApp Cloud API ------------------------------------------------------------------------

META_BEHAVIOURS: dict[str, Behaviour] = {
    "+15550131026": Behaviour("error", 400, 131026, "Message Undeliverable."),
    "+15550131047": Behaviour("error", 400, 131047, "Re-engagement message"),
    "+15550131051": Behaviour("error", 400, 131051, "Unsupported message type"),
    "+15550130429": Behaviour("error", 400, 130429, "Rate limit hit"),
    "+15550131048": Behaviour("error", 400, 131048, "Spam rate limit hit"),
    "+15550131056": Behaviour("error", 400, 131056, "(Business Account, Consumer Account) pair rate limit hit"),
    "+15550000429": Behaviour("retry", retry_after=11),
    "+15550000500": Behaviour("server_error"),
    "+15550000777": Behaviour("slow", delay=3.0),
    "+15550000666": Behaviour("drop"),
}

_WA_ID = re.compile(r"\D")


class FakeMeta(ProviderServer):
    """The Graph API's WhatsApp Cloud API for one business phone number (`phone_number_id`) and one
    access token; approved templates in `templates` ((name, language) → number of body variables)."""

    def __init__(self, api_version: str = "v21.0") -> None:
        super().__init__()
        self.api_version = api_version
        self.phone_number_id = "10" + "".join(str(secrets.randbelow(10)) for _ in range(13))
        self.access_token = "EAAG" + secrets.token_hex(24)
        self.templates: dict[tuple[str, str], int] = {("order_update", "en_US"): 2, ("hello_world", "en_US"): 0}
        self.behaviours = dict(META_BEHAVIOURS)
        self._ids = itertools.count(1)

    def _error(self, status: int, code: int, message: str, details: str = "", *, kind: str = "OAuthException",
               subcode: int | None = None, headers: dict[str, str] | None = None) -> Reply:
        error: dict[str, Any] = {"message": f"(#{code}) {message}", "type": kind, "code": code,
                                 "error_data": {"messaging_product": "whatsapp", "details": details or message},
                                 "fbtrace_id": "A" + secrets.token_hex(10)}
        if subcode is not None:
            error["error_subcode"] = subcode
        return status, {"error": error}, headers or {}

    def answer(self, record: Recorded) -> Reply | None:
        if record.headers.get("Authorization") != f"Bearer {self.access_token}":
            return 401, {"error": {"message": "Error validating access token: The session is invalid.",
                                   "type": "OAuthException", "code": 190, "error_subcode": 460,
                                   "fbtrace_id": "A" + secrets.token_hex(10)}}, {}
        base = f"/{self.api_version}/{self.phone_number_id}"
        if record.path == base and record.method == "GET":
            return 200, {"display_phone_number": "+1 555-010-0000", "verified_name": "Corner Shop",
                         "id": self.phone_number_id}, {}
        if record.path == f"{base}/messages" and record.method == "POST":
            return self._send(record)
        return self._error(400, 100, f"Unsupported {record.method.lower()} request. Object with ID "
                           f"'{record.path.rsplit('/', 1)[-1]}' does not exist, cannot be loaded due to missing "
                           "permissions, or does not support this operation.", kind="GraphMethodException",
                           subcode=33)

    def _send(self, record: Recorded) -> Reply | None:
        data = record.json
        if not isinstance(data, dict) or data.get("messaging_product") != "whatsapp":
            return self._error(400, 100, "Invalid parameter", "The parameter messaging_product is required.")
        to = data.get("to")
        if not isinstance(to, str) or not to.strip():
            return self._error(400, 100, "Invalid parameter", "The parameter to is required.")
        kind = data.get("type", "text")
        if kind == "text":
            text = data.get("text")
            if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"]:
                return self._error(400, 100, "Invalid parameter", "The parameter text['body'] is required.")
        elif kind == "template":
            problem = self._check_template(data.get("template"))
            if problem is not None:
                return problem
        else:
            return self._error(400, 131051, "Unsupported message type")
        number = "+" + _WA_ID.sub("", to)
        behaviour = self.behaviour(number)
        if behaviour.kind == "error" and behaviour.code is not None:
            return self._error(behaviour.http_status, behaviour.code, behaviour.message)
        if behaviour.kind == "retry":
            return self._error(429, 4, "Application request limit reached", headers=self.retry_header(behaviour))
        if behaviour.kind == "server_error":
            return self._error(500, 1, "An unknown error occurred", kind="OAuthException")
        if behaviour.kind == "drop":
            return None
        if behaviour.kind == "slow":
            self.pause(behaviour)
        wamid = f"wamid.HBgL{next(self._ids):012d}{secrets.token_hex(8).upper()}"
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": _WA_ID.sub("", to)}],
                     "messages": [{"id": wamid}]}, {}

    def _check_template(self, template: Any) -> Reply | None:
        if not isinstance(template, dict) or not isinstance(template.get("name"), str):
            return self._error(400, 100, "Invalid parameter", "The parameter template['name'] is required.")
        language = template.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        wanted = self.templates.get((template["name"], str(code)))
        if wanted is None:
            return self._error(404, 132001, "Template name does not exist in the translation",
                               f"template name ({template['name']}) does not exist in {code}")
        given = 0
        for component in template.get("components") or []:
            if isinstance(component, dict) and component.get("type") == "body":
                parameters = component.get("parameters") or []
                if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                           and p["text"] for p in parameters):
                    return self._error(400, 100, "Invalid parameter", "Parameter of type text is missing text value")
                given = len(parameters)
        if given != wanted:
            return self._error(400, 132000, "Number of parameters does not match the expected number of params",
                               f"body: number of localizable_params ({given}) does not match the expected number "
                               f"of params ({wanted})")
        return None


# --- pytest fixtures and settings (import them into a test module: `from .provider_servers import twilio`) ---

@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    """A started FakeTwilio, stopped after the test."""
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def meta() -> Iterator[FakeMeta]:
    """A started FakeMeta, stopped after the test."""
    with FakeMeta() as server:
        yield server


def twilio_settings(server: FakeTwilio, *, service: bool = False, whatsapp: bool = False) -> TwilioSettings:
    """Settings pointing at `server`: its number (or its WhatsApp sender), or its Messaging Service."""
    if service:
        return TwilioSettings(account_sid=server.account_sid, messaging_service_sid=server.messaging_service_sid,
                              api_base=server.url)
    return TwilioSettings(account_sid=server.account_sid, api_base=server.url,
                          sender=server.whatsapp_number if whatsapp else server.number)


def meta_settings(server: FakeMeta) -> MetaSettings:
    """Settings pointing at `server`'s business number."""
    return MetaSettings(phone_number_id=server.phone_number_id, api_base=server.url, api_version=server.api_version)
