"""Storage port and its SQLite and PostgreSQL adapters."""

from baton.store.port import ExecutionRecord, Step, Store
from baton.store.sql import open_store

__all__ = ["ExecutionRecord", "Step", "Store", "open_store"]
