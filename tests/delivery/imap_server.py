"""A real IMAP server for the mailbox poller's tests: a private Dovecot per test session.

`start_dovecot()` writes a Dovecot configuration into a fresh temporary folder (its own base_dir,
state_dir, maildir and log), listens on 127.0.0.1 only, on two free ports — plain IMAP (which
offers STARTTLS) and IMAPS — with a certificate from a throw-away certificate authority (`trustme`),
and one passwd-file user. `Dovecot.stop()` ends it and removes the folder.

Dovecot refuses to deliver mail as uid 0: run as root (CI), the mail belongs to `nobody` and the
login/internal processes run as Dovecot's own users (`dovenull`, `dovecot`, created by the
`dovecot-imapd` package); run as an ordinary user, everything runs as that user.

Fixture mails go in with IMAP APPEND (`Dovecot.append`), the way any mail client would put them there.

When Dovecot is missing: on CI (`CI=true`) the tests fail with a message naming the package (they
must run there: `.ci/run` installs it); elsewhere they are skipped with that reason.
"""
from __future__ import annotations

import atexit
import os
import pwd
import grp
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "dovecot-imapd"
USER, PASSWORD = "shop@example.com", "s3cret-imap"
UTF8_USER, UTF8_PASSWORD = "zoe@example.com", "pässwörd-☕"     # a second user: a password beyond ASCII


class DovecotMissing(Exception):
    """Dovecot is not installed here; the message says what to install."""


