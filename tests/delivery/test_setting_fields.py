"""Every channel setting is checked before it is stored, with the key named and what to write instead
(the CLI and the settings page share these checks)."""
from __future__ import annotations

import pytest

from app.delivery.setting_fields import SECTIONS, SettingError, get_value, set_value
from app.delivery.settings import DeliverySettings


def _refused(section: str, key: str, text: str) -> SettingError:
    settings = DeliverySettings()
    before = get_value(settings, next(f for f in SECTIONS[section] if f.key == key))
    with pytest.raises(SettingError) as caught:
        set_value(settings, section, key, text)
    assert caught.value.key == key and str(caught.value).startswith(f"{key}: ")
    assert get_value(settings, next(f for f in SECTIONS[section] if f.key == key)) == before   # unchanged
    return caught.value


@pytest.mark.parametrize("text", ["0", "65536", "99999", "-1", "587.5", "abc", "5 87", "0x24b"])
def test_ports_are_whole_numbers_from_1_to_65535(text):
    for section in ("email", "imap"):
        assert "1 to 65535" in _refused(section, "port", text).message


@pytest.mark.parametrize("text,stored", [("1", 1), ("465", 465), (" 587 ", 587), ("65535", 65535)])
def test_ports_in_range_are_stored_as_numbers(text, stored):
    settings = DeliverySettings()
    set_value(settings, "email", "port", text)
    assert settings.email.port == stored


def test_security_is_one_of_the_choices_any_case():
    assert "starttls, tls, none" in _refused("email", "security", "ssl").message
    _refused("imap", "security", "starttls2")
    settings = DeliverySettings()
    set_value(settings, "email", "security", "TLS")
    assert settings.email.security == "tls"
    set_value(settings, "whatsapp", "provider", "Meta")
    assert settings.whatsapp.provider == "meta"
    _refused("whatsapp", "provider", "vonage")


@pytest.mark.parametrize("text", ["015123456789", "4915123456789", "+1234", "+49 151", "phone", "+999 1234567",
                                  "whatsapp:0151234"])
def test_sender_numbers_must_be_valid_e164(text):
    for section in ("sms", "whatsapp"):
        message = _refused(section, "sender", text).message
        assert "+" in message


@pytest.mark.parametrize("text,stored", [("+1 500 555 0006", "+15005550006"), ("+49 (151) 234-56789", "+4915123456789"),
                                         ("whatsapp:+447911123456", "+447911123456")])
def test_sender_numbers_are_stored_in_e164(text, stored):
    settings = DeliverySettings()
    set_value(settings, "sms", "sender", text)
    assert settings.sms.twilio.sender == stored


@pytest.mark.parametrize("key", ["reply_to", "unsubscribe_address"])
@pytest.mark.parametrize("text", ["hello", "hello@", "@shop.example", "hello@localhost", "a b@shop.example",
                                  "hello@shop..example"])
def test_email_addresses_are_checked_without_dns(key, text):
    _refused("email", key, text)


def test_email_addresses_and_senders_that_are_fine():
    settings = DeliverySettings()
    set_value(settings, "email", "reply_to", "Hello@Shop.Example")
    assert settings.email.reply_to == "Hello@shop.example"        # the domain is normalised, not the user part
    set_value(settings, "email", "sender", "Corner Shop <hello@shop.example>")
    assert settings.email.sender == "Corner Shop <hello@shop.example>"
    set_value(settings, "email", "sender", "Café Müller <hallo@café.example>")
    assert settings.email.sender.startswith("Café Müller <")


@pytest.mark.parametrize("text", ["Shop <hello>", "a@shop.example, b@shop.example", "Shop hello@shop.example>",
                                  "Shop <a@shop.example>\r\nBcc: x@evil.example"])
def test_a_sender_is_one_identity(text):
    _refused("email", "sender", text)


@pytest.mark.parametrize("text", ["smtp://smtp.gmail.com", "smtp.gmail.com:587", "smtp gmail com", "-smtp.example",
                                  "smtp.exa_mple.com"])
def test_hosts_are_host_names_without_scheme_or_port(text):
    _refused("email", "host", text)


