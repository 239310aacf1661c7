"""Verdicts, decisions and escalations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class VerdictKind(StrEnum):
    """What governance allows: act alone, ask a person, or never."""

    AUTONOMOUS = "autonomous"
    APPROVAL = "approval"
    DENIED = "denied"


class Verdict(BaseModel):
    """The governance verdict for one action, with the policies that determined it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: VerdictKind
    policy_ids: tuple[str, ...] = ()
    approver: str | None = None  # who may answer when kind is APPROVAL
    reason: str = ""
    capped_by: str | None = None  # autonomy level, kill switch, budget or "no-policy"


class Decision(BaseModel):
    """One row of the ledger: what was decided about a situation, by whom, and why."""

    model_config = ConfigDict(extra="forbid")

    id: str
    time: datetime
    event: str  # the idempotency key of the event that led here
    situation: str
    situation_kind: str
    entity: str
    domain: str
    decided_by: str  # an agent id, or a person id for human decisions
    chosen: str | None  # proposal id
    action: dict[str, Any] | None
    proposals: list[dict[str, Any]] = Field(default_factory=list)  # considered, with outcome
    verdict: Verdict | None
    mode: str = "autonomous"  # the autonomy level applied: observe/shadow/approve/autonomous
    outcome: str = ""  # executed, escalated, denied, shadowed, correlated, failed, ...
    rationale: str = ""
    context: dict[str, Any] = Field(default_factory=dict)  # the governance context used
    latency_s: float = 0.0  # virtual seconds from event time to decision time


class Escalation(BaseModel):
    """A human decision request: who may answer, by when, and what runs if approved."""

    model_config = ConfigDict(extra="forbid")

    id: str
    decision: str
    created: datetime
    deadline: datetime
    approver: str  # role or group that may answer
    candidates: list[str] = Field(default_factory=list)  # person ids eligible now
    action: dict[str, Any]
    domain: str
    situation: str
    status: str = "open"  # open, approved, rejected, expired, superseded
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    comment: str = ""
