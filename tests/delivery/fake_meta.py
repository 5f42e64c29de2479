"""A local WhatsApp Cloud API (Graph API /{version}/{phone-number-id} and /messages): see
tests/delivery/provider_servers.py for its sources and use."""
from __future__ import annotations

import itertools
import re
import secrets
from typing import Any

from .http_fake import Behaviour, ProviderServer, Recorded, Reply

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