@pytest.mark.parametrize("section,key,text", [
    ("general", "public_url", "http://shop.example"),     # not https (and not this machine)
    ("general", "public_url", "shop.example"),
    ("general", "public_url", "ftp://shop.example"),
    ("general", "public_url", "https://shop.example/?a=1"),
    ("general", "public_url", "https://shop.example/u>, <mailto:someone@evil.example"),   # would add a link
    ("general", "public_url", "https://shop.example/a b"),
    ("general", "public_url", 'https://shop.example/"x'),
    ("sms", "api_base", "api.twilio.com"),
    ("whatsapp", "meta_api_base", "graph facebook"),
])
def test_urls_are_web_addresses(section, key, text):
    _refused(section, key, text)


def test_local_http_is_fine_for_tests_and_trailing_slashes_go():
    settings = DeliverySettings()
    set_value(settings, "sms", "api_base", "http://127.0.0.1:8080/")
    assert settings.sms.twilio.api_base == "http://127.0.0.1:8080"
    set_value(settings, "general", "public_url", "https://shop.example/js/")
    assert settings.public_url == "https://shop.example/js"


@pytest.mark.parametrize("key,text", [("account_sid", "AC123"), ("account_sid", "MG" + "0" * 32),
                                      ("messaging_service_sid", "AC" + "a" * 32), ("account_sid", "AC" + "g" * 32)])
def test_twilio_sids_have_their_documented_shape(key, text):
    assert "32" in _refused("sms", key, text).message


@pytest.mark.parametrize("key,text", [("rate_per_second", "fast"), ("rate_per_second", "-1"),
                                      ("rate_per_second", "1e9")])
def test_rates_are_numbers_in_range(key, text):
    _refused("email", key, text)


def test_secrets_are_not_settings_and_the_error_says_where_they_go():
    for key in ("password", "token", "auth_token", "smtp_password"):
        with pytest.raises(SettingError) as caught:
            set_value(DeliverySettings(), "email", key, "hunter2")
        assert "journeys channels secret" in str(caught.value) and "hunter2" not in str(caught.value)


def test_an_unknown_key_lists_the_keys_there_are():
    with pytest.raises(SettingError) as caught:
        set_value(DeliverySettings(), "email", "hots", "x")
    assert caught.value.key == "hots" and "host" in caught.value.message and "security" in caught.value.message


def test_an_empty_value_clears_text_and_restores_a_default():
    settings = DeliverySettings()
    set_value(settings, "email", "reply_to", "a@shop.example")
    set_value(settings, "email", "reply_to", "")
    assert settings.email.reply_to == ""
    set_value(settings, "email", "port", "465")
    set_value(settings, "email", "port", "")
    assert settings.email.port == 587


@pytest.mark.parametrize("section,key", [("general", "public_url"), ("sms", "api_base"),
                                         ("whatsapp", "meta_api_base"), ("whatsapp", "twilio_api_base")])
def test_a_url_carrying_a_password_is_refused(section, key):
    """A password in a URL would be stored in the database (and the public URL printed into every email)."""
    settings = DeliverySettings()
    with pytest.raises(SettingError) as failure:
        set_value(settings, section, key, "https://admin:hunter2@shop.example/js")
    assert failure.value.key == key and "hunter2" not in failure.value.message
    with pytest.raises(SettingError):
        set_value(settings, section, key, "https://token@shop.example")


@pytest.mark.parametrize("section,key", [("sms", "api_base"), ("whatsapp", "twilio_api_base"),
                                         ("whatsapp", "meta_api_base")])
def test_an_api_address_over_plain_http_is_refused_unless_on_this_computer(section, key):
    """The Twilio auth token and the Meta access token go with every request: never in the clear."""
    settings = DeliverySettings()
    with pytest.raises(SettingError) as failure:
        set_value(settings, section, key, "http://api.twilio.com")
    assert failure.value.key == key and "https://" in failure.value.message
    set_value(settings, section, key, "http://localhost:8080")
    set_value(settings, section, key, "https://api.twilio.com")
