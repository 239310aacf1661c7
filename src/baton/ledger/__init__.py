"""The decision ledger: hash-chained records and their verification."""
