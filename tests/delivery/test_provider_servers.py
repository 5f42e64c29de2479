"""The local Twilio and Meta servers answer as the providers document (so the channels, the kill test and
the benchmark are tested against the real shapes): checked with a plain HTTP client, not our channels."""
from __future__ import annotations

import httpx

from .provider_servers import FakeMeta, FakeTwilio, meta, twilio  # noqa: F401 - fixtures


def _twilio_post(server: FakeTwilio, **form: str) -> httpx.Response:
    return httpx.post(f"{server.url}/2010-04-01/Accounts/{server.account_sid}/Messages.json", data=form,
                      auth=(server.account_sid, server.auth_token))


def test_twilio_error_bodies_have_code_message_more_info_status(twilio: FakeTwilio) -> None:
    cases = [({"From": twilio.number, "Body": "x"}, 21604), ({"To": "+4915123456789", "Body": "x"}, 21603),
             ({"To": "+4915123456789", "From": twilio.number}, 21602),
             ({"To": "+4915123456789", "From": twilio.number, "Body": "x" * 1601}, 21617),
             ({"To": "+4915123456789", "From": twilio.number, "ContentVariables": "{}"}, 21654)]
    for form, code in cases:
        response = _twilio_post(twilio, **form)
        assert response.status_code == 400
        assert response.json() == {"code": code, "message": response.json()["message"],
                                   "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": 400}


def test_twilio_refuses_wrong_credentials_with_20003(twilio: FakeTwilio) -> None:
    response = httpx.get(f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}.json", auth=(twilio.account_sid, "x"))
    assert (response.status_code, response.json()["code"]) == (401, 20003)


def test_twilio_statuses_move_one_step_per_fetch_and_are_recorded(twilio: FakeTwilio) -> None:
    created = _twilio_post(twilio, To="+4915123456789", From=twilio.number, Body="Hi")
    assert created.status_code == 201 and created.json()["status"] == "queued"
    sid = created.json()["sid"]
    url = f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages/{sid}.json"
    seen = [httpx.get(url, auth=(twilio.account_sid, twilio.auth_token)).json()["status"] for _ in range(3)]
    assert seen == ["sent", "delivered", "delivered"]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in twilio.requests] == [
        ("POST", "Messages.json"), ("GET", f"{sid}.json"), ("GET", f"{sid}.json"), ("GET", f"{sid}.json")]


def test_twilio_429_carries_retry_after(twilio: FakeTwilio) -> None:
    response = _twilio_post(twilio, To="+15550000429", From=twilio.number, Body="Hi")
    assert (response.status_code, response.headers["Retry-After"], response.json()["code"]) == (429, "7", 20429)


def test_meta_answers_with_contacts_and_a_wamid(meta: FakeMeta) -> None:
    response = httpx.post(f"{meta.url}/{meta.api_version}/{meta.phone_number_id}/messages",
                          headers={"Authorization": f"Bearer {meta.access_token}"},
                          json={"messaging_product": "whatsapp", "to": "4915123456789", "type": "text",
                                "text": {"body": "Hi"}})
    body = response.json()
    assert response.status_code == 200 and body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "4915123456789", "wa_id": "4915123456789"}]
    assert body["messages"][0]["id"].startswith("wamid.")


def test_meta_errors_have_the_graph_api_shape(meta: FakeMeta) -> None:
    response = httpx.post(f"{meta.url}/{meta.api_version}/{meta.phone_number_id}/messages",
                          headers={"Authorization": f"Bearer {meta.access_token}"},
                          json={"messaging_product": "whatsapp", "to": "15550131047", "type": "text",
                                "text": {"body": "Hi"}})
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == 131047
    assert {"message", "type", "code", "error_data", "fbtrace_id"} <= set(error)
    assert error["error_data"]["details"]
