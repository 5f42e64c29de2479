"""Tracking at queue time (the outbox row keeps the HTML as sent) and the warnings where a journey relies
on opens and clicks that are not measured."""
from __future__ import annotations

import pytest

from app.delivery.settings import PUBLIC_URL_KEY
from app.delivery.tracking import SECRET_KEY, read_token, tracking_secret
from app.journey.validate import WARNING, validate
from app.store.app_settings import set_setting

from .helpers import CONTACTS, chain, send_node, simple_journey

PUBLIC = "https://receiver.shop.example"
HTML = ('<html><body><p>Hi</p><a href="https://shop.example/cart?id=1&amp;x=2">Cart</a> '
        '<a href="mailto:hello@shop.example">Write</a></body></html>')


def email_journey(tracking: bool, status: str = "opened"):
    journey = simple_journey(tracking={"enabled": tracking})
    email = send_node(journey, html=HTML)
    branch = journey.add_node("message_status", {"step": email.id, "status": status,
                                                 "window": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), email, branch)
    return journey, email, branch


def sent_html(world) -> str:
    [message] = world.messages("ann")
    return message["body_html"]


def test_with_tracking_on_and_a_public_url_the_queued_email_has_tracked_links_and_the_pixel(world):
    set_setting(world.db, PUBLIC_URL_KEY, PUBLIC)
    world.contacts(CONTACTS)
    journey, _, _ = email_journey(tracking=True)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    html = sent_html(world)
    assert f'href="{PUBLIC}/c/' in html and "u=https%3A%2F%2Fshop.example%2Fcart%3Fid%3D1%26x%3D2" in html
    assert 'href="mailto:hello@shop.example"' in html
    assert f'<img src="{PUBLIC}/o/' in html and html.endswith("</body></html>")
    token = html.split(f"{PUBLIC}/o/")[1].split('"')[0]
    with world.db.begin() as conn:
        secret = tracking_secret(conn)
    [message] = world.messages("ann")
    assert read_token(token, secret) == message["idempotency_key"]


@pytest.mark.parametrize(("tracking", "url"), [(False, PUBLIC), (True, None)])
def test_without_tracking_or_without_a_public_url_the_email_goes_as_written(world, tracking, url):
    if url:
        set_setting(world.db, PUBLIC_URL_KEY, url)
    world.contacts(CONTACTS)
    journey, _, _ = email_journey(tracking=tracking)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert sent_html(world) == HTML
    with world.db.connect() as conn:      # no secret made when nothing is tracked
        from sqlalchemy import select

        from app.store.tables import app_settings
        assert conn.execute(select(app_settings.c.value).where(app_settings.c.key == SECRET_KEY)).first() is None


def _warnings(problems, node_id):
    return [p for p in problems if p.severity == WARNING and p.node_id == node_id and "not measured" in p.message]


@pytest.mark.parametrize("status", ["opened", "clicked"])
def test_a_branch_on_opens_or_clicks_warns_without_a_public_url(world, status):
    journey, _, branch = email_journey(tracking=True, status=status)
    journey_id = world.install(journey)
    _, problems = world.engine.check(journey_id)
    [warning] = _warnings(problems, branch.id)
    assert "no public URL" in warning.message and warning.field == "/config/status"
    assert "Settings → Channels" in warning.hint


def test_a_branch_on_opens_warns_when_the_journeys_tracking_is_off_and_not_when_on(world):
    set_setting(world.db, PUBLIC_URL_KEY, PUBLIC)
    off, _, off_branch = email_journey(tracking=False)
    _, problems = world.engine.check(world.install(off))
    [warning] = _warnings(problems, off_branch.id)
    assert "'Track opens and clicks' is off" in warning.message
    on, _, on_branch = email_journey(tracking=True)
    on.name = "Tracked"
    _, problems = world.engine.check(world.install(on))
    assert _warnings(problems, on_branch.id) == []


@pytest.mark.parametrize("status", ["delivered", "replied", "failed"])
def test_branches_on_what_the_mailbox_reports_do_not_warn(world, status):
    journey, _, branch = email_journey(tracking=False, status=status)
    _, problems = world.engine.check(world.install(journey))
    assert _warnings(problems, branch.id) == []


@pytest.mark.parametrize("term", ["opened_previous", "not_opened_previous", "clicked_previous", "not_clicked_previous"])
def test_a_send_step_whose_recipients_depend_on_opens_warns(term):
    journey = simple_journey()
    first = send_node(journey)
    second = send_node(journey, recipients="matching", terms=[{"term": "has_tag", "value": "vip"}, {"term": term}])
    chain(journey, journey.trigger(), first, second)
    [warning] = _warnings(validate(journey, public_url=""), second.id)
    assert warning.field == "/config/terms/1/term"
    assert _warnings(validate(journey), second.id) == []          # no database, no judgement


def test_a_branch_on_an_sms_open_gets_no_tracking_warning():
    journey = simple_journey()
    sms = send_node(journey, "sms")
    branch = journey.add_node("message_status", {"step": sms.id, "status": "opened",
                                                 "window": {"amount": 1, "unit": "days"}})
    chain(journey, journey.trigger(), sms, branch)
    assert _warnings(validate(journey, public_url=""), branch.id) == []


def test_the_command_line_says_opens_are_not_measured(tmp_path, capsys):
    import json

    from app.journey.fileformat import to_document

    from .helpers import run_cli

    db = str(tmp_path / "db.sqlite3")
    journey, _, _ = email_journey(tracking=False)
    path = tmp_path / "journey.json"
    path.write_text(json.dumps(to_document(journey)), encoding="utf-8")
    code, out, _ = run_cli(capsys, "validate", str(path))
    assert code == 0 and "not measured" not in out            # a file alone: nothing known about the store
    code, out, _ = run_cli(capsys, "validate", str(path), "--db", db)
    assert code == 0 and "warning: This step waits for an open or click, but no public URL is set" in out
    assert run_cli(capsys, "import", str(path), "--db", db)[0] == 0
    code, out, _ = run_cli(capsys, "activate", journey.name, "--db", db)
    assert code == 0 and "opens and clicks are not measured" in out
