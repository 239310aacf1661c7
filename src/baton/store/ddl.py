"""Creating tables when several processes may start on one new database at once."""

from __future__ import annotations

import time

from sqlalchemy import Engine, MetaData
from sqlalchemy.exc import DBAPIError

#: passes over the tables before giving up
PASSES = 10


def create_tables(metadata: MetaData, engine: Engine) -> None:
    """CREATE the missing tables and indexes of `metadata`, tolerating another process
    doing the same.

    A process may create a table between this one's check and its CREATE (PostgreSQL then
    says the type name is taken); the next pass finds it and creates only what is still
    missing. The other may still be creating the rest, so each pass waits a little longer.
    """
    for attempt in range(PASSES):
        try:
            metadata.create_all(engine)
            for table in metadata.sorted_tables:  # indexes added since a table was made
                for index in table.indexes:
                    index.create(engine, checkfirst=True)
            return
        except DBAPIError:
            if attempt == PASSES - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
