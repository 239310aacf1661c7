"""The audit tables (their own metadata): signed checkpoints, verification runs and the
stored subtree hashes of the ledger's tree."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Engine, Integer, MetaData, String, Table, Text

from baton.store.ddl import create_tables

metadata = MetaData()

checkpoints = Table(
    "audit_checkpoints", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("size", Integer, nullable=False, index=True),
    Column("root", String(64), nullable=False),
    Column("time", String(40), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(100), nullable=False),
    Column("frontier", Text, nullable=False),  # JSON list of hex nodes at `size`
    Column("witnessed", Text, nullable=False, default=""),  # where it was pushed, or errors
)

runs = Table(
    "audit_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", String(40), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("covered", Text, nullable=False),  # JSON: what was checked, with counts
    Column("problem", Text, nullable=False),
)


# The ledger tree's perfect subtrees of 2**levels.LOW leaves and more, so a proof reads
# O(log n) stored hashes and at most a few blocks of rows instead of the whole ledger.
nodes = Table(
    "audit_nodes", metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
)

# How many leaves `audit_nodes` covers, with the tree's frontier at that size (one row).
tree = Table(
    "audit_tree", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", Integer, nullable=False),
    Column("frontier", Text, nullable=False),  # JSON list of hex nodes at `size`
)


def ensure(engine: Engine) -> None:
    """Create the audit tables where they are missing."""
    create_tables(metadata, engine)
