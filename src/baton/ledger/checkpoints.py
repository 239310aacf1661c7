"""Signed checkpoints of the ledger's Merkle tree: taken, stored and pushed to witnesses."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, insert, select

from baton.errors import BatonError, InputError
from baton.ledger import signing, tables
from baton.store.port import Store

FORMAT = "baton-checkpoint/1"


class TamperedError(BatonError):
    """The ledger contradicts a signed checkpoint (truncated or rewritten)."""


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the ledger's tree had `size` leaves and this root at `time`."""

    size: int
    root: str  # hex SHA-256
    time: str  # ISO 8601
    key_id: str
    signature: str  # base64 Ed25519 signature of message()

    def message(self) -> bytes:
        """The bytes signed: format, size, root, time and key id, one per line."""
        return f"{FORMAT}\n{self.size}\n{self.root}\n{self.time}\n{self.key_id}\n".encode()

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint as its JSON object."""
        return {"format": FORMAT, **asdict(self)}

    def signed_by(self, public: Ed25519PublicKey) -> bool:
        """True when the signature is `public`'s and the key id names it."""
        try:
            sig = base64.b64decode(self.signature, validate=True)
        except ValueError:
            return False
        return (self.key_id == signing.key_id(public)
                and signing.signature_ok(public, sig, self.message()))

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Checkpoint:
        """A checkpoint from its JSON object; InputError naming the bad field."""
        if not isinstance(data, dict):
            raise InputError(f"{where}: a checkpoint is a JSON object")
        if data.get("format") != FORMAT:
            raise InputError(f"{where}: format must be {FORMAT!r}, got {data.get('format')!r}")
        kinds = {"size": int, "root": str, "time": str, "key_id": str, "signature": str}
        for name, kind in kinds.items():
            value = data.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise InputError(f"{where}: field {name!r} must be a {kind.__name__}, "
                                 f"got {value!r}")
        if data["size"] < 0 or len(data["root"]) != 64:
            raise InputError(f"{where}: size must be >= 0 and root 64 hex digits")
        return cls(**{k: data[k] for k in kinds})

    @classmethod
    def read(cls, path: Path) -> Checkpoint:
        """A checkpoint from a JSON file; InputError naming the file."""
        return cls.from_dict(read_json(path, "checkpoint"), str(path))


def read_json(path: Path, what: str) -> Any:
    """The JSON a file holds; InputError naming the file when it is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such {what} file") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not JSON ({exc})") from exc


def sign(key: Ed25519PrivateKey, size: int, root: bytes, at: datetime) -> Checkpoint:
    """A checkpoint of a tree, signed with `key`."""
    unsigned = Checkpoint(size, root.hex(), at.isoformat(), signing.key_id(key.public_key()), "")
    sig = key.sign(unsigned.message())
    return Checkpoint(size, root.hex(), unsigned.time, unsigned.key_id,
                      base64.b64encode(sig).decode())


def sql_engine(store: Store) -> Engine:
    """The SQL engine under a store, with the audit tables in place."""
    engine = getattr(store, "engine", None)
    if not isinstance(engine, Engine):
        raise InputError("audit checkpoints need a SQL store (SQLite or PostgreSQL)")
    tables.ensure(engine)
    return engine


def stored(store: Store) -> list[tuple[Checkpoint, list[bytes], str]]:
    """Stored checkpoints, oldest first, with their frontier and where they were pushed."""
    c = tables.checkpoints.c
    with sql_engine(store).connect() as conn:
        rows = conn.execute(select(c.size, c.root, c.time, c.key_id, c.signature, c.frontier,
                                   c.witnessed).order_by(c.id)).all()
    return [(Checkpoint(r[0], r[1], r[2], r[3], r[4]),
             [bytes.fromhex(h) for h in json.loads(r[5])], str(r[6])) for r in rows]


def take(store: Store, key: Ed25519PrivateKey, at: datetime, *,
         witness_dir: Path | None = None, witness_url: str | None = None) -> Checkpoint:
    """Sign the tree of the ledger as it stands, store the checkpoint and push it to the
    witnesses. Only the rows added since are read: the stored tree (ledger.levels) carries
    on, and keeps the subtree hashes proofs are made from.
    Refuses (TamperedError) when the ledger holds fewer rows than the last checkpoint."""
    from baton.ledger.levels import Levels

    engine = sql_engine(store)
    previous = stored(store)
    seq, _ = store.ledger_head()
    if previous and seq < previous[-1][0].size:
        covered = previous[-1][0].size
        raise TamperedError(f"the ledger holds {seq} rows but the checkpoint of "
                            f"{previous[-1][0].time} covers {covered}: rows "
                            f"{seq + 1}..{covered} were removed; no checkpoint signed")
    try:
        frontier = Levels(store).extend()  # the stored subtree hashes carry on
    except TamperedError as exc:
        raise TamperedError(f"{exc}; no checkpoint signed") from None
    cp = sign(key, frontier.size, frontier.root(), at)
    notes = push(cp, witness_dir=witness_dir, witness_url=witness_url)
    with engine.begin() as conn:
        conn.execute(insert(tables.checkpoints).values(
            size=cp.size, root=cp.root, time=cp.time, key_id=cp.key_id, signature=cp.signature,
            frontier=json.dumps([n.hex() for n in frontier.nodes]), witnessed="; ".join(notes)))
    return cp


def push(cp: Checkpoint, *, witness_dir: Path | None = None,
         witness_url: str | None = None) -> list[str]:
    """Hand a checkpoint to the witnesses (a folder, an HTTP endpoint); what happened at each.
    A witness that fails does not stop the checkpoint: its error is noted."""
    notes: list[str] = []
    text = json.dumps(cp.to_dict(), indent=2) + "\n"
    if witness_dir is not None:
        target = witness_dir / f"checkpoint-{cp.size:012d}-{cp.root[:12]}.json"
        try:
            witness_dir.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            notes.append(f"folder {target}")
        except OSError as exc:
            notes.append(f"folder {witness_dir} failed: {exc}")
    if witness_url:
        try:
            answer = httpx.post(witness_url, content=text,
                                headers={"content-type": "application/json"}, timeout=10.0)
            answer.raise_for_status()
            notes.append(f"http {witness_url} {answer.status_code}")
        except httpx.HTTPError as exc:
            notes.append(f"http {witness_url} failed: {exc}")
    return notes


def witnessed(folder: Path) -> list[tuple[Path, Checkpoint]]:
    """The checkpoints a witness folder holds, oldest tree first (unreadable files raise)."""
    found = [(p, Checkpoint.read(p)) for p in sorted(folder.glob("checkpoint-*.json"))]
    return sorted(found, key=lambda pc: pc[1].size)
