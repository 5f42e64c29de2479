""""Test connection" for Twilio and Meta: each failing stage says what failed and what to do."""
from __future__ import annotations

from app.delivery.meta import check_meta
from app.delivery.settings import MetaSettings, TwilioSettings
from app.delivery.twilio import check_twilio

from .provider_servers import FakeMeta, FakeTwilio, meta, meta_settings, twilio, twilio_settings  # noqa: F401


def test_twilio_number_check_passes_and_reads_the_incoming_numbers(twilio: FakeTwilio) -> None:
    result = check_twilio(twilio_settings(twilio), twilio.auth_token)
    assert result.ok, result.detail
    paths = [r.path for r in twilio.requests]
    assert f"/2010-04-01/Accounts/{twilio.account_sid}.json" in paths
    assert twilio.requests[-1].query == {"PhoneNumber": [twilio.number]}
    assert not twilio.posts()                    # nothing is sent


def test_twilio_messaging_service_check(twilio: FakeTwilio) -> None:
    assert check_twilio(twilio_settings(twilio, service=True), twilio.auth_token).ok
    settings = twilio_settings(twilio, service=True)
    settings.messaging_service_sid = "MG" + "e" * 32
    result = check_twilio(settings, twilio.auth_token)
    assert (result.ok, result.stage) == (False, "sender") and "Messaging Service" in result.detail


def test_twilio_wrong_token_is_an_auth_failure(twilio: FakeTwilio) -> None:
    result = check_twilio(twilio_settings(twilio), "nope")
    assert (result.ok, result.stage) == (False, "auth") and "20003" in result.detail


def test_twilio_sender_not_of_the_account(twilio: FakeTwilio) -> None:
    settings = twilio_settings(twilio)
    settings.sender = "+15005550100"
    result = check_twilio(settings, twilio.auth_token)
    assert (result.ok, result.stage) == (False, "sender") and "+15005550100" in result.detail


def test_twilio_whatsapp_sandbox_sender_passes_with_a_note(twilio: FakeTwilio) -> None:
    result = check_twilio(twilio_settings(twilio, whatsapp=True), twilio.auth_token, whatsapp=True)
    assert result.ok and "sandbox" in result.detail


def test_twilio_settings_missing() -> None:
    assert check_twilio(TwilioSettings(), "x").stage == "settings"
    assert check_twilio(TwilioSettings(account_sid="AC" + "1" * 32, sender="+15005550006"), None).stage == "settings"


def test_twilio_dns_and_connect_failures() -> None:
    dns = check_twilio(TwilioSettings(account_sid="AC" + "1" * 32, sender="+15005550006",
                                      api_base="https://no-such-host.invalid"), "token")
    assert (dns.ok, dns.stage) == (False, "dns") and "no-such-host.invalid" in dns.detail
    server = FakeTwilio().start()
    settings = twilio_settings(server)
    server.stop()
    refused = check_twilio(settings, server.auth_token)
    assert (refused.ok, refused.stage) == (False, "connect")


def test_meta_check_passes_and_names_the_number(meta: FakeMeta) -> None:
    result = check_meta(meta_settings(meta), meta.access_token)
    assert result.ok and "Corner Shop" in result.detail
    assert meta.requests[-1].query == {"fields": ["display_phone_number,verified_name"]}


def test_meta_wrong_token_and_wrong_number_id(meta: FakeMeta) -> None:
    auth = check_meta(meta_settings(meta), "EAAGwrong")
    assert (auth.ok, auth.stage) == (False, "auth") and "permanent token" in auth.detail
    settings = meta_settings(meta)
    settings.phone_number_id = "123456789012345"
    sender = check_meta(settings, meta.access_token)
    assert (sender.ok, sender.stage) == (False, "sender")


def test_meta_settings_missing() -> None:
    assert check_meta(MetaSettings(), "x").stage == "settings"
    assert check_meta(MetaSettings(phone_number_id="1234"), None).stage == "settings"


def test_channels_test_whatsapp_through_twilio_knows_it_is_whatsapp(twilio: FakeTwilio, tmp_path, capsys,
                                                                      monkeypatch) -> None:
    """`journeys channels test whatsapp` (and the settings page, through check_channel) checks a WhatsApp
    sender by WhatsApp's rules: the sandbox number passes, and a wrong one is told about WhatsApp senders."""
    from tests.engine.helpers import run_cli

    db = str(tmp_path / "shop.sqlite3")
    monkeypatch.setenv("JOURNEYS_TWILIO_AUTH_TOKEN", twilio.auth_token)
    code, _out, err = run_cli(capsys, "channels", "set", "whatsapp", "provider=twilio",
                              f"account_sid={twilio.account_sid}", f"sender={twilio.whatsapp_number}",
                              f"twilio_api_base={twilio.url}", "--db", db)
    assert code == 0, err
    code, out, err = run_cli(capsys, "channels", "test", "whatsapp", "--db", db)
    assert code == 0, err
    assert "sandbox" in out
    code, _out, err = run_cli(capsys, "channels", "set", "whatsapp", "sender=+15005550100", "--db", db)
    assert code == 0, err
    code, out, err = run_cli(capsys, "channels", "test", "whatsapp", "--db", db)
    assert code == 1 and "failed at sender" in err and "WhatsApp sender" in err


def test_a_failed_number_look_up_is_not_blamed_on_the_number(twilio: FakeTwilio, monkeypatch) -> None:
    answer = twilio.answer

    def broken(record):
        if record.path.endswith("/IncomingPhoneNumbers.json"):
            return 503, {"code": 20503, "message": "Service Unavailable", "status": 503}, {}
        return answer(record)

    monkeypatch.setattr(twilio, "answer", broken)
    result = check_twilio(twilio_settings(twilio), twilio.auth_token)
    assert (result.ok, result.stage) == (False, "connect") and "Service Unavailable" in result.detail
    assert "is not a phone number" not in result.detail
