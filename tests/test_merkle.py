"""The Merkle tree: RFC 9162 structure, inclusion and consistency proofs, tampering."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from baton.ledger import merkle


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH, written as its recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k])
                          + reference_root(leaves[k:])).digest()


def hashes(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


sizes = st.integers(min_value=1, max_value=70)


def test_leaf_and_node_hashes_carry_the_rfc_9162_domain_prefixes() -> None:
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.root([]) == hashlib.sha256(b"").digest()


@given(sizes)
def test_root_and_frontier_equal_the_recursive_definition(n: int) -> None:
    leaves = hashes(n)
    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert merkle.root(leaves) == reference_root(leaves) == frontier.root()
    again = merkle.Frontier(frontier.size, frontier.nodes)
    again.append(merkle.leaf_hash(b"next"))
    assert again.root() == reference_root([*leaves, merkle.leaf_hash(b"next")])


@given(sizes, st.data())
def test_every_leaf_has_an_inclusion_proof_that_verifies(n: int, data: st.DataObject) -> None:
    leaves = hashes(n)
    size = data.draw(st.integers(min_value=1, max_value=n))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    top = merkle.root(leaves, 0, size)
    path = merkle.inclusion_proof(leaves, index, size)
    assert merkle.verify_inclusion(leaves[index], index, size, path, top)


@given(sizes, st.data())
def test_an_inclusion_proof_fails_for_another_leaf_index_path_or_root(
        n: int, data: st.DataObject) -> None:
    leaves = hashes(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    top = merkle.root(leaves)
    path = merkle.inclusion_proof(leaves, index)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, n, path, top)
    assert not merkle.verify_inclusion(leaves[index], index, n, path,
                                       merkle.leaf_hash(b"other root"))
    if n > 1:
        other = (index + 1) % n
        assert not merkle.verify_inclusion(leaves[index], other, n, path, top)
        flip = data.draw(st.integers(min_value=0, max_value=len(path) - 1))
        bad = list(path)
        bad[flip] = bytes([bad[flip][0] ^ 1]) + bad[flip][1:]
        assert not merkle.verify_inclusion(leaves[index], index, n, bad, top)
        assert not merkle.verify_inclusion(leaves[index], index, n, path[:-1], top)
    assert not merkle.verify_inclusion(leaves[index], n, n, path, top)


@given(sizes, st.data())
def test_consistency_proofs_hold_between_any_two_sizes_of_a_growing_tree(
        n: int, data: st.DataObject) -> None:
    leaves = hashes(n)
    old = data.draw(st.integers(min_value=0, max_value=n))
    proof = merkle.consistency_proof(leaves, old, n)
    assert merkle.verify_consistency(old, n, merkle.root(leaves, 0, old), merkle.root(leaves),
                                     proof)


@given(st.integers(min_value=2, max_value=70), st.data())
def test_consistency_fails_after_a_rewrite_of_the_old_part(n: int, data: st.DataObject) -> None:
    leaves = hashes(n)
    old = data.draw(st.integers(min_value=1, max_value=n - 1))
    old_root = merkle.root(leaves, 0, old)
    changed = data.draw(st.integers(min_value=0, max_value=old - 1))
    rewritten = list(leaves)
    rewritten[changed] = merkle.leaf_hash(b"rewritten")
    proof = merkle.consistency_proof(rewritten, old, n)
    assert not merkle.verify_consistency(old, n, old_root, merkle.root(rewritten), proof)
    honest = merkle.consistency_proof(leaves, old, n)
    assert not merkle.verify_consistency(old, n, old_root, merkle.root(rewritten), honest)
    assert not merkle.verify_consistency(old, n, old_root, merkle.root(leaves), honest[:-1])
    assert not merkle.verify_consistency(n, old, merkle.root(leaves), old_root, honest)


@settings(max_examples=20)
@given(st.integers(min_value=1, max_value=40))
def test_a_checkpointed_tree_stays_consistent_as_it_grows_leaf_by_leaf(n: int) -> None:
    leaves: list[bytes] = []
    seen: list[tuple[int, bytes]] = []
    frontier = merkle.Frontier()
    for leaf in hashes(n):
        leaves.append(leaf)
        frontier.append(leaf)
        for size, old_root in seen:
            proof = merkle.consistency_proof(leaves, size)
            assert merkle.verify_consistency(size, len(leaves), old_root, frontier.root(), proof)
        seen.append((len(leaves), frontier.root()))


def test_a_frontier_of_the_wrong_shape_is_refused() -> None:
    try:
        merkle.Frontier(3, [b"x"])
    except ValueError as exc:
        assert "3 leaves has 2 nodes" in str(exc)
    else:
        raise AssertionError("accepted")
