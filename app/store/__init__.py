"""Storage layer: SQLAlchemy Core tables, migrations and queries (no Qt).

Runs unchanged on SQLite (default) and PostgreSQL; everything SQLite-specific
is confined to ``sqlite_hooks``.
"""

from app.store.app_settings import business_timezone, check_timezone, set_business_timezone
from app.store.catalog import VariableNames, known_variables, record_attributes
from app.store.db import APP_NAME, default_database_url, open_database, resolve_database_url
from app.store.errors import ConflictError, NotFoundError, StoreError
from app.store.journeys import JourneyRow, JourneyStore
from app.store.migrate import current_revision, head_revision, upgrade
from app.store.sql import insert_or_ignore, write_transaction
from app.store.tables import metadata

__all__ = [
    "APP_NAME",
    "ConflictError",
    "JourneyRow",
    "JourneyStore",
    "NotFoundError",
    "StoreError",
    "VariableNames",
    "business_timezone",
    "check_timezone",
    "current_revision",
    "default_database_url",
    "head_revision",
    "insert_or_ignore",
    "known_variables",
    "metadata",
    "open_database",
    "record_attributes",
    "resolve_database_url",
    "set_business_timezone",
    "upgrade",
    "write_transaction",
]
