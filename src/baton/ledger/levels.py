"""The ledger tree's subtree hashes kept in the database, so inclusion and consistency
proofs take O(log n) reads instead of hashing every row.

Every perfect subtree of 2**LOW leaves or more (aligned to its size) is stored as it
completes (`audit_nodes`), with the frontier at the size covered so far (`audit_tree`).
The hash of any range a proof asks for is a few such subtrees (merkle.aligned) plus at
most two blocks of fewer than 2**LOW rows read from the ledger. The stored hashes are a
cache, never trusted: every proof made from them is checked against a signed root
before it is handed out, and `baton audit verify` recomputes the tree from the rows.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from baton.ledger import merkle, tables
from baton.ledger.checkpoints import TamperedError, sql_engine
from baton.ledger.tree import leaf_bytes
from baton.store import schema as t
from baton.store.port import Store

#: subtrees of 2**LOW leaves and more are stored (1/128 of a node per leaf)
LOW = 8
#: ledger rows folded into the stored tree per transaction
CHUNK = 20_000


class Levels:
    """The stored subtree hashes of one store's ledger tree."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine: Engine = sql_engine(store)
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._leaves: dict[int, bytes] = {}  # by leaf index, read a block at a time

    def covered(self) -> merkle.Frontier:
        """The frontier at the size the stored hashes cover."""
        c = tables.tree.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.size, c.frontier).where(c.id == 1)).first()
        if row is None:
            return merkle.Frontier()
        return merkle.Frontier(int(row[0]), [bytes.fromhex(h) for h in json.loads(row[1])])

    def extend(self) -> merkle.Frontier:
        """Fold the ledger rows added since the last call into the stored hashes; the
        frontier of the whole ledger. TamperedError when the ledger holds fewer rows than
        the stored hashes cover."""
        frontier = self.covered()
        head, _ = self.store.ledger_head()
        if head < frontier.size:
            raise TamperedError(f"the ledger holds {head} rows but its stored tree covers "
                                f"{frontier.size}: rows {head + 1}..{frontier.size} were "
                                "removed")
        found: list[dict[str, object]] = []

        def keep(level: int, index: int, node: bytes) -> None:
            if level >= LOW:
                found.append({"level": level, "idx": index, "hash": node.hex()})

        while frontier.size < head:
            before = frontier.size
            found.clear()
            for rid, body in self._rows(before, min(head, before + CHUNK)):
                frontier.append(merkle.leaf_hash(leaf_bytes(rid, body)), on_node=keep)
            if frontier.size == before:
                break  # rows missing below the head: the audit reports them
            self._save(before, frontier, found)
        return frontier

    def _save(self, before: int, frontier: merkle.Frontier,
              found: list[dict[str, object]]) -> None:
        c = tables.tree.c
        state = {"size": frontier.size, "frontier": json.dumps([n.hex() for n in frontier.nodes])}
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self.engine.begin() as conn:
            if found:
                conn.execute(dialect.insert(tables.nodes).on_conflict_do_nothing(), found)
            if before == 0:
                conn.execute(dialect.insert(tables.tree).values(id=1, **state)
                             .on_conflict_do_nothing())
            conn.execute(update(tables.tree).where(c.id == 1, c.size == before).values(**state))

    def _rows(self, start: int, end: int) -> list[tuple[str, str]]:
        """(record id, body) of leaves [start, end), i.e. ledger rows start+1..end."""
        lc = t.ledger.c
        with self.engine.connect() as conn:
            return [(str(r[0]), str(r[1])) for r in conn.execute(
                select(lc.record_id, lc.body).where(lc.seq > start, lc.seq <= end)
                .order_by(lc.seq))]

    def _leaf(self, index: int) -> bytes:
        if index not in self._leaves:
            block = index >> LOW << LOW
            for i, (rid, body) in enumerate(self._rows(block, block + (1 << LOW))):
                self._leaves[block + i] = merkle.leaf_hash(leaf_bytes(rid, body))
        return self._leaves[index]

    def _stored(self, wanted: list[tuple[int, int]]) -> None:
        missing = [w for w in wanted if w not in self._nodes]
        if not missing:
            return
        c = tables.nodes.c
        with self.engine.connect() as conn:
            for level, idx, h in conn.execute(select(c.level, c.idx, c.hash).where(or_(
                    *(and_(c.level == lv, c.idx == ix) for lv, ix in missing)))):
                self._nodes[(int(level), int(idx))] = bytes.fromhex(h)

    def subroot(self, start: int, end: int) -> bytes:
        """The tree hash of leaves [start, end) (within what extend() covered)."""
        pieces = merkle.aligned(start, end)
        self._stored([p for p in pieces if p[0] >= LOW])
        hashes = []
        for level, idx in pieces:
            node = self._nodes.get((level, idx))
            if node is None:  # a small subtree (or one not stored): from its leaves
                first = idx << level
                node = merkle.root([self._leaf(i) for i in range(first, first + (1 << level))])
            hashes.append(node)
        r = hashes[-1]
        for node in reversed(hashes[:-1]):
            r = merkle.node_hash(node, r)
        return r

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """The inclusion proof of leaf `index` in the tree of `size` leaves."""
        self._ensure(size)
        return merkle.inclusion_path(index, size, self.subroot)

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof from the tree of `old` leaves to that of `new`."""
        self._ensure(new)
        return merkle.consistency_path(old, new, self.subroot)

    def _ensure(self, size: int) -> None:
        if self.covered().size < size:
            self.extend()
