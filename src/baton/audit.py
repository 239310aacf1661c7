"""Audit operations the CLI and the dashboard share: checkpoints, verification, proofs."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from baton.config import Audit, Config
from baton.errors import BatonError
from baton.ledger import audit, checkpoints, guard, proofs, signing
from baton.ledger.checkpoints import Checkpoint
from baton.ledger.watch import ProjectionWatch, Quiet
from baton.store.port import Store

if TYPE_CHECKING:
    from baton.engine.pipeline import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trust:
    """Where a database's signing key and witnesses are."""

    key_path: Path
    witness_dir: Path | None = None
    witness_url: str | None = None

    def key(self) -> Ed25519PrivateKey:
        """The signing key (created on first use)."""
        return signing.load_or_create(self.key_path)

    def witnesses(self) -> dict[str, Any]:
        """The witness arguments of checkpoints.take."""
        return {"witness_dir": self.witness_dir, "witness_url": self.witness_url}


def trust_for(db: str, config: Config | None = None,
              environ: Mapping[str, str] | None = None) -> Trust:
    """The signing key and witnesses of `db`: $BATON_SIGNING_KEY, else the configuration's
    `audit.signing_key`, else the default beside the database."""
    env = os.environ if environ is None else environ
    settings = config.settings.audit if config is not None else Audit()
    root = config.root if config is not None else Path.cwd()
    if env.get(signing.KEY_ENV) or not settings.signing_key:
        path = signing.key_path(db, env)
    else:
        path = (root / settings.signing_key).expanduser()
    folder = (root / settings.witness_dir) if settings.witness_dir else None
    return Trust(path, folder, settings.witness_url)


def _config(store: Store) -> Config | None:
    from baton.app import config_for

    try:
        return config_for(store, None)
    except BatonError:
        return None  # a database without a known configuration: defaults


def _trust(store: Store, db: str) -> Trust:
    return trust_for(db, _config(store))


def checkpoint(store: Store, db: str, out: Path | None = None) -> Checkpoint:
    """Sign a checkpoint now, store it, push it to the witnesses and write it to `out`."""
    trust = _trust(store, db)
    cp = checkpoints.take(store, trust.key(), datetime.now(UTC), **trust.witnesses())
    if out is not None:
        out.write_text(json.dumps(cp.to_dict(), indent=2) + "\n")
    return cp


def public_key(store: Store, db: str) -> str:
    """The PEM public key checkpoints of `db` are signed with."""
    return signing.public_pem(_trust(store, db).key().public_key())


def verify(store: Store, db: str, checkpoint_file: Path | None = None, *,
           replay: bool = True) -> audit.Report:
    """Verify everything (and consistency with `checkpoint_file`; with `replay`, the log's
    replay too, unless a live engine is processing); the run is recorded."""
    trust = _trust(store, db)
    extra = []
    if checkpoint_file is not None:
        extra.append((f"checkpoint file {checkpoint_file}", Checkpoint.read(checkpoint_file)))
    from baton.app import sql_engine
    from baton.cluster.leadership import Leadership

    config = _config(store)
    notes = []
    leadership = Leadership(sql_engine(store))
    held = False
    if config is None:
        notes.append("replay skipped: the database names no configuration")
    elif replay:
        # the replay needs a ledger nobody appends to meanwhile: hold the engine's lease
        held = leadership.try_take() is not None
        if held:
            leadership.keep()  # a long replay outlasts one lease
        else:
            notes.append("replay skipped: another process is processing this database")
    try:
        from baton.governance.versions import set_in_force

        report = audit.verify(store, trust.key().public_key(), extra=extra,
                              witness_dir=trust.witness_dir,
                              policies=set_in_force(store, config.policies) if config else None,
                              replay=(lambda: replay_problem(store, config))
                              if held and config else None)
    finally:
        if held:
            leadership.release()
    report.notes += notes
    audit.record_run(store, report, datetime.now(UTC))
    return report


def replay_problem(store: Store, config: Config) -> str:
    """Why replaying the processed log does not give the stored ledger ('' when it does);
    acts on nothing."""
    from baton.connectors import build_connectors
    from baton.engine.pipeline import Engine

    connectors = build_connectors(config, seed=config.settings.seed, store=store)
    engine = Engine(config, store=store, connectors=connectors,
                    live=store.setting("clock") != "virtual", snapshot_every=None)
    try:
        engine.recover(resume=False)
    except guard.LedgerHeldError as held:
        return held.problem
    return ""