def dovecot_binary() -> str | None:
    """The `dovecot` executable, or None (it lives in /usr/sbin, often not on an ordinary user's PATH)."""
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    """A running private Dovecot: where it listens, its user, and a client context trusting its CA."""

    folder: Path
    port: int                 # plain IMAP with STARTTLS
    tls_port: int             # IMAPS (implicit TLS)
    process: subprocess.Popen[bytes]
    ca_pem: bytes
    user: str = USER
    password: str = PASSWORD
    host: str = "127.0.0.1"
    _stopped: bool = field(default=False, repr=False)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's test certificate (and nothing else)."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        return context

    def client(self, folder: str = "INBOX"):      # -> imapclient.IMAPClient
        """A logged-in IMAPS client with `folder` selected (for putting fixtures in and looking)."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.tls_port, ssl=True, ssl_context=self.ssl_context(), timeout=10)
        client.login(self.user, self.password)
        client.select_folder(folder)
        return client

    def append(self, raw: bytes, folder: str = "INBOX", flags: tuple[bytes, ...] = ()) -> None:
        """Puts one mail (its raw bytes) into `folder` with IMAP APPEND."""
        client = self.client(folder)
        try:
            client.append(folder, raw, flags=flags)
        finally:
            client.logout()

    def mailbox(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """Every mail in `folder`: UID → its flags (keywords included)."""
        client = self.client(folder)
        try:
            uids = client.search("ALL")
            return {uid: tuple(data[b"FLAGS"]) for uid, data in client.fetch(uids, ["FLAGS"]).items()}
        finally:
            client.logout()

    def clear(self, folder: str = "INBOX") -> None:
        """Empties `folder` (between tests sharing the session's server)."""
        client = self.client(folder)
        try:
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()
        finally:
            client.logout()

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


_CONFIG = """\
# A private test Dovecot (tests/delivery/imap_server.py). Nothing here touches the system's own.
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = journeys-test-{instance}
listen = 127.0.0.1
protocols = imap
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
ssl_min_protocol = TLSv1.2
# Plain logins are allowed so the poller's "none" security (127.0.0.1 only) can be tested too.
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
mail_location = maildir:{folder}/mail/%n
mail_privileged_group =
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={folder}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _accounts() -> dict[str, str | int]:
    """Who the server's processes and mail belong to (see the module's docstring)."""
    if os.geteuid() == 0:
        nobody, nogroup = pwd.getpwnam("nobody"), grp.getgrgid(pwd.getpwnam("nobody").pw_gid)
        login = "dovenull" if _user_exists("dovenull") else "nobody"
        internal = "dovecot" if _user_exists("dovecot") else "nobody"
        return {"login_user": login, "internal_user": internal,
                "internal_group": grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name,
                "mail_uid": nobody.pw_uid, "mail_gid": nogroup.gr_gid}
    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(os.getegid()).gr_name
    return {"login_user": me.pw_name, "internal_user": me.pw_name, "internal_group": group,
            "mail_uid": me.pw_uid, "mail_gid": os.getegid()}


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _wait_ready(dovecot: Dovecot, deadline: float) -> None:
    """Until both ports greet with `* OK` (or the server died / the deadline passed)."""
    for port in (dovecot.port, dovecot.tls_port):
        while True:
            if dovecot.process.poll() is not None:
                raise RuntimeError(f"Dovecot exited with {dovecot.process.returncode}:\n{dovecot.log()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    if port == dovecot.tls_port:
                        with dovecot.ssl_context().wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                            greeting = tls.recv(200)
                    else:
                        greeting = sock.recv(200)
                if greeting.startswith(b"* OK"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Dovecot did not answer on 127.0.0.1:{port}:\n{dovecot.log()}")
            time.sleep(0.05)


def start_dovecot() -> Dovecot:
    """Starts a private Dovecot (see the module's docstring) and returns it once it answers.

    Raises DovecotMissing when the `dovecot` executable is not installed, RuntimeError (with the
    server's log) when it does not start."""
    binary = dovecot_binary()
    if binary is None:
        raise DovecotMissing(f"Dovecot is not installed: the IMAP poller's tests need a real IMAP server "
                             f"(Debian/Ubuntu: `apt-get install {PACKAGE}`; .ci/run installs it)")
    import trustme

    folder = Path(tempfile.mkdtemp(prefix="journeys-dovecot-"))
    folder.chmod(0o755)        # the mail processes (nobody) must reach the maildir below
    accounts = _accounts()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    (folder / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n{UTF8_USER}:{{PLAIN}}{UTF8_PASSWORD}\n",
                                  encoding="utf-8")
    mail = folder / "mail"
    mail.mkdir()
    os.chown(mail, int(accounts["mail_uid"]), int(accounts["mail_gid"]))
    port, tls_port = _free_port(), _free_port()
    config = folder / "dovecot.conf"
    config.write_text(_CONFIG.format(folder=folder, instance=folder.name, port=port, tls_port=tls_port,
                                     **accounts))
    # In the test process's own process group: whatever kills the tests' group takes Dovecot with it.
    process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=open(folder / "stderr.log", "wb"))
    dovecot = Dovecot(folder, port, tls_port, process, ca.cert_pem.bytes())
    try:
        _wait_ready(dovecot, time.monotonic() + 30)
    except BaseException as exc:
        stderr = (folder / "stderr.log").read_text(errors="replace").strip()
        dovecot.stop()
        if stderr:
            raise RuntimeError(f"{exc}\n{stderr}") from exc
        raise
    return dovecot


def dovecot_or_skip() -> Dovecot:
    """A started Dovecot; without one installed: a failure on CI (CI=true), a skip elsewhere, both
    saying which package to install."""
    import pytest

    try:
        return start_dovecot()
    except DovecotMissing as exc:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"{exc}. On CI the IMAP tests must run, not be skipped.", pytrace=False)
        pytest.skip(str(exc))
        raise       # not reached: skip raises


_running: list[Dovecot] = []      # one server per test process, however many modules import the fixture


def _stop_running() -> None:
    while _running:
        _running.pop().stop()


def _session_dovecot():      # the pytest fixture below, kept importable under its own name
    if not _running:
        _running.append(dovecot_or_skip())
        atexit.register(_stop_running)      # also when the session ends without its teardown
    try:
        yield _running[0]
    finally:
        _stop_running()


try:
    import pytest as _pytest

    dovecot = _pytest.fixture(scope="session", name="dovecot")(_session_dovecot)
    """Session fixture: import it into a test module (`from .imap_server import dovecot`)."""
except ImportError:          # imported outside the tests
    pass
