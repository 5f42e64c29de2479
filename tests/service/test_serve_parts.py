"""The service's parts on their own: the JSON-lines log, the listen address, the test clock, the optional
parts (receiver, connectors) looked up by name, the lease gate on the engine's jobs, and `journeys serve`
refusing what it cannot use in one line (exit 2)."""
from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.engine.clock import FileClock, SystemClock, default_clock
from app.engine.scheduler import LiveEngine
from app.service.http import ListenError, bind, is_loopback, parse_listen
from app.service.jsonlog import JsonLinesFormatter, service_log_path, setup_service_logging
from app.service.parts import connector_jobs, intake_jobs, optional_module, receiver_app, stop_polls

ROOT = Path(__file__).resolve().parents[2]


def test_each_log_record_is_one_json_line_even_with_line_breaks_and_a_traceback(tmp_path):
    path = tmp_path / "logs" / "service.jsonl"
    handler = setup_service_logging(path)
    logger = logging.getLogger("app.service.test")
    try:
        logger.info("first line\nsecond\u2028line", extra={"fields": {"job": "tick", "steps": 3}})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("a job failed")
        handler.flush()
    finally:
        for name in ("app", "uvicorn", "apscheduler"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 3
    first, second = (json.loads(line) for line in lines[:2])
    assert first["message"] == "first line\nsecond\u2028line" and first["job"] == "tick" and first["steps"] == 3
    assert first["level"] == "INFO" and first["logger"] == "app.service.test" and first["time"].endswith("Z")
    assert second["level"] == "ERROR" and "RuntimeError: boom" in second["error"]
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_a_field_never_overwrites_the_records_own_keys():
    record = logging.LogRecord("app.x", logging.INFO, __file__, 1, "said", (), None)
    record.fields = {"message": "forged", "extra": 1}
    entry = json.loads(JsonLinesFormatter().format(record))
    assert entry["message"] == "said" and entry["extra"] == 1


def test_the_log_goes_beside_the_apps_log_unless_told(tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEYS_LOG_FILE", str(tmp_path / "data" / "journeys.log"))
    monkeypatch.delenv("JOURNEYS_SERVICE_LOG", raising=False)
    assert service_log_path() == tmp_path / "data" / "journeys-service.jsonl"
    monkeypatch.setenv("JOURNEYS_SERVICE_LOG", str(tmp_path / "elsewhere.jsonl"))
    assert service_log_path() == tmp_path / "elsewhere.jsonl"
    assert service_log_path(tmp_path / "given.jsonl") == tmp_path / "given.jsonl"


@pytest.mark.parametrize("text, expected", [("127.0.0.1:8765", ("127.0.0.1", 8765)), ("[::1]:80", ("::1", 80)),
                                            ("localhost:0", ("localhost", 0))])
def test_listen_addresses(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["8765", "127.0.0.1", "127.0.0.1:", ":8765", "127.0.0.1:http", "127.0.0.1:70000",
                                  "127.0.0.1:-1"])
def test_listen_addresses_that_are_not_host_port_say_the_expected_form(text):
    with pytest.raises(ListenError, match="is not HOST:PORT such as 127.0.0.1:8765"):
        parse_listen(text)


def test_loopback_only_by_default():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("shop.example")


def test_a_port_in_use_is_one_clear_error():
    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ListenError, match="is already in use .* choose another with --listen"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_the_test_clock_reads_its_file_and_never_runs_backwards(tmp_path, monkeypatch):
    path = tmp_path / "clock"
    path.write_text("2026-03-02T10:00:00+00:00")
    clock = FileClock(path)
    assert clock.now() == datetime(2026, 3, 2, 10, tzinfo=timezone.utc) and clock.virtual is False
    path.write_text("2026-03-02T12:00:00+02:00")          # the same instant, another zone
    assert clock.now() == datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    path.write_text("2026-03-02T09:00:00+00:00")          # backwards: ignored
    assert clock.now() == datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    path.write_text("")                                   # half written: the last time read
    assert clock.now() == datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    monkeypatch.setenv("JOURNEYS_TEST_CLOCK", str(path))
    assert isinstance(default_clock(), FileClock)
    monkeypatch.delenv("JOURNEYS_TEST_CLOCK")
    assert isinstance(default_clock(), SystemClock)


def test_a_test_clock_file_without_a_time_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="holds no ISO-8601 time"):
        FileClock(tmp_path / "missing").now()


def test_parts_not_installed_are_skipped_but_a_broken_one_raises(tmp_path, monkeypatch):
    assert optional_module("app.no_such_part.server") is None
    assert optional_module("json") is not None
    package = tmp_path / "brokenpart"
    package.mkdir()
    (package / "__init__.py").write_text("import no_such_dependency_of_the_part\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_of_the_part"):
        optional_module("brokenpart.server")


def test_parts_are_used_when_installed(tmp_path, monkeypatch):
    """The contracts of issue 13's other parts: create_app(db, engine_wakeup=…), intake_job(db, engine),
    connector_jobs(db, clock, engine) -> [(name, function, seconds)], stop_polls() — with stand-ins
    installed under their names."""
    import types

    calls: list[object] = []
    intake = types.ModuleType("app.intake")
    server = types.ModuleType("app.intake.server")
    server.create_app = lambda db, engine_wakeup=None: ("app", db, engine_wakeup)  # type: ignore[attr-defined]
    apply = types.ModuleType("app.intake.apply")
    apply.intake_job = lambda db, engine: (lambda: calls.append(("intake", engine)))  # type: ignore[attr-defined]
    connectors = types.ModuleType("app.connectors")
    jobs = types.ModuleType("app.connectors.jobs")
    jobs.connector_jobs = lambda db, clock, engine: [  # type: ignore[attr-defined]
        ("connectors", lambda: calls.append(("poll", clock, engine)), 10)]
    jobs.stop_polls = lambda: calls.append("stop")  # type: ignore[attr-defined]
    for name, module in (("app.intake", intake), ("app.intake.server", server), ("app.intake.apply", apply),
                         ("app.connectors", connectors), ("app.connectors.jobs", jobs)):
        monkeypatch.setitem(sys.modules, name, module)
    wake = object()
    assert receiver_app("DB", wake) == ("app", "DB", wake)   # type: ignore[arg-type]
    (name, job, seconds), = intake_jobs("DB", "E1")          # type: ignore[arg-type]
    (pname, pjob, pseconds), = connector_jobs("DB", "CLOCK", "E2")   # type: ignore[arg-type]
    job(), pjob(), stop_polls()
    assert (name, seconds, pname, pseconds) == ("intake", 2.0, "connectors", 10.0)
    assert calls == [("intake", "E1"), ("poll", "CLOCK", "E2"), "stop"]


def test_without_the_parts_the_service_has_no_receiver_and_no_extra_jobs():
    if optional_module("app.intake.server") is not None or optional_module("app.connectors.jobs") is not None:
        pytest.skip("the receiver or the connectors are installed on this branch")
    assert receiver_app(None, lambda: None) is None    # type: ignore[arg-type]
    assert intake_jobs(None, None) == [] and connector_jobs(None, None, None) == []    # type: ignore[arg-type]


class _Engine:
    def __init__(self) -> None:
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1

    def scan(self) -> None:
        pass


def test_a_job_runs_only_while_the_gate_says_the_lease_is_held():
    engine, held = _Engine(), [True]
    live = LiveEngine(engine, gate=lambda: held[0])      # type: ignore[arg-type]
    tick = live.scheduler.get_job("tick").func
    tick()
    held[0] = False
    tick()
    tick()
    assert engine.ticks == 1


def _serve(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "serve", "--db", str(tmp_path / "s.sqlite3"),
                           "--log-file", str(tmp_path / "s.jsonl"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_serve_refuses_a_port_in_use_in_one_line(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        done = _serve("--listen", f"127.0.0.1:{taken.getsockname()[1]}", tmp_path=tmp_path)
    finally:
        taken.close()
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is already in use" in done.stderr and "Traceback" not in done.stderr


def test_serve_refuses_a_bad_listen_address_and_an_unwritable_log(tmp_path):
    done = _serve("--listen", "everywhere", tmp_path=tmp_path)
    assert done.returncode == 2 and "is not HOST:PORT" in done.stderr and done.stderr.count("\n") == 1
    (tmp_path / "file").write_text("")
    done = _serve("--log-file", str(tmp_path / "file" / "log.jsonl"), tmp_path=tmp_path)
    assert done.returncode == 2 and "the service's log cannot be written" in done.stderr
    done = _serve("--heartbeat-seconds", "20", "--lease-seconds", "30", tmp_path=tmp_path)
    assert done.returncode == 2 and "at least two heartbeats" in done.stderr


def test_the_receiver_runs_under_uvicorn_and_a_request_in_progress_finishes_on_stop(tmp_path, monkeypatch):
    """With the receiver installed (a stand-in Starlette app under its contract), the service serves it
    on its own socket; stopping lets a request in progress finish, then accepts no more."""
    pytest.importorskip("uvicorn")
    starlette = pytest.importorskip("starlette.applications")
    import asyncio
    import threading
    import urllib.error
    import urllib.request

    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from app.service import serve
    from app.store.db import open_database

    started, wakeups = threading.Event(), []

    async def slow(request):  # noqa: ANN001
        started.set()
        await asyncio.sleep(0.5)
        return JSONResponse({"stored": True}, status_code=202)

    def create_app(db, engine_wakeup=None):  # noqa: ANN001
        wakeups.append(engine_wakeup)
        return starlette.Starlette(routes=[Route("/v1/track", slow, methods=["POST"])])

    monkeypatch.setattr(serve, "receiver_app", lambda db, wakeup: create_app(db, engine_wakeup=wakeup))
    db = open_database(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    service = serve.Service(db, serve.ServeOptions(listen="127.0.0.1:0"))
    service.start()
    try:
        assert service.listener is not None and service.listener.kind == "receiver"
        url = service.listener.url
        assert wakeups == [service.wakeup]
        answers: list[int] = []

        def post() -> None:
            request = urllib.request.Request(f"{url}/v1/track", data=b"{}", method="POST")
            with urllib.request.urlopen(request, timeout=30) as answer:
                answers.append(answer.status)

        client = threading.Thread(target=post)
        client.start()
        assert started.wait(30)
    finally:
        service.stop()
    client.join(30)
    assert answers == [202]                               # answered, although the service was stopping
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/v1/track", data=b"{}", timeout=5)
    db.dispose()


def test_the_log_is_rotated_and_old_files_are_kept_as_lines(tmp_path, monkeypatch):
    from app.service import jsonlog

    monkeypatch.setattr(jsonlog, "MAX_BYTES", 2_000)
    path = tmp_path / "service.jsonl"
    handler = setup_service_logging(path)
    try:
        for i in range(200):
            logging.getLogger("app.service.test").info("line %d", i)
    finally:
        for name in ("app", "uvicorn", "apscheduler"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()
    rotated = sorted(tmp_path.glob("service.jsonl.*"))
    assert [p.name for p in rotated] == [f"service.jsonl.{i}" for i in range(1, jsonlog.BACKUPS + 1)]
    for file in [path, *rotated]:
        assert file.stat().st_size <= 2_000
        assert all(json.loads(line)["message"].startswith("line ") for line in file.read_text().splitlines())
    assert json.loads(path.read_text().splitlines()[-1])["message"] == "line 199"