def prove(store: Store, db: str, record_id: str, out: Path) -> dict[str, Any]:
    """Write the proof bundle of one ledger record to `out`; the bundle."""
    trust = _trust(store, db)
    bundle = proofs.prove(store, trust.key(), record_id, datetime.now(UTC), **trust.witnesses())
    out.write_text(json.dumps(bundle, indent=2) + "\n")
    return bundle


def check_proof(bundle: Path, key: Path) -> str:
    """Why a proof bundle file fails with this public key file ('' when it holds)."""
    return proofs.check_file(bundle, signing.load_public(key))


def consistency(store: Store, old: Path, new: Path, out: Path) -> dict[str, Any]:
    """Write the consistency bundle of two checkpoint files to `out`; the bundle.
    TamperedError when this ledger is not the history both were signed over."""
    from baton.ledger import consistency as cons

    bundle = cons.prove(store, Checkpoint.read(old), Checkpoint.read(new))
    out.write_text(json.dumps(bundle, indent=2) + "\n")
    return bundle


def check_consistency(bundle: Path, key: Path, *, old: Path | None = None,
                      new: Path | None = None) -> str:
    """Why a consistency bundle file fails with this public key file ('' when it holds)."""
    from baton.ledger import consistency as cons

    return cons.check_file(bundle, signing.load_public(key), old=old, new=new)


def acknowledge(db: str, *, by: str, comment: str) -> str:
    """Record an operator's acknowledgement of the mismatch that holds processing; its id."""
    from baton.app import config_for, open_engine

    try:
        open_engine(db)
    except guard.LedgerHeldError as held:
        from baton.store import open_store

        store = open_store(db, create=False)
        config = config_for(store, None)
        if by not in config.org.person:
            from baton.errors import InputError

            raise InputError(f"--by {by!r} is not a person of the organisation") from None
        from baton.ledger.policyset import PolicySet

        return guard.acknowledge(store, held, by=by, comment=comment, at=datetime.now(UTC),
                                 policies=PolicySet.of(config.policies).hash)
    from baton.errors import ConflictError

    raise ConflictError("nothing to acknowledge: the stored ledger is what replaying the log "
                        "gives")


class Checkpointer:
    """Signs a checkpoint every `audit.checkpoint_minutes` while the ledger grows (live
    runs call `maybe` from their loop); a failure is logged, never raised."""

    def __init__(self, store: Store, config: Config, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        minutes = config.settings.audit.checkpoint_minutes
        self.every_s = None if minutes is None else minutes * 60.0
        self.store = store
        self.trust = trust_for(store.url, config)
        self.monotonic = monotonic
        self.last = monotonic()
        self.size = -1  # unknown until the first look
        self.problem = ""

    def maybe(self, now: datetime) -> Checkpoint | None:
        """Take a checkpoint when one is due and the ledger grew since the last."""
        if self.every_s is None or self.monotonic() - self.last < self.every_s:
            return None
        self.last = self.monotonic()
        try:
            if self.size < 0:
                self.size = max((cp.size for cp, _, _ in checkpoints.stored(self.store)),
                                default=0)
            if self.store.ledger_head()[0] <= self.size:
                return None
            cp = checkpoints.take(self.store, self.trust.key(), now, **self.trust.witnesses())
        except BatonError as exc:
            if str(exc) != self.problem:
                log.error("no checkpoint signed: %s", exc)
            self.problem = str(exc)
            return None
        self.size, self.problem = cp.size, ""
        return cp


class LiveAudit:
    """What a live run does for the audit beside processing: it signs checkpoints and
    checks every projection (holding processing on a contradiction). `quiet` runs a
    function while the engine appends nothing (a lock, or the loop's own thread)."""

    def __init__(self, engine: Engine, quiet: Quiet[None]) -> None:
        self.checkpointer = Checkpointer(engine.store, engine.config)
        self.watch = ProjectionWatch(engine)
        self.quiet = quiet
        self.watch.start()

    def maybe(self, now: datetime) -> None:
        """From the live loop: a checkpoint and a projection check when they are due."""
        self.checkpointer.maybe(now)
        self.watch.maybe(now, self.quiet)
