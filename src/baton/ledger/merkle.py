"""A Merkle tree with the structure of RFC 9162 (Certificate Transparency v2), section 2.1.

Leaf hash: SHA-256(0x00 || leaf); interior node: SHA-256(0x01 || left || right); the left
subtree of a tree of n > 1 leaves holds the largest power of two below n. Inclusion and
consistency proofs are made and checked with the algorithms of sections 2.1.3 and 2.1.4.
Pure functions over leaf hashes; no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """The hash of one leaf: SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes], start: int = 0, end: int | None = None) -> bytes:
    """The tree hash of leaf hashes [start, end), level by level in linear time.

    Carrying a lone last node up unchanged gives the same tree as the recursive definition:
    every left subtree is a perfect tree of the largest power of two below the size.
    """
    end = len(leaves) if end is None else end
    if end <= start:
        return EMPTY_ROOT
    level = list(leaves[start:end])
    while len(level) > 1:
        pairs = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            pairs.append(level[-1])
        level = pairs
    return level[0]


#: the hash of leaves [start, end) of a tree, however it is found (from the leaves, or
#: from stored subtree hashes)
SubRoot = Callable[[int, int], bytes]


def inclusion_path(index: int, size: int, subroot: SubRoot) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `size` leaves (RFC 9162 PATH), asking
    `subroot` for the O(log n) subtree hashes it needs."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subroot(start + k, end))
            end = start + k
        else:
            path.append(subroot(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_path(old: int, new: int, subroot: SubRoot) -> list[bytes]:
    """The proof that the tree of `old` leaves is a prefix of the tree of `new` (RFC 9162
    PROOF), asking `subroot` for the subtree hashes; empty when old is 0 or equal to new."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new} leaves")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    start, end, whole = 0, new, True
    m = old
    while True:
        n = end - start
        if m == n:
            if not whole:
                proof.append(subroot(start, end))
            break
        k = _split(n)
        if m <= k:
            proof.append(subroot(start + k, end))
            end = start + k
        else:
            proof.append(subroot(start, start + k))
            start, m, whole = start + k, m - k, False
    proof.reverse()
    return proof


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """The audit path of leaf `index` in the tree of the first `size` leaves."""
    size = len(leaves) if size is None else size
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    return inclusion_path(index, size, lambda s, e: root(leaves, s, e))


def consistency_proof(leaves: Sequence[bytes], old: int, new: int | None = None) -> list[bytes]:
    """The consistency proof from the first `old` leaves to the first `new`."""
    new = len(leaves) if new is None else new
    if not 0 <= old <= new <= len(leaves):
        raise ValueError(f"no consistency proof from {old} to {new} leaves "
                         f"(the tree holds {len(leaves)})")
    return consistency_path(old, new, lambda s, e: root(leaves, s, e))


def aligned(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) as perfect subtrees aligned to their size, left to right: (level,
    index) with the subtree covering leaves [index << level, (index + 1) << level). The
    hash of the range is these folded right to left (each RFC 9162 subtree that is not
    perfect is its largest perfect left part and the rest)."""
    out: list[tuple[int, int]] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while (1 << level) > end - start:
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def verify_inclusion(leaf: bytes, index: int, size: int, path: Iterable[bytes],
                     expected_root: bytes) -> bool:
    """True when `path` proves leaf hash `leaf` at `index` in the tree (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """True when `proof` shows the tree of `old` leaves is a prefix of the tree of `new`
    (RFC 9162 2.1.4.2)."""
    if old < 0 or new < old:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # an exact power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class Frontier:
    """The compact range of a growing tree: the roots of its perfect subtrees, largest
    first (one per set bit of the size), so appending and the root take O(log n)."""

    def __init__(self, size: int = 0, nodes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.nodes = list(nodes)
        if len(self.nodes) != bin(size).count("1"):
            raise ValueError(f"a frontier of {size} leaves has {bin(size).count('1')} "
                             f"nodes, not {len(self.nodes)}")

    def append(self, leaf: bytes,
               on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        """Add one leaf hash; `on_node(level, index, hash)` hears of each perfect subtree
        it completes (level 0 is the leaf; index counts subtrees of that level)."""
        node = leaf
        size = self.size
        level = 0
        while size & 1:  # merge equal-sized perfect subtrees, right to left
            node = node_hash(self.nodes.pop(), node)
            size >>= 1
            level += 1
            if on_node is not None:
                on_node(level, self.size >> level, node)
        self.nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        """The tree hash of every leaf appended so far."""
        if not self.nodes:
            return EMPTY_ROOT
        r = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            r = node_hash(node, r)
        return r
