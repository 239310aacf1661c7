"""Table definitions shared by every SQL adapter."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

events = Table(
    "events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("type", String(100), nullable=False),
    Column("entity", String(200), nullable=False),
    Column("time", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("processed", Boolean, nullable=False, default=False, index=True),
    # the order the engine folded it in (commands to Baton may go ahead of a backlog);
    # replay follows it
    Column("ord", Integer, nullable=True, index=True),
    # the commands waiting behind a backlog are found without reading the backlog
    Index("ix_events_waiting_type", "processed", "type", "seq"),
)

ledger = Table(
    "ledger", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("record_id", String(64), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

decisions = Table(
    "decisions", metadata,
    Column("id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False, index=True),
    Column("time", String(40), nullable=False),
    Column("domain", String(100), nullable=False, index=True),
    Column("entity", String(200), nullable=False),
    Column("situation_kind", String(100), nullable=False),
    Column("verdict", String(20), nullable=True, index=True),
    Column("outcome", String(300), nullable=False, index=True),
    Column("decided_by", String(100), nullable=False),
    Column("engine_ms", Float, nullable=False),
)

escalations = Table(
    "escalations", metadata,
    Column("id", String(64), primary_key=True),
    Column("status", String(20), nullable=False, index=True),
    Column("created", String(40), nullable=False),
    Column("body", Text, nullable=False),
)

executions = Table(
    "executions", metadata,
    Column("key", String(200), primary_key=True),
    Column("decision", String(64), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("resource", String(200), nullable=False),
    Column("connector", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", String(40), nullable=True),
)

settings = Table(
    "settings", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

work_items = Table(
    "work_items", metadata,
    Column("key", String(200), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("domain", String(100), nullable=False, index=True),
    Column("decision", String(64), nullable=False),
    Column("created", String(40), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("body", Text, nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("key", String(200), primary_key=True),
    Column("decision", String(64), nullable=False),
    Column("connector", String(40), nullable=False),
    Column("due", String(40), nullable=False),
    Column("status", String(20), nullable=False, index=True),  # pending, done, failed, unknown
    Column("body", Text, nullable=False),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # the event's log seq
    Column("key", String(200), nullable=False),
    Column("type", String(100), nullable=False),
    Column("error", Text, nullable=False),
    Column("at", String(40), nullable=False),
    Column("status", String(20), nullable=False, index=True),  # held, retried, discarded
)

snapshots = Table(
    "snapshots", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("log_seq", Integer, nullable=False),
    Column("ledger_seq", Integer, nullable=False),
    Column("ledger_head", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("config", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
)

#: one row per cell: who leads its engine, under which epoch, until when (a lease)
leaders = Table(
    "leaders", metadata,
    Column("cell", String(100), primary_key=True),
    Column("epoch", Integer, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("expires", Float, nullable=False),
    Column("since", Float, nullable=False),
    Column("commits", Integer, nullable=False, default=0),  # commits under this epoch
)

#: every Baton process of a cluster, with its role and its last sign of life
processes = Table(
    "processes", metadata,
    Column("id", String(200), primary_key=True),
    Column("role", String(20), nullable=False),  # serve, sequencer, worker
    Column("cell", String(100), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started", Float, nullable=False),
    Column("seen", Float, nullable=False),
    Column("state", String(40), nullable=False),  # leading, standby, serving, working
    Column("detail", Text, nullable=False, default=""),
)

#: events an API replica accepted (durably published to the bus), kept beside the bus
accepted = Table(
    "accepted", metadata,
    Column("key", String(200), primary_key=True),
    Column("cell", String(100), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("body", Text, nullable=False),
)
