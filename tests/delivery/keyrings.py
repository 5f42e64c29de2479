"""Keyrings for the tests: a real file keyring in a temporary folder (keyrings.alt's PlaintextKeyring,
chosen on purpose with PYTHON_KEYRING_BACKEND, as app.delivery.secrets requires for an unencrypted one)
and the headless case (keyring's `fail` backend: no keyring at all). Never the user's own keyring."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import keyring
import pytest
from keyring.backends import fail

SECRET_VARIABLES = ("JOURNEYS_SMTP_PASSWORD", "JOURNEYS_IMAP_PASSWORD", "JOURNEYS_TWILIO_AUTH_TOKEN",
                    "JOURNEYS_META_ACCESS_TOKEN")


@pytest.fixture(autouse=True)
def _no_secret_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own secret variables never leak into a test."""
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working keyring: PlaintextKeyring under a temporary XDG_DATA_HOME. Yields that folder."""
    from keyrings.alt.file import PlaintextKeyring

    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    before = keyring.get_keyring()
    backend = PlaintextKeyring()
    keyring.set_keyring(backend)
    try:
        yield data
    finally:
        keyring.set_keyring(before)


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A headless machine: no keyring backend at all."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(before)
