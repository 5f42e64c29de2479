"""Errors the storage layer raises with messages meant for people, not logs.

The GUI shows these in a dialog and the CLI prints them, so every message
says what went wrong and, where it can, what to do about it.
"""

from __future__ import annotations


class StoreError(Exception):
    """A storage operation failed in a way the user can understand and act on."""


class NotFoundError(StoreError):
    """The journey (or version) asked for does not exist."""


class ConflictError(StoreError):
    """The change would break a uniqueness rule (a name or id already taken)."""
