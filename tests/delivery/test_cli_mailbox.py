"""`journeys mailbox poll|test` against the private Dovecot."""
from __future__ import annotations

from typing import Any

import pytest

from app.delivery.settings import load_settings, save_settings

from ..engine.helpers import run_cli
from . import mails
from .imap_server import Dovecot, dovecot  # noqa: F401 - the session fixture
from .test_imap_poll import make_shop


@pytest.fixture
def configured(db_url: str, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> Any:
    dovecot.clear()
    shop = make_shop(db_url, dovecot, status="replied")
    settings = load_settings(shop.db)
    # Plain IMAP is allowed on 127.0.0.1 only: the CLI trusts the system's certificates, not the test CA.
    settings.imap.host, settings.imap.port, settings.imap.security = "127.0.0.1", dovecot.port, "none"
    settings.imap.username = dovecot.user
    save_settings(shop.db, settings)
    monkeypatch.setenv("JOURNEYS_IMAP_PASSWORD", dovecot.password)
    yield shop
    shop.db.dispose()
    dovecot.clear()


def test_mailbox_poll_reads_the_mailbox_and_says_what_it_found(configured: Any, db_url: str, capsys: Any):
    configured.server.append(mails.reply(configured.mid))
    configured.server.append(mails.newsletter())
    code, out, err = run_cli(capsys, "mailbox", "poll", "--db", db_url)
    assert code == 0, err
    assert "2 mails read: 0 bounced, 1 reply" in out and "1 other" in out
    assert configured.message()["status"] == "replied"
    code, out, _ = run_cli(capsys, "mailbox", "poll", "--db", db_url)
    assert code == 0 and "0 mails read" in out


def test_mailbox_test_and_poll_say_what_failed(configured: Any, db_url: str, capsys: Any,
                                               monkeypatch: pytest.MonkeyPatch):
    code, out, _ = run_cli(capsys, "mailbox", "test", "--db", db_url)
    assert code == 0 and "Connected to 127.0.0.1" in out
    monkeypatch.setenv("JOURNEYS_IMAP_PASSWORD", "wrong")
    code, out, _ = run_cli(capsys, "mailbox", "test", "--db", db_url)
    assert code == 1 and "Failed (auth)" in out
    code, _, err = run_cli(capsys, "mailbox", "poll", "--db", db_url)
    assert code == 2 and "refused the user name or password" in err and "Traceback" not in err


def test_the_live_engines_mailbox_job_reads_the_mailbox_when_set_up_and_is_quiet_otherwise(
        configured: Any, monkeypatch: pytest.MonkeyPatch):
    from app.delivery.feedback_jobs import feedback_jobs
    from app.delivery.imap_poll import poll_configured
    from app.engine.scheduler import LiveEngine

    jobs = feedback_jobs(configured.db, configured.engine, configured.engine.clock)
    live = LiveEngine(configured.engine, jobs=jobs)
    assert "mailbox" in live.job_ids()
    configured.server.append(mails.reply(configured.mid))
    dict((name, job) for name, job, _ in jobs)["mailbox"]()     # what the job runs every few minutes
    assert configured.message()["status"] == "replied"
    monkeypatch.delenv("JOURNEYS_IMAP_PASSWORD")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    assert poll_configured(configured.db, configured.engine) is None       # no password: not set up
