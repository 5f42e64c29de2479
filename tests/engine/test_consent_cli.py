"""Consent from the command line: `journeys contacts show`, import notices, and what `simulate` skips."""
from __future__ import annotations

import json

from app.paths import EXAMPLES, RESOURCES

from .helpers import run_cli

SAMPLE_CONTACTS = str(RESOURCES / "sample_contacts.csv")
SAMPLE_EVENTS = str(RESOURCES / "sample_events.jsonl")




def test_show_prints_consent_now_and_the_history_newest_first(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    people = tmp_path / "people.csv"
    people.write_text("id,email,phone,first_name,last_name,tags,unsubscribed,subscribed,city\n"
                      "c3,c3@example.com,+15550003,Mia,Schneider,vip;newsletter,,sms,Berlin\n", encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in [
        {"contact": "c3", "type": "unsubscribed", "at": "2026-03-04T08:00:00Z", "properties": {"channel": "sms"}},
        {"contact": "c3", "type": "subscribed", "at": "2026-03-05T08:00:00Z", "properties": {"source": "checkout"}},
    ]) + "\n", encoding="utf-8")
    assert run_cli(capsys, "contacts", "import", str(people), "--db", db)[0] == 0
    assert run_cli(capsys, "events", "import", str(events), "--db", db)[0] == 0
    code, out, err = run_cli(capsys, "contacts", "show", "c3", "--db", db)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "Contact c3 — Mia Schneider"
    assert any(line.split() == ["tags", "newsletter,", "vip"] for line in lines)
    assert any(line.split() == ["city", "Berlin"] for line in lines)
    consent = lines[lines.index("Consent") + 1:lines.index("Consent history (newest first)")]
    assert [line.split()[:2] for line in consent] == [["email", "subscribed"], ["sms", "unsubscribed"],
                                                       ["whatsapp", "unknown"]]
    assert "never asked" in consent[2] and "event:unsubscribed #1" in consent[1]
    timeline = next(i for i, line in enumerate(lines) if line.startswith("Timeline"))
    history = lines[lines.index("Consent history (newest first)") + 1:timeline]
    assert [h.split()[3:7] for h in history] == [["email", "unknown", "→", "subscribed"],
                                                  ["sms", "subscribed", "→", "unsubscribed"],
                                                  ["sms", "unknown", "→", "subscribed"]]
    assert history[0].endswith("event:subscribed #2 (checkout)")
    assert history[2].endswith("import:people.csv line 2")


def test_the_sample_contacts_record_consent_for_texts():
    from app.engine.importers import parse_contacts

    rows, problems = parse_contacts((RESOURCES / "sample_contacts.csv").read_text(encoding="utf-8"))
    assert not problems
    texting = {r.id for r in rows if "sms" in r.subscribed}
    assert {"c002", "c003", "c007", "c009"} <= texting          # the contacts the example journeys text
    assert any(not r.subscribed and not r.unsubscribed for r in rows)     # and some never asked


def test_show_an_unknown_contact_is_one_line_and_exit_2(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    run_cli(capsys, "contacts", "import", SAMPLE_CONTACTS, "--db", db)
    code, out, err = run_cli(capsys, "contacts", "show", "c0001", "--db", db)
    assert code == 2 and out == ""
    assert err.strip() == "journeys contacts: no contact with id 'c0001' (close: c001)" or \
        err.startswith("journeys contacts: no contact with id 'c0001'")


def test_reimport_says_which_opt_outs_the_file_could_not_clear(tmp_path, capsys):
    db = str(tmp_path / "db.sqlite3")
    first = tmp_path / "first.csv"
    first.write_text("id,email,unsubscribed\nc3,c3@example.com,sms\n", encoding="utf-8")
    again = tmp_path / "again.csv"
    again.write_text("id,email,unsubscribed,subscribed\nc3,c3@example.com,,sms;email\n", encoding="utf-8")
    run_cli(capsys, "contacts", "import", str(first), "--db", db)
    code, out, err = run_cli(capsys, "contacts", "import", str(again), "--db", db)
    assert code == 0 and err == ""
    assert f"{again}: line 2: contact c3 opted out of sms on " in out
    assert "0 new, 1 updated, 0 unchanged" in out and "1 opt-out(s) kept" in out
    _, shown, _ = run_cli(capsys, "contacts", "show", "c3", "--db", db)
    consent = shown.split("Consent\n")[1].splitlines()
    assert consent[0].split()[:2] == ["email", "subscribed"] and consent[1].split()[:2] == ["sms", "unsubscribed"]


def test_simulate_the_cart_example_texts_only_contacts_with_sms_consent(tmp_path, capsys):
    log = tmp_path / "cart.jsonl"
    code, out, _ = run_cli(capsys, "simulate", str(EXAMPLES / "cart_abandonment.json"), "--contacts", SAMPLE_CONTACTS,
                       "--events", SAMPLE_EVENTS, "--log", str(log))
    assert code == 0
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    texts = {x["contact"] for x in lines if x["action"] == "sent" and x["channel"] == "sms"}
    assert texts and texts <= {"c001", "c002", "c003", "c004", "c007", "c009", "c014", "c016", "c019", "c024"}
    # c015 opted out of email and was never asked about texts: two skips, each with its own reason.
    assert [x["reason"] for x in lines if x["contact"] == "c015" and x["action"] == "skipped"] == [
        "unsubscribed", "no_consent"]
    assert "1 no consent given" in out


def test_simulate_the_issue_example_skips_the_sms_of_a_contact_who_opted_out(tmp_path, capsys):
    people = tmp_path / "people.csv"
    people.write_text("id,email,phone,first_name,timezone,unsubscribed,subscribed\n"
                      "opted,o@example.com,+15550001,Olga,UTC,,sms\n"
                      "back,b@example.com,+15550002,Ben,UTC,,sms\n", encoding="utf-8")
    cart = {"items": [{"name": "Mug", "quantity": 1, "price": 9.0}], "cart_url": "https://shop.example/c"}
    events = [("opted", "unsubscribed", "2026-03-02T09:00:00Z", {"channel": "SMS"}),
              ("opted", "subscribed", "2026-03-02T09:30:00Z", {"source": "newsletter box at checkout"}),
              ("back", "unsubscribed", "2026-03-02T09:00:00Z", {"channel": "sms"}),
              ("back", "subscribed", "2026-03-02T09:30:00Z", {"channel": "sms"}),       # names the channel
              ("opted", "cart_abandoned", "2026-03-02T10:00:00Z", cart),
              ("back", "cart_abandoned", "2026-03-02T10:00:00Z", cart)]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"contact": c, "type": k, "at": at, "properties": p}) + "\n"
                            for c, k, at, p in events), encoding="utf-8")
    log = tmp_path / "log.jsonl"
    code, out, err = run_cli(capsys, "simulate", str(EXAMPLES / "cart_abandonment.json"), "--contacts", str(people),
                         "--events", str(path), "--log", str(log))
    assert code == 0 and err == ""
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    texted = [x["contact"] for x in lines if x["action"] == "sent" and x["channel"] == "sms"]
    assert texted == ["back"]
    assert [x["reason"] for x in lines if x["contact"] == "opted" and x["action"] == "skipped"] == ["unsubscribed"]
    assert "1 opted out" in next(line for line in out.splitlines() if line.startswith("Discount SMS"))
