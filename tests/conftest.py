"""Shared fixtures: a starter configuration, stores on every backend, and helpers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from baton.config import Config, load_config
from baton.scaffold import scaffold
from baton.store import open_store
from baton.store.sql import SqlStore

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC
PG_ADMIN = os.environ.get("BATON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def starter_dir(tmp_path: Path) -> Path:
    """A fresh copy of the `baton init` configuration."""
    root = tmp_path / "cfg"
    scaffold(root)
    return root


@pytest.fixture
def starter(starter_dir: Path) -> Config:
    """The `baton init` configuration, loaded."""
    return load_config(starter_dir)


def _postgres_url() -> Iterator[str]:
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}")
    name = f"baton_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL on each backend; PostgreSQL skips locally when absent."""
    if request.param == "sqlite":
        yield str(tmp_path / "baton.db")
    else:
        yield from _postgres_url()


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """A fresh store on each backend."""
    s = open_store(store_url)
    yield s
    s.close()
