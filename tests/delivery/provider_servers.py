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

from typing import Iterator

import pytest

from app.delivery.settings import MetaSettings, TwilioSettings

from .fake_meta import META_BEHAVIOURS, FakeMeta
from .fake_twilio import TWILIO_BEHAVIOURS, FakeTwilio, twilio_sid
from .http_fake import OK, Behaviour, ProviderServer, Recorded

__all__ = ["Behaviour", "FakeMeta", "FakeTwilio", "META_BEHAVIOURS", "OK", "ProviderServer", "Recorded",
           "TWILIO_BEHAVIOURS", "meta", "meta_settings", "twilio", "twilio_settings", "twilio_sid"]


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


# --- a server in its own process ---------------------------------------------------------------------

def main() -> int:
    """``python -m tests.delivery.provider_servers``: runs a FakeTwilio in this process (so a benchmark does
    not share the interpreter lock with it). Prints one JSON line ``{"url", "account_sid", "auth_token",
    "number"}`` when it listens, serves until its standard input closes (or SIGTERM), then prints
    ``{"messages": N}`` (messages accepted) and exits."""
    import json
    import signal
    import sys
    import threading

    with FakeTwilio() as server:
        print(json.dumps({"url": server.url, "account_sid": server.account_sid, "auth_token": server.auth_token,
                          "number": server.number}), flush=True)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
        done.wait()
        with server.lock:
            accepted = len(server.messages)
    print(json.dumps({"messages": accepted}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
