"""Consent never loosens by accident (issue 8, section 1): per-channel states, what may change them,
and who a send step reaches under the journey's consent policy."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.engine.importers import import_contacts_report, parse_contacts
from app.store.contacts import contact_detail
from app.store.tables import consent_changes, contact_channels

from .helpers import chain, send_node, simple_journey, t

# No consent recorded for anyone; dee opted in to texts in the file.
PEOPLE = """id,email,phone,first_name,unsubscribed,subscribed
amy,amy@example.com,+15550101,Amy,,
dee,dee@example.com,+15550102,Dee,,sms;whatsapp
"""


def texting(channel: str = "sms", **settings):
    """Cart abandoned → one message on `channel`."""
    journey = simple_journey(**settings)
    chain(journey, journey.trigger(), send_node(journey, channel, subject="Your cart is waiting"))
    return journey


def states(world, contact: str) -> dict[str, str]:
    with world.db.connect() as conn:
        return dict(conn.execute(select(contact_channels.c.channel, contact_channels.c.state)
                                 .where(contact_channels.c.contact_id == contact)).all())


def history(world, contact: str) -> list[tuple[str, str, str, str]]:
    with world.db.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(consent_changes.c.channel, consent_changes.c.previous, consent_changes.c.state,
                   consent_changes.c.source)
            .where(consent_changes.c.contact_id == contact).order_by(consent_changes.c.id))]


def skips(world, contact: str) -> list[str]:
    return [r["reason"] for r in world.log(contact, "skipped")]


def test_the_issue_example_a_channel_less_opt_in_never_clears_an_sms_opt_out(world):
    world.contacts(PEOPLE)
    world.install(texting("sms"))
    world.event("dee", "unsubscribed", "2026-03-02T09:10:00Z", channel="sms")
    world.event("dee", "subscribed", "2026-03-02T09:20:00Z", source="newsletter box at checkout")   # no channel
    world.event("dee", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.messages("dee") == []
    assert skips(world, "dee") == ["unsubscribed"]
    assert states(world, "dee")["sms"] == "unsubscribed"


def test_a_channel_less_opt_in_is_an_email_opt_in_only(world):
    world.contacts(PEOPLE)
    world.event("amy", "subscribed", "2026-03-02T09:20:00Z")
    assert states(world, "amy") == {"email": "subscribed"}          # sms and whatsapp stay unknown
    world.install(texting("sms"))
    world.event("amy", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.messages("amy") == [] and skips(world, "amy") == ["no_consent"]


def test_subscribed_to_all_fills_unknown_channels_but_never_clears_an_opt_out(world):
    world.contacts(PEOPLE)
    world.event("amy", "unsubscribed", "2026-03-02T09:10:00Z", channel="whatsapp")
    world.event("amy", "subscribed", "2026-03-02T09:20:00Z", channel="all")
    assert states(world, "amy") == {"email": "subscribed", "sms": "subscribed", "whatsapp": "unsubscribed"}
    world.install(texting("whatsapp"))
    world.event("amy", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert skips(world, "amy") == ["unsubscribed"]


def test_only_an_opt_in_naming_the_channel_clears_its_opt_out(world):
    world.contacts(PEOPLE)
    world.install(texting("sms", entry={"mode": "every_time"}))
    world.event("dee", "unsubscribed", "2026-03-02T09:10:00Z", channel="sms")
    world.event("dee", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("dee", "subscribed", "2026-03-02T11:00:00Z", channel="sms")
    world.event("dee", "cart_abandoned", "2026-03-02T12:00:00Z")
    assert skips(world, "dee") == ["unsubscribed"]
    [sms] = world.sent("dee")
    assert sms["channel"] == "sms" and sms["created_at"] == t("2026-03-02T12:00:00Z")


def test_an_opt_out_without_a_channel_covers_every_channel(world):
    world.contacts(PEOPLE)
    world.event("dee", "unsubscribed", "2026-03-02T09:10:00Z")
    assert states(world, "dee") == {"email": "unsubscribed", "sms": "unsubscribed", "whatsapp": "unsubscribed"}
    for channel in ("email", "sms", "whatsapp"):
        journey = texting(channel, name=f"To {channel}", exit_on_unsubscribe_all=False)
        journey.settings["consent"] = {"email_unknown": True, "sms_unknown": True, "whatsapp_unknown": True}
        world.install(journey)
    world.event("dee", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.messages("dee") == [] and skips(world, "dee") == ["unsubscribed"] * 3


def test_texts_need_recorded_consent_unless_the_journey_allows_unknown(world):
    world.contacts(PEOPLE)
    world.install(texting("sms", name="Strict"))
    allowing = texting("whatsapp", name="Allows unknown")
    allowing.settings["consent"]["whatsapp_unknown"] = True
    world.install(allowing)
    world.event("amy", "cart_abandoned", "2026-03-02T10:00:00Z")      # amy: never asked about anything
    world.event("dee", "cart_abandoned", "2026-03-02T10:00:00Z")      # dee: agreed to texts
    assert skips(world, "amy") == ["no_consent"]
    assert [m["channel"] for m in world.sent("amy")] == ["whatsapp"]
    assert sorted(m["channel"] for m in world.sent("dee")) == ["sms", "whatsapp"]


def test_email_goes_to_unknown_unless_the_journey_asks_for_consent(world):
    world.contacts(PEOPLE)
    world.install(texting("email", name="Open"))
    strict = texting("email", name="Consent only")
    strict.settings["consent"]["email_unknown"] = False
    world.install(strict)
    world.event("amy", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert len(world.sent("amy")) == 1 and skips(world, "amy") == ["no_consent"]


def test_recipient_terms_read_the_three_states(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    consenting = send_node(journey, "email", recipients="matching", terms=[{"term": "subscribed_to", "value": "sms"}])
    out = send_node(journey, "email", subject="Out", recipients="matching",
                    terms=[{"term": "unsubscribed_from", "value": "email"}])
    chain(journey, journey.trigger(), consenting, out)
    world.install(journey)
    world.event("amy", "cart_abandoned", "2026-03-02T10:00:00Z")     # sms unknown: not "subscribed to sms"
    world.event("dee", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert skips(world, "amy") == ["not_matching", "not_matching"]
    assert [m["node_id"] for m in world.sent("dee")] == [consenting.id]


def test_manual_audience_reachable_on_sms_follows_the_policy(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    journey.trigger().config.update(mode="manual", send="now")
    journey.trigger().config["audience"]["reachable_on"] = "sms"
    chain(journey, journey.trigger(), send_node(journey, "sms", subject="Sale"))
    world.install(journey)
    world.advance_to("2026-03-02T09:30:00Z")
    assert {r["contact_id"] for r in world.runs()} == {"dee"}


def test_every_change_is_in_the_history_with_its_time_and_source(world):
    world.contacts(PEOPLE)
    world.event("amy", "subscribed", "2026-03-02T09:20:00Z", source="checkout")
    world.event("amy", "unsubscribed", "2026-03-02T09:30:00Z", channel="email")
    world.event("amy", "subscribed", "2026-03-02T09:40:00Z")                      # changes nothing
    world.event("amy", "subscribed", "2026-03-02T09:50:00Z", channel="email")
    rows = history(world, "amy")
    assert [r[:3] for r in rows] == [("email", "unknown", "subscribed"), ("email", "subscribed", "unsubscribed"),
                                     ("email", "unsubscribed", "subscribed")]
    assert rows[0][3].startswith("event:subscribed #") and rows[0][3].endswith("(checkout)")
    assert rows[1][3].startswith("event:unsubscribed #")
    assert history(world, "dee") == [("sms", "unknown", "subscribed", "import:contacts file line 3"),
                                     ("whatsapp", "unknown", "subscribed", "import:contacts file line 3")]
    detail = contact_detail(world.db, "amy")
    assert [h.at for h in detail.history] == [t("2026-03-02T09:50:00Z"), t("2026-03-02T09:30:00Z"),
                                              t("2026-03-02T09:20:00Z")]                  # newest first
    assert {c.channel: c.state for c in detail.consent} == {"email": "subscribed", "sms": "unknown",
                                                             "whatsapp": "unknown"}


def _reimport(world, text: str, name: str = "again.csv"):
    rows, problems = parse_contacts(text)
    assert not problems, problems
    return import_contacts_report(world.db, rows, world.clock.now(), name)


def test_reimporting_a_file_never_clears_an_opt_out(world):
    world.contacts(PEOPLE)
    world.event("dee", "unsubscribed", "2026-03-02T09:10:00Z", channel="sms")
    world.event("amy", "unsubscribed", "2026-03-02T09:10:00Z", channel="email")
    report = _reimport(world, PEOPLE)                         # empty unsubscribed cells: no change
    assert states(world, "amy") == {"email": "unsubscribed"}
    assert states(world, "dee") == {"sms": "unsubscribed", "whatsapp": "subscribed"}
    [notice] = report.notices                                 # dee's file row still says subscribed: sms
    assert notice.line == 3 and "dee opted out of sms on 2026-03-02" in str(notice)
    report = _reimport(world, "id,subscribed\namy,all\n")
    assert states(world, "amy") == {"email": "unsubscribed", "sms": "subscribed", "whatsapp": "subscribed"}
    assert "amy opted out of email" in str(report.notices[0])
    world.install(texting("email"))
    world.event("amy", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.messages("amy") == [] and skips(world, "amy") == ["unsubscribed"]


def test_an_import_records_opt_outs_with_the_file_and_line(world):
    world.contacts(PEOPLE)
    _reimport(world, "id,unsubscribed\namy,\ndee,all\n", "shop.csv")
    assert states(world, "amy") == {}
    assert history(world, "dee")[-3:] == [
        ("email", "unknown", "unsubscribed", "import:shop.csv line 3"),
        ("sms", "subscribed", "unsubscribed", "import:shop.csv line 3"),
        ("whatsapp", "subscribed", "unsubscribed", "import:shop.csv line 3")]


def test_a_row_naming_a_channel_both_ways_records_the_opt_out_and_says_so(world):
    rows, problems = parse_contacts("id,subscribed,unsubscribed\na,sms,sms;email\nb,all,sms\nc,sms;pigeon,\n")
    assert [str(p) for p in problems] == [
        "line 4: subscribed names 'pigeon'; use email, sms, whatsapp or all (separated by ;)"]
    a, b = rows
    assert (a.subscribed, a.unsubscribed) == ([], ["sms", "email"])     # the opt-outs are kept, not the row lost
    assert (b.subscribed, b.unsubscribed) == (["email", "whatsapp"], ["sms"])     # all but the opt-out
    report = import_contacts_report(world.db, rows, world.clock.now(), "both.csv")
    assert states(world, "a") == {"email": "unsubscribed", "sms": "unsubscribed"}
    assert [str(n) for n in report.notices] == [
        "line 2: sms is listed both as subscribed and as unsubscribed; the opt-out is recorded "
        "(keep each channel in one of the two columns)"]


def test_consent_set_in_the_app_names_its_channel_and_is_recorded(world):
    import pytest

    from app.engine.consent import set_by_hand

    world.contacts(PEOPLE)
    world.event("amy", "unsubscribed", "2026-03-02T09:10:00Z")
    assert set_by_hand(world.db, "amy", "sms", "subscribed", t("2026-03-02T09:20:00Z")) is True
    assert set_by_hand(world.db, "amy", "sms", "subscribed", t("2026-03-02T09:30:00Z")) is False   # already so
    assert states(world, "amy") == {"email": "unsubscribed", "sms": "subscribed", "whatsapp": "unsubscribed"}
    assert history(world, "amy")[-1] == ("sms", "unsubscribed", "subscribed", "app")
    for bad in (("nobody", "sms", "subscribed"), ("amy", "fax", "subscribed"), ("amy", "sms", "unknown")):
        with pytest.raises(ValueError):
            set_by_hand(world.db, *bad, t("2026-03-02T09:40:00Z"))


def test_live_an_opt_out_before_the_hand_off_stops_a_queued_message(any_url):
    from app.engine.clock import VirtualClock
    from app.engine.engine import JourneyEngine
    from app.engine.ingest import EventIn
    from app.engine.outbox import RecordingChannel
    from app.store.db import open_database

    from .helpers import World

    class LiveClock(VirtualClock):      # the wall clock's rules (virtual = False), at times the test sets
        virtual = False

    db = open_database(any_url)
    clock, channel = LiveClock(t("2026-03-02T10:00:00Z")), RecordingChannel()
    world = World(db, clock, channel, JourneyEngine(db, clock, channel))
    try:
        world.contacts(PEOPLE)
        world.install(texting("sms"))
        world.engine.ingest([EventIn("dee", "cart_abandoned", t("2026-03-02T10:00:00Z"))])    # queued, not sent yet
        clock.set(t("2026-03-02T10:00:01Z"))
        world.engine.ingest([EventIn("dee", "unsubscribed", t("2026-03-02T10:00:01Z"), {"channel": "sms"})])
        world.engine.hand_off()
        assert channel.sent == []
        [message] = world.messages("dee")
        assert message["status"] == "cancelled" and "opted out of sms" in message["error"]
    finally:
        db.dispose()


# --- Events count by their own time, and are read however they are spelt ---------------------------

def test_an_old_opt_in_imported_after_a_newer_opt_out_leaves_the_opt_out(world):
    from app.engine.ingest import EventIn

    world.contacts(PEOPLE)
    world.install(texting("sms", entry={"mode": "every_time"}))
    world.event("dee", "unsubscribed", "2026-03-04T10:00:00Z", channel="sms")
    # A file of older events arrives afterwards: a week-old opt-in naming SMS must not undo the opt-out.
    world.engine.ingest([EventIn("dee", "subscribed", t("2026-02-25T10:00:00Z"), {"channel": "sms"}),
                         EventIn("amy", "subscribed", t("2026-02-25T10:00:00Z"), {"channel": "sms"})])
    assert states(world, "dee") == {"sms": "unsubscribed", "whatsapp": "subscribed"}
    assert states(world, "amy") == {"sms": "subscribed"}             # nothing newer recorded: it counts
    [now] = [c for c in contact_detail(world.db, "dee").consent if c.channel == "sms"]
    assert now.changed_at == t("2026-03-04T10:00:00Z")               # since when the contact opted out
    world.event("dee", "cart_abandoned", "2026-03-04T11:00:00Z")
    assert world.messages("dee") == [] and skips(world, "dee") == ["unsubscribed"]
    # A newer opt-in naming the channel is still the way back.
    world.event("dee", "subscribed", "2026-03-05T10:00:00Z", channel="sms")
    world.event("dee", "cart_abandoned", "2026-03-05T11:00:00Z")
    assert [m["channel"] for m in world.sent("dee")] == ["sms"]


def test_late_events_end_where_their_times_say_but_a_files_opt_in_never_outranks_an_opt_out(world):
    from app.engine.ingest import EventIn

    world.contacts(PEOPLE)                                           # dee: texts subscribed by the file
    world.event("amy", "subscribed", "2026-03-04T10:00:00Z", channel="sms")
    world.engine.ingest([EventIn("amy", "unsubscribed", t("2026-03-01T10:00:00Z"), {"channel": "sms"}),
                         EventIn("dee", "unsubscribed", t("2026-03-01T10:00:00Z"), {"channel": "whatsapp"})])
    assert states(world, "amy") == {"sms": "subscribed"}             # her later opt-in stands
    assert states(world, "dee") == {"sms": "subscribed", "whatsapp": "unsubscribed"}   # the file's had no date


@pytest.mark.parametrize("kind, channel, expected", [
    ("Unsubscribed", "SMS", {"sms": "unsubscribed"}),
    (" UNSUBSCRIBED ", " E-mail ", {"email": "unsubscribed"}),
    ("unsubscribed", "WhatsApp", {"whatsapp": "unsubscribed"}),
    ("unsubscribed", "ALL", {c: "unsubscribed" for c in ("email", "sms", "whatsapp")}),
    ("Subscribed", "Text", {"sms": "subscribed"}),
])
def test_consent_events_are_read_however_their_type_and_channel_are_written(world, kind, channel, expected):
    world.contacts(PEOPLE)
    world.event("amy", kind, "2026-03-02T09:10:00Z", channel=channel)
    assert states(world, "amy") == expected


def test_an_events_file_with_odd_spellings_keeps_every_opt_out(tmp_path):
    from app.engine.importers import parse_events

    found, problems = parse_events(
        '{"contact": "a", "type": "Unsubscribed", "at": "2026-03-01T10:00:00Z", "properties": {"channel": "E-Mail"}}\n'
        '{"contact": "a", "type": "unsubscribed", "at": "2026-03-01T10:00:00Z", "properties": {"channel": " SMS "}}\n'
        '{"contact": "a", "type": "message_replied", "at": "2026-03-01T10:00:00Z", "properties": {"channel": "SMS"}}\n'
        '{"contact": "a", "type": "unsubscribed", "at": "2026-03-01T10:00:00Z", "properties": {"channel": "fax"}}\n')
    assert [(e.type, e.properties["channel"]) for e in found] == [
        ("unsubscribed", "email"), ("unsubscribed", "sms"), ("message_replied", "sms")]
    assert [p.line for p in problems] == [4]


def test_a_contacts_file_reads_consent_columns_however_written(world):
    world.contacts(PEOPLE)
    report = _reimport(world, "ID,Email,Unsubscribed,Subscribed\n"
                              "amy,amy@example.com, All ,\n"
                              "dee,dee@example.com,E-mail,\n"
                              "eve,eve@example.com,yes,\n"
                              "fay,fay@example.com,no,\"SMS, WhatsApp\"\n"
                              "gus,gus@example.com,,TRUE\n")
    assert report.count == 5 and report.notices == []
    assert states(world, "amy") == {c: "unsubscribed" for c in ("email", "sms", "whatsapp")}
    assert states(world, "dee") == {"email": "unsubscribed", "sms": "subscribed", "whatsapp": "subscribed"}
    assert states(world, "eve") == {c: "unsubscribed" for c in ("email", "sms", "whatsapp")}
    assert states(world, "fay") == {"sms": "subscribed", "whatsapp": "subscribed"}
    assert states(world, "gus") == {"email": "subscribed"}          # a yes without a channel: email only
    assert contact_detail(world.db, "amy").attributes == {}          # not an attribute named "Unsubscribed"


def test_a_consent_term_reads_its_channel_however_written(world):
    world.contacts(PEOPLE)
    journey = simple_journey()
    chain(journey, journey.trigger(), send_node(journey, "email", recipients="matching",
                                                terms=[{"term": "subscribed_to", "value": " SMS "}]))
    world.install(journey)
    world.event("dee", "cart_abandoned", "2026-03-02T10:00:00Z")       # dee gave SMS consent in the file
    world.event("amy", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert len(world.sent("dee")) == 1 and skips(world, "amy") == ["not_matching"]
